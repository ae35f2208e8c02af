#!/usr/bin/env bash
# Run the protocol and CLI test binaries, built for windows/amd64, under Wine
# (issue 13 item 4): OSFS's Windows primitives (NtCreateFile relative to a
# directory handle, SetFileTime and removal by handle, listings by handle),
# the real-process counter tests (the test binary re-executes itself as
# Windows processes) and the CLI.
#
# Installs Debian's wine64 (and binutils-mingw-w64-x86-64) when missing.
# Debian 12's Wine 8.0 lacks two things Go 1.22+ needs, which this script
# supplies without touching the code under test:
#  - bcryptprimitives.dll (ProcessPrng, which the Go runtime loads at start):
#    a 5 KB stub DLL assembled here that calls advapi32's RtlGenRandom;
#  - FileDispositionInformationEx, which the os package's RemoveAll uses
#    (so t.TempDir's cleanup fails): the test binaries are built with
#    -tags wine, whose wine_windows_test.go files turn on the os package's
#    own fallback for older Windows (-ldflags=-checklinkname=0 lets them).
# Wine 8 also makes host symbolic links transparent and has no reparse
# points: the tests of symbolic-link refusal skip themselves there, saying so.
#
# WINE_SKIP lists the tests not run under Wine, each with its reason:
#   TestHeartbeatKeepsHolderAlive: a 100 ms lease, whose heartbeat (every
#     40-50 ms) Wine's timers do not keep (a 30 ms sleep takes 70-130 ms
#     there); a pass/fail timed test, which issue 13 item 3 replaces.
#   TestGoroutinesExclude (60 s under Wine), TestFencingTokensProcesses
#     (80 s): time; the Windows primitives under contention are exercised by
#     the counter test with real processes (TestProcessesExclude), fencing
#     with real processes by TestFencingSurvivesKills.
# The two binaries run side by side.
# Prints "wine: N passed, N failed, N skipped" per binary and in all; exits
# non-zero if any test failed or a binary did not finish.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

WINE_SKIP='^(TestHeartbeatKeepsHolderAlive|TestGoroutinesExclude|TestFencingTokensProcesses)$'

wine=""
for w in wine64 /usr/lib/wine/wine64 wine; do
  if command -v "$w" >/dev/null 2>&1; then wine=$(command -v "$w"); break; fi
done
if [ -z "$wine" ] || ! command -v x86_64-w64-mingw32-as >/dev/null 2>&1; then
  echo "wine64 or the mingw-w64 binutils not found: installing the Debian packages wine64 binutils-mingw-w64-x86-64"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wine64 binutils-mingw-w64-x86-64 >/dev/null
  for w in wine64 /usr/lib/wine/wine64 wine; do
    if command -v "$w" >/dev/null 2>&1; then wine=$(command -v "$w"); break; fi
  done
fi
[ -n "$wine" ] || { echo "check-wine: no wine64 after installing it" >&2; exit 1; }
wineserver=$(dirname "$wine")/wineserver
[ -x "$wineserver" ] || wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver)

# A prefix of our own (kept between runs: Wine's first start makes it, which
# is the slow part), so that ending its wineserver ends only our processes.
export WINEPREFIX="${CRYOLOCK_WINEPREFIX:-$HOME/.cache/cryolock-wine}"
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
work=$(mktemp -d)
cleanup() { "$wineserver" -k >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

sys32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -d "$sys32" ]; then
  echo "creating the Wine prefix $WINEPREFIX"
  t0=$SECONDS
  "$wine" wineboot -i >/dev/null 2>&1 || true
  "$wineserver" -w || true
  echo "prefix made in $((SECONDS - t0)) s"
fi
[ -d "$sys32" ] || { echo "check-wine: wineboot did not make $sys32" >&2; exit 1; }
if [ ! -f "$sys32/bcryptprimitives.dll" ]; then
  # BOOL ProcessPrng(PBYTE, SIZE_T) = RtlGenRandom (advapi32!SystemFunction036).
  cat >"$work/prng.s" <<'EOF'
	.text
	.globl	ProcessPrng
ProcessPrng:
	subq	$40, %rsp
	call	*__imp_SystemFunction036(%rip)
	addq	$40, %rsp
	movl	$1, %eax
	ret
	.globl	DllMain
DllMain:
	movl	$1, %eax
	ret
EOF
  printf 'LIBRARY advapi32.dll\nEXPORTS\nSystemFunction036\n' >"$work/advapi32.def"
  printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng\n' >"$work/prng.def"
  x86_64-w64-mingw32-dlltool -d "$work/advapi32.def" -l "$work/libadvapi32.a"
  x86_64-w64-mingw32-as -o "$work/prng.o" "$work/prng.s"
  x86_64-w64-mingw32-ld --shared --enable-reloc-section -e DllMain -o "$sys32/bcryptprimitives.dll" \
    "$work/prng.o" "$work/prng.def" "$work/libadvapi32.a"
  echo "installed a ProcessPrng stub as $sys32/bcryptprimitives.dll"
fi

pkgs=(./protocol ./cmd/cryolock)
for p in "${pkgs[@]}"; do
  GOOS=windows GOARCH=amd64 go test -c -tags wine -ldflags=-checklinkname=0 -o "$work/$(basename "$p").test.exe" "$p"
done
echo "built ${#pkgs[@]} test binaries for windows/amd64 in $((SECONDS - start)) s"

# -test.short: the counter tests with real processes run with fewer
# acquisitions each (Wine starts a process in about 0.3 s).
t0=$SECONDS
pids=()
for p in "${pkgs[@]}"; do
  name=$(basename "$p")
  (
    rc=0
    # In the package's directory, as go test runs a test binary (tests
    # read ../../README.md and testdata/).
    cd "$p" && timeout 900 "$wine" "$work/$name.test.exe" -test.short -test.v -test.count=1 \
      -test.timeout=840s -test.skip="$WINE_SKIP" >"$work/$name.log" 2>&1 || rc=$?
    echo "$rc" >"$work/$name.rc"
  ) &
  pids+=($!)
done
wait "${pids[@]}" || true
echo "ran under wine in $((SECONDS - t0)) s"

total_pass=0 total_fail=0 total_skip=0 bad=0
for p in "${pkgs[@]}"; do
  name=$(basename "$p")
  log="$work/$name.log"
  rc=$(cat "$work/$name.rc" 2>/dev/null || echo 1)
  pass=$(grep -cE '^ *--- PASS' "$log" || true)
  fail=$(grep -cE '^ *--- FAIL' "$log" || true)
  skip=$(grep -cE '^ *--- SKIP' "$log" || true)
  echo "wine: $name: $pass passed, $fail failed, $skip skipped (subtests included), exit $rc"
  # Each skip with its reason (logged just before "--- SKIP").
  grep -E -B1 '^ *--- SKIP' "$log" | grep -vE '^(--$|=== )' | sed -E 's/^ +//; s/^/    /' || true
  if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ] || ! grep -qE '^PASS$' "$log"; then
    bad=1
    echo "---- $name under wine: failures"
    grep -E -B2 -A20 '^ *--- FAIL|^panic|^fatal error|timed out' "$log" | head -150 || tail -50 "$log"
  fi
  total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail)) total_skip=$((total_skip + skip))
done
echo "check-wine: done in $((SECONDS - start)) s"
echo "wine: $total_pass passed, $total_fail failed, $total_skip skipped"
exit $bad
