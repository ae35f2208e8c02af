#!/usr/bin/env bash
# Cross-compiles the module for every port Go supports (`go tool dist list`),
# minus the exotic ones named below, and builds and vets the main ones (vet
# type-checks the tests too, so the test files must compile there):
#
#   compile ./...    on every port below: `go list -export` compiles every
#                    package as `go build` does (cached), without linking the
#                    commands, which is most of a warm `go build ./...`;
#   go build ./...   and go vet ./... on the main ports: linux, darwin,
#                    windows, freebsd (amd64), wasip1/wasm, and the 32-bit
#                    linux/386 and linux/arm;
#   go test -c       of ./protocol on js/wasm (its tests must compile
#                    wherever the library does);
#   -tags cryolock_nolinkname
#                    on the main linux ports, build and vet again with the
#                    tag that replaces the gate's runtime hook by a plain
#                    flock (protocol/gate_flock_linux.go), and on linux/amd64
#                    run the gate's tests with it.
#
# Left out, and why:
#   android/*, ios/*  an executable needs cgo and the NDK or Xcode to link
#                     (mobile targets: no one runs the CLI there). The code
#                     compiled there is the linux and darwin code, which
#                     android (build tag linux) and ios (tag darwin) select.
#   plan9/*           no errno values in syscall: the simulator (sim) and the
#                     CLI that embeds it do not build. Unsupported; the
#                     library packages alone (protocol, stale, nonce, fsprobe)
#                     are compiled for plan9/amd64.
#   Everything else is kept, first-class or not: the BSDs, solaris, illumos,
#   aix and the 64-bit Linux ports (s390x, ppc64le, riscv64, loong64, mips64)
#   are where shared network filesystems live, and compiling is cheap.
#
# Ports are checked CHECK_PORTS_JOBS at a time (default 2). Prints a summary
# and fails if any port failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
jobs=${CHECK_PORTS_JOBS:-2}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
t0=$SECONDS

main_ports="linux/amd64 darwin/amd64 windows/amd64 freebsd/amd64 wasip1/wasm linux/386 linux/arm"
testc_ports="js/wasm"
lib_pkgs="./protocol/... ./stale/... ./nonce/... ./fsprobe/..."

# check PORT: everything this script does for one port; output in its log.
check() {
  local port=$1
  local log="$logs/${port//\//_}.log" rc=0
  export GOOS=${port%/*} GOARCH=${port#*/}
  {
    local pkgs=./...
    [ "$GOOS" != plan9 ] || pkgs=$lib_pkgs
    # shellcheck disable=SC2086
    go list -export $pkgs >/dev/null || rc=1
    if [[ " $main_ports " == *" $port "* ]]; then
      go build ./... || rc=1
      go vet ./... || rc=1
      if [ "$GOOS" = linux ]; then
        go build -tags cryolock_nolinkname ./... || rc=1
        go vet -tags cryolock_nolinkname ./protocol/... || rc=1
      fi
      if [ "$port" = linux/amd64 ]; then
        go test -count=1 -tags cryolock_nolinkname -run 'TestGate|TestHolderKeepsGate' ./protocol || rc=1
      fi
    fi
    if [[ " $testc_ports " == *" $port "* ]]; then
      go test -c -o /dev/null ./protocol || rc=1
    fi
  } >"$log" 2>&1
  [ $rc -eq 0 ] || mv "$log" "$log.failed"
}

ports=()
while read -r p; do
  case $p in
  android/* | ios/*) continue ;;
  plan9/*) [ "$p" = plan9/amd64 ] || continue ;;
  esac
  ports+=("$p")
done < <(go tool dist list)

running=0
for p in "${ports[@]}"; do
  check "$p" &
  running=$((running + 1))
  if [ $running -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=0
for f in "$logs"/*.failed; do
  [ -e "$f" ] || continue
  failed=$((failed + 1))
  echo "FAILED: $(basename "${f%.log.failed}" | tr _ /)"
  sed 's/^/  /' "$f" | head -40
done
echo "ports: ${#ports[@]} compiled; built and vetted: ${main_ports// /, }; $failed failed; $((SECONDS - t0)) s"
[ $failed -eq 0 ]
