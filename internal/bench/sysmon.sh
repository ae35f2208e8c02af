#!/usr/bin/env bash
# How much of the contended CPU per acquisition is the Go runtime's sysmon
# thread, polling while a waiter sits in a blocking system call.
#
# While a goroutine is in a system call holding its P (cryolock's waiters
# block in flock(2) at the host's gate; gofrs/flock's in flock(2) on the
# file), sysmon wakes every 20 µs for the call's first millisecond, then
# doubling, until it takes the P away after 10 ms: about 60 wake-ups per
# wait. cryolock hands every acquisition to the longest waiter, so every
# acquisition ends one such wait; flock's releaser usually takes the lock
# again, and its waiters wait rarely and long. This script builds the bench
# twice, with the stock runtime and with a copy of it whose sysmon doubles
# its sleep from the first idle tick (one line of runtime/proc.go), and runs
# the contended comparison with each, alternately. It changes nothing
# outside a temporary directory; it is an experiment, not a build option.
#
#   bash internal/bench/sysmon.sh            # N = 4 and 64, 3 s runs, twice
#   ROUNDS=3 NS=2,4,8 bash internal/bench/sysmon.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-2}
ns=${NS:-4,64}
goroot=$(go env GOROOT)
tmp=$(mktemp -d /tmp/cryolock-sysmon.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
cp -a "$goroot" "$tmp/go"
proc="$tmp/go/src/runtime/proc.go"
old='} else if idle > 50 { // start doubling the sleep after 1ms...'
grep -qF "$old" "$proc" || { echo "sysmon.sh: runtime/proc.go of $(go version) has no line '$old'" >&2; exit 1; }
sed -i "s|$(printf '%s' "$old" | sed 's/[][\.*^$|/]/\\&/g')|} else if idle > 0 { // patched: doubling from the first idle tick|" "$proc"
grep -q 'patched: doubling from the first idle tick' "$proc" || { echo "sysmon.sh: the patch did not apply" >&2; exit 1; }
go build -o "$tmp/bench-stock" ./internal/bench
GOROOT="$tmp/go" "$tmp/go/bin/go" build -o "$tmp/bench-patched" ./internal/bench
for r in $(seq "$rounds"); do
	for v in stock patched; do
		echo "== round $r: $v runtime"
		"$tmp/bench-$v" -only contended -n "$ns" -kinds cryolock,gofrs-flock | grep -E '^\| [0-9]+ \|'
	done
done
