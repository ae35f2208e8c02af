#!/usr/bin/env bash
# Model-check the timed model of Lemma R with SPIN (docs/model/cryolock_timed.pml,
# docs/model/README.md): with the fault model's margin (rho = 1/16, DA = DB = 2 ticks of
# L/40, i.e. 2D + 2 rho L <= L/4) and at the exact margin's edge (DA + DB = 5) it must
# verify exhaustively; with the margin violated (the told delay too long, drift too large,
# Invariant M or the watchdog dropped) it must find the mutual-exclusion counterexample.
# Installs the Debian package spin when it is missing. About a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=.ci/lib.sh
source .ci/lib.sh
need_pkg spin spin
command -v gcc >/dev/null 2>&1 || { echo "check-timed-model: gcc is required" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run NAME FLAGS: verify with the given -D flags; sets $errors, prints a summary line.
run() {
  local name=$1 flags=$2 dir="$work/$1"
  mkdir -p "$dir"
  cp docs/model/cryolock_timed.pml "$dir/"
  (
    cd "$dir"
    # shellcheck disable=SC2086
    spin $flags -a cryolock_timed.pml >/dev/null
    gcc -O2 -w -DSAFETY -o pan pan.c
    ./pan -m400000 >pan.out 2>&1 || true
  )
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$dir/pan.out" | head -1)
  local states elapsed
  states=$(sed -n 's/^ *\([0-9e.+]*\) states, stored.*/\1/p' "$dir/pan.out" | head -1)
  elapsed=$(sed -n 's/^pan: elapsed time \(.*\)/\1/p' "$dir/pan.out" | head -1)
  echo "timed model $name ($flags): errors=${errors:-?} states=${states:-?} time=${elapsed:-?}"
  if grep -q "max search depth too small" "$dir/pan.out"; then
    echo "check-timed-model: $name: search depth bound hit, the search was not exhaustive" >&2
    errors=depth
  fi
  [ -n "$errors" ] || { cat "$dir/pan.out" >&2; errors=unknown; }
}

status=0
expect_safe() {
  run "$1" "$2"
  if [ "$errors" != 0 ]; then
    echo "check-timed-model: FAIL: $1 should verify:" >&2
    cat "$work/$1/pan.out" >&2
    (cd "$work/$1" && [ -e cryolock_timed.pml.trail ] && spin $2 -t -p -g cryolock_timed.pml | tail -40) >&2 || true
    status=1
  fi
}
expect_violation() {
  run "$1" "$2"
  if [ "$errors" = 0 ] || ! grep -q "assertion violated" "$work/$1/pan.out"; then
    echo "check-timed-model: FAIL: $1 should violate mutual exclusion (the model lost its teeth)" >&2
    status=1
  fi
}

expect_safe      in-margin            "-DK=1 -DDA=2 -DDB=2"
expect_safe      exact-margin-edge    "-DK=1 -DDA=3 -DDB=2"
expect_violation told-delay-too-long  "-DK=1 -DDA=2 -DDB=4"
expect_violation without-told-delay   "-DK=1 -DDA=5 -DDB=5"
expect_violation drift-too-large      "-DK=4 -DDA=2 -DDB=2"
expect_violation no-invariant-m       "-DK=1 -DDA=2 -DDB=2 -DNO_M"
expect_violation no-watchdog          "-DK=1 -DDA=2 -DDB=2 -DNO_WATCHDOG"
exit "$status"
