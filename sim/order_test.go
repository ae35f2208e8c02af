package sim

import (
	"testing"
	"time"
)

// orderConfig is a contended workload inside the fault model: six
// processes taking the lock four times each with little thinking, so that
// waiters enter from listings and meet each other and newcomers.
func orderConfig(kind LockKind) Config {
	c := Default(RulesV1)
	c.Kind = kind
	c.Procs, c.Acquisitions = 6, 4
	c.Think = 200 * time.Millisecond
	c.HoldMin, c.HoldMax = 100*time.Millisecond, time.Second
	c.LongHold = 0.05
	return c.WithDefaults()
}

// TestTicketOrder: under rules v1 a waiter's entry made from a listing
// withdraws only before another such entry, never before blind ones
// (KindOrder, order.go; docs/PROOF.md §4): no schedule violates it, and the
// check bites (queued entries do withdraw before higher tickets). It is the
// check that kills the mutant tickets-random (docs/MUTANTS.md).
func TestTicketOrder(t *testing.T) {
	for _, kind := range []LockKind{KindMutexLock, KindRWLock} {
		cfg := orderConfig(kind)
		if err := cfg.InModel(); err != nil {
			t.Fatal(err)
		}
		// A short or race run checks fewer schedules, but goes on (up to
		// the full 800) until the check has bitten at least once.
		n := count(800)
		displaced, queued, bypass := 0, 0, 0
		seed := uint64(1)
		for ; seed <= uint64(n) || (displaced == 0 && seed <= 800); seed++ {
			r := Run(cfg, seed)
			for _, v := range r.Violations {
				t.Fatalf("%s: seed %d: %v\n%s", cfg.Summary(), seed, v, tail(RunWith(cfg, seed, RunOptions{Trace: true}).Trace.Text(), 40))
			}
			displaced += r.displaced
			queued = max(queued, r.maxQueued)
			bypass = max(bypass, r.Stats.MaxBypass)
		}
		n = int(seed - 1)
		if displaced == 0 {
			t.Fatalf("%s: in %d schedules no queued entry withdrew before a higher ticket: the check never bit", cfg.Summary(), n)
		}
		t.Logf("%s: %d schedules, %d queued entries displaced by queued ones; bypass of a queued entry ≤ %d, of a whole Lock call ≤ %d",
			cfg.Summary(), n, displaced, queued, bypass)
	}
}

// TestLockBypass: under a mutex on an unwatched directory the waiters that
// came first go first once they have waited a poll (rule Y; docs/PROOF.md
// §4, order on unwatched directories), so no Lock call is overtaken by more
// than LockBypassBound(procs) acquisitions of others — with 3, 6 and 10
// processes on the order workload. Before rule Y, one Lock call among 6
// processes was overtaken 19 times in 800 schedules (of 23 possible), and
// the median schedule's worst was 11: this check fails at once without it.
func TestLockBypass(t *testing.T) {
	for _, procs := range []int{3, 6, 10} {
		cfg := orderConfig(KindMutexLock)
		cfg.Procs = procs
		if err := cfg.InModel(); err != nil {
			t.Fatal(err)
		}
		bound := LockBypassBound(procs)
		n := count(600)
		hist := make([]int, bound+1)
		for seed := uint64(1); seed <= uint64(n); seed++ {
			r := Run(cfg, seed)
			for _, v := range r.Violations {
				t.Fatalf("%s: seed %d: %v", cfg.Summary(), seed, v)
			}
			if b := r.Stats.MaxBypass; b > bound {
				t.Fatalf("%s: seed %d: a Lock call was overtaken by %d acquisitions of others (bound %d)\n%s",
					cfg.Summary(), seed, b, bound, tail(RunWith(cfg, seed, RunOptions{Trace: true}).Trace.Text(), 60))
			} else {
				hist[b]++
			}
		}
		t.Logf("%s: %d schedules; schedules by their most overtaken Lock call (0..%d): %v", cfg.Summary(), n, bound, hist)
	}
}
