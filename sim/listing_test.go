package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// crowdConfig is a crowd of procs mutex waiters on a directory nothing
// watches (as every directory of the simulator), with the library's
// default backoff: each holds for hold to 2·hold, so that most of the run
// is spent waiting.
func crowdConfig(procs int, hold time.Duration) Config {
	c := Default(RulesV1)
	c.Procs, c.Acquisitions = procs, 2
	c.MinBackoff, c.MaxBackoff = protocol.DefaultMinBackoff, protocol.DefaultMaxBackoff
	c.HoldMin, c.HoldMax = hold, 2*hold
	c.LongHold = 0.01
	c.Think = 100 * time.Millisecond
	c.Faults.Crashes, c.Faults.CrashRate = 0, 0
	return c.WithDefaults()
}

// TestCrowdListingRate: with the default backoff, a crowd of waiters on a
// directory that cannot be watched, waiting for holds of seconds, lists it
// at most twice a second per waiter, whatever its size (issue: 100 waiters on an NFS export must not
// be 10,000 READDIRs a second at the server). The first waiter in line
// looks more often than the others (rule Y), by as much as the crowd's
// budget leaves room for. Counted in virtual time, after each waiter's
// first second (its backoff starts at 1 ms): the listings of processes
// waiting for a second or more, over the time they spent so.
func TestCrowdListingRate(t *testing.T) {
	const s = time.Second
	for _, tc := range []struct {
		procs  int
		hold   time.Duration
		budget float64 // listings per second per waiter
	}{
		{2, 4 * s, 2}, {3, 4 * s, 2}, {4, 4 * s, 2}, {6, 4 * s, 2}, {8, 4 * s, 2}, {16, 4 * s, 2}, {32, 4 * s, 2}, {4, 10 * s, 2},
		// Holds of 1–2 s: the hand-offs' own listings (the look that finds
		// the lock free, the check) come on top.
		{3, s, 3}, {4, s, 3},
	} {
		procs := tc.procs
		cfg := crowdConfig(procs, tc.hold)
		if err := cfg.InModel(); err != nil {
			t.Fatal(err)
		}
		listings, waited, holds := 0, time.Duration(0), 0
		var gaps []time.Duration
		for seed := uint64(101); seed <= uint64(100+count(40)); seed++ {
			r := Run(cfg, seed)
			for _, v := range r.Violations {
				t.Fatalf("%s: seed %d: %v", cfg.Summary(), seed, v)
			}
			listings += r.Stats.WaitListings
			for _, h := range r.Holds {
				waited += max(h.Wait-WaitListingsAfter, 0)
				holds++
			}
			gaps = append(gaps, handoffGaps(r.Holds)...)
		}
		if waited < 10*time.Second*time.Duration(procs) {
			t.Fatalf("%d processes, holds %v: the crowd waited only %v in all (%d holds): the workload does not make them wait", procs, tc.hold, waited, holds)
		}
		rate := float64(listings) / waited.Seconds()
		t.Logf("%d processes, holds %v: %d listings over %v of waiting past the first second (%d holds): %.2f a second per waiter; hand-off median %v",
			procs, tc.hold, listings, waited.Round(time.Second), holds, rate, median(gaps).Round(time.Millisecond))
		if rate > tc.budget {
			t.Errorf("%d processes, holds %v: %.2f listings a second per waiter, want ≤ %v", procs, tc.hold, rate, tc.budget)
		}
	}
}

// handoffGaps returns, for each hold released by Unlock while another
// process waited, the time from its end to the next hold's start.
func handoffGaps(holds []Hold) []time.Duration {
	var gaps []time.Duration
	for _, h := range holds {
		if h.EndBy != "unlock" {
			continue
		}
		next := time.Duration(-1)
		for _, o := range holds {
			if o.Start >= h.End && o.Start-o.Wait < h.End && (next < 0 || o.Start < next) {
				next = o.Start
			}
		}
		if next >= 0 {
			gaps = append(gaps, next-h.End)
		}
	}
	return gaps
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
