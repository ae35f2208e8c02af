#!/usr/bin/env bash
# The simulator's fixed seeded batch inside the fault model (sim.Config.InModel)
# must reach every dangerous situation its coverage counters name — holds told
# they lost, reaps of live entries, ticket ties, failed stamps, hung calls,
# TryLock wins, wall-clock steps — with no violation; and the exhaustive
# scopes for the reader-writer lock, the semaphore and reaping must pass.
# A simulator that silently stopped producing one of these would let a whole
# class of protocol bugs hide (issue 10, item 7).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
go test -count=1 -v -run '^(TestCoverage|TestInModel|TestExhaustiveKindsAndReaping|TestTellAndReapHappen)$' ./sim/ >"$out" 2>&1 || status=$?
grep -E '^(---|ok|FAIL|PASS)|schedules|never happened' "$out" || true
if [ "$status" -ne 0 ]; then
  cat "$out"; echo "sim coverage check failed"; exit 1
fi
echo "sim coverage: every counter non-zero inside the fault model"
