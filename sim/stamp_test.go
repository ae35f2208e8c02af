package sim

import (
	"context"
	"testing"
	"time"
)

// stampConfig is the shrunk configuration of the failed-stamp bug: no drift,
// no latency, no pauses, no crashes; 2 s mtimes, file-server clock offsets of
// up to 5 s, and a set-times primitive that fails 30% of the time. Before the
// fix an entry whose stamp failed kept the server's creation mtime, its first
// refresh could write the very same 2 s mtime, observers saw no heartbeat
// while the holder's LastOK moved on, and the entry was reaped under a live
// holder (seed 119 for the mutex, 1252 and 939 for the RW lock and the
// semaphore with 5% errors on every primitive and 10% drift).
func stampConfig(kind LockKind) Config {
	c := Config{Rules: RulesV1, Procs: 3, Kind: kind, LongHold: 0.6}
	c.Faults = Faults{
		MtimeGranularity: 2 * time.Second,
		ClockOffset:      5 * time.Second,
		ErrorRate:        0.3,
		ErrorOps:         OpChtimes,
	}
	return c.WithDefaults()
}

// TestFailedStampOrUnchangedMtime checks Lemma R's premise by construction: a
// failed stamp fails the entry, and a refresh that leaves the observed mtime
// unchanged does not count. Each case failed before the fix.
func TestFailedStampOrUnchangedMtime(t *testing.T) {
	for _, tc := range []struct {
		kind  LockKind
		seed  uint64
		drift float64
		rate  float64
		ops   Ops
	}{
		{KindMutexLock, 119, 0, 0.3, OpChtimes},
		{KindRWLock, 1252, 0.1, 0.05, AllOps},
		{KindSemaphore, 939, 0.1, 0.05, AllOps},
	} {
		c := stampConfig(tc.kind)
		c.Faults.ClockDrift, c.Faults.ErrorRate, c.Faults.ErrorOps = tc.drift, tc.rate, tc.ops
		if r := Run(c, tc.seed); len(r.Violations) > 0 {
			t.Errorf("%s seed %d: %v", tc.kind, tc.seed, r.Violations[0])
		}
	}
	// And a batch around them.
	if testing.Short() {
		return
	}
	c := stampConfig(KindMutexLock)
	res := Explore(context.Background(), c, ExploreOptions{Schedules: 2000})
	if len(res.Failures) > 0 {
		t.Fatalf("failed-stamp configuration: %d of %d schedules violate, first %v", len(res.Failures), res.Schedules, res.Failures[0])
	}
}

// TestCoarseMtimesCostOnlyLiveness: under the Observed rule, mtimes coarser
// than the lease no longer break exclusion: no refresh changes the mtime, so
// no refresh counts, and every holder is told it lost the lock at 0.75 × lease,
// before anyone may judge its entry stale. (Before Lemma R's premise was
// enforced, this configuration violated mutual exclusion; see the A6 row for
// the wall-clock rule, where it still does.)
func TestCoarseMtimesCostOnlyLiveness(t *testing.T) {
	c := Default(RulesV1)
	c.Faults.MtimeGranularity = 2 * c.Lease
	res := Explore(context.Background(), c, ExploreOptions{Schedules: 2000})
	for _, f := range res.Failures {
		for _, v := range f.Violations {
			if v.Kind == KindMutex {
				t.Fatalf("seed %d: %v", f.Seed, v)
			}
		}
	}
	if res.Stats.Lost == 0 {
		t.Fatalf("no hold was told lost in %d schedules: the configuration does not exercise the rule", res.Schedules)
	}
}
