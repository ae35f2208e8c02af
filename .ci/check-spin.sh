#!/usr/bin/env bash
# Model-check the protocol with SPIN (docs/model/, docs/PROOF.md "The SPIN models"):
#  - rules v1 (cryolock_v1.pml), with and without the look phase: exhaustive, must report no error;
#  - cryolock 1.x rules (cryolock_legacy.pml): must still produce its counterexample
#    (an assertion violation of mutual exclusion); if it stops doing so, the model no longer
#    shows the defect it documents, and this check fails.
# Installs the Debian package spin when it is missing. Takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=.ci/lib.sh
source .ci/lib.sh
need_pkg spin spin
command -v gcc >/dev/null 2>&1 || { echo "check-spin: gcc is required" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp docs/model/*.pml "$work/"

# verify NAME SPINFLAGS -> prints pan's summary, leaves it in $work/NAME.out
verify() {
  local name=$1 flags=$2 dir="$work/$1"
  mkdir -p "$dir"
  cp "$work/$name.pml" "$dir/"
  (
    cd "$dir"
    # shellcheck disable=SC2086
    spin $flags -a "$name.pml" >/dev/null
    gcc -O2 -w -DSAFETY -o pan pan.c
    ./pan -m1000000 >pan.out 2>&1 || true
  )
  cp "$dir/pan.out" "$work/$name$flags.out"
  local errors states depth
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$dir/pan.out" | head -1)
  states=$(sed -n 's/^ *\([0-9e.+]*\) states, stored.*/\1/p' "$dir/pan.out" | head -1)
  depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$dir/pan.out" | head -1)
  echo "$name ${flags:-(default)}: errors=${errors:-?} states=${states:-?} depth=${depth:-?} $(grep -m1 'elapsed time' "$dir/pan.out" | sed 's/pan: //')"
  if grep -q "max search depth too small" "$dir/pan.out"; then
    echo "check-spin: $name: search depth bound hit, the search was not exhaustive" >&2
    cat "$dir/pan.out" >&2
    return 2
  fi
  [ -n "$errors" ] || { cat "$dir/pan.out" >&2; return 2; }
  return "$errors"
}

status=0
for flags in "" "-DLOOK"; do
  if ! verify cryolock_v1 "$flags"; then
    echo "check-spin: FAIL: SPIN reports an error for rules v1 ($flags):" >&2
    cat "$work/cryolock_v1$flags.out" >&2
    (cd "$work/cryolock_v1" && [ -e cryolock_v1.pml.trail ] && spin -t -p -g cryolock_v1.pml | tail -60) >&2 || true
    status=1
  fi
done

if verify cryolock_legacy ""; then
  echo "check-spin: FAIL: the cryolock 1.x model no longer produces its counterexample" >&2
  status=1
elif ! grep -q "assertion violated" "$work/cryolock_legacy.out"; then
  echo "check-spin: FAIL: the cryolock 1.x model failed, but not with the mutual-exclusion assertion:" >&2
  cat "$work/cryolock_legacy.out" >&2
  status=1
else
  echo "cryolock_legacy: counterexample found, as expected ($(grep -m1 'assertion violated' "$work/cryolock_legacy.out" | sed 's/ (at depth.*//'))"
fi
exit "$status"
