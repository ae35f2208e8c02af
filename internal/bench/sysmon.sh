#!/usr/bin/env bash
# How much of the contended CPU per acquisition is the Go runtime's sysmon
# thread, polling while a goroutine sits in a system call.
#
# While a goroutine is in an ordinary system call it holds its P, and
# sysmon wakes every 20 µs for the call's first millisecond, then doubling,
# until it takes the P away after 10 ms: about 60 wake-ups per blocking
# wait. cryolock hands every acquisition to the longest waiter, so every
# acquisition ends a waiter's wait at the host's gate (a flock(2)); flock's
# releaser usually takes the lock again, and its waiters wait rarely. Since
# 2026-11-30 the gate's waiter hands its P off as it blocks
# (runtime.entersyscallblock: protocol/gate_flock_linux.go), so sysmon no
# longer polls through those waits; the build tag cryolock_nolinkname puts
# the plain flock back.
#
# This script builds the bench three ways and runs the contended comparison
# with each, alternately:
#
#   default   this tree as built for users;
#   plain     -tags cryolock_nolinkname: the gate's flock an ordinary system
#             call (cryolock as it was before);
#   patched   this tree against a copy of the Go runtime whose sysmon
#             doubles its sleep from the first idle tick (one line of
#             runtime/proc.go): what is left of sysmon's cost, for both kinds.
#
# It changes nothing outside a temporary directory; the patched runtime is
# an experiment, not a build option.
#
#   bash internal/bench/sysmon.sh            # N = 4 and 64, 3 s runs, twice
#   ROUNDS=3 NS=2,4,8 VARIANTS="default plain" bash internal/bench/sysmon.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-2}
ns=${NS:-4,64}
variants=${VARIANTS:-default plain patched}
tmp=$(mktemp -d /tmp/cryolock-sysmon.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
for v in $variants; do
	case $v in
	default) go build -o "$tmp/bench-default" ./internal/bench ;;
	plain) go build -tags cryolock_nolinkname -o "$tmp/bench-plain" ./internal/bench ;;
	patched)
		goroot=$(go env GOROOT)
		cp -a "$goroot" "$tmp/go"
		proc="$tmp/go/src/runtime/proc.go"
		old='} else if idle > 50 { // start doubling the sleep after 1ms...'
		grep -qF "$old" "$proc" || { echo "sysmon.sh: runtime/proc.go of $(go version) has no line '$old'" >&2; exit 1; }
		sed -i "s|$(printf '%s' "$old" | sed 's/[][\.*^$|/]/\\&/g')|} else if idle > 0 { // patched: doubling from the first idle tick|" "$proc"
		grep -q 'patched: doubling from the first idle tick' "$proc" || { echo "sysmon.sh: the patch did not apply" >&2; exit 1; }
		GOROOT="$tmp/go" "$tmp/go/bin/go" build -o "$tmp/bench-patched" ./internal/bench
		;;
	*) echo "sysmon.sh: unknown variant $v (default, plain, patched)" >&2; exit 2 ;;
	esac
done
for r in $(seq "$rounds"); do
	for v in $variants; do
		echo "== round $r: $v"
		"$tmp/bench-$v" -only contended -n "$ns" -kinds cryolock,gofrs-flock | grep -E '^\| [0-9]+ \|'
	done
done
