package sim

import (
	"testing"
	"time"
)

// The timing properties of the heartbeat, in virtual time: the real-process
// tests in protocol cannot assert them on a loaded machine, where a starved
// goroutine legitimately loses its lock.

// heartbeatConfig is a world of procs processes that each take the lock
// twice and hold it for holdLeases leases, contending at once (no think
// time), with the in-model faults a heartbeat must ride out: filesystem
// latency, clock offset and drift, 1 s mtimes, and short pauses of the
// whole process — four of at most L/40 each, so that all of them chained
// on one process with a primitive's latency, D = 1.02 s, stay inside A3's
// margin (2D + 2ρL ≤ L/4): Config.InModel accepts it.
func heartbeatConfig(procs, holdLeases int) Config {
	c := Config{Rules: RulesV1, Procs: procs, Acquisitions: 2}
	c.Lease = 10 * time.Second
	hold := time.Duration(holdLeases) * c.Lease
	c.HoldMin, c.HoldMax = hold, hold
	c.LongHoldMin, c.LongHoldMax = hold, hold
	c.Think = -1
	c.Faults = Faults{
		LatencyMin:       200 * time.Microsecond,
		LatencyMax:       20 * time.Millisecond,
		ClockOffset:      time.Second,
		ClockDrift:       0.01,
		MtimeGranularity: time.Second,
		Pauses:           4,
		PauseRate:        0.01,
		PauseMin:         10 * time.Millisecond,
		PauseMax:         c.Lease / 40,
	}
	return c.WithDefaults()
}

// TestHeartbeatKeepsHolderAlive: a holder whose heartbeat runs is never
// reaped, however many leases it holds while others wait: every hold lasts
// its full length and ends by Unlock, none is told it lost the lock.
func TestHeartbeatKeepsHolderAlive(t *testing.T) {
	const holdLeases = 8
	cfg := heartbeatConfig(3, holdLeases)
	if err := cfg.InModel(); err != nil {
		t.Fatal(err)
	}
	seeds := 30
	if testing.Short() {
		seeds = 10
	}
	// The workload holds for HoldMin on its own clock, which may run fast.
	minHold := time.Duration(float64(cfg.HoldMin) / (1 + cfg.Faults.ClockDrift))
	pauses := 0
	for seed := uint64(0); seed < uint64(seeds); seed++ {
		r := Run(cfg, seed)
		if r.Failed() {
			t.Fatalf("seed %d: %v", seed, r.Violations[0])
		}
		if r.Stats.Lost != 0 || r.Stats.Acquired != cfg.Procs*cfg.Acquisitions {
			t.Fatalf("seed %d: %d holds lost, %d acquired; want 0 and %d", seed, r.Stats.Lost, r.Stats.Acquired, cfg.Procs*cfg.Acquisitions)
		}
		for _, h := range r.Holds {
			if h.EndBy != "unlock" || h.End-h.Start < minHold {
				t.Fatalf("seed %d: p%d's hold %s ran %v and ended by %s; want at least %v, ended by unlock", seed, h.Proc, h.Name, h.End-h.Start, h.EndBy, minHold)
			}
		}
		pauses += r.Stats.Pauses
	}
	if pauses == 0 {
		t.Error("no run paused a process: the fault is not exercised")
	}
}

// TestStarvedHeartbeatIsReaped is the control: the same world with every
// heartbeat sleep stretched past the lease (outside the fault model) does
// lose holds, so the test above can see a reaped holder.
func TestStarvedHeartbeatIsReaped(t *testing.T) {
	cfg := heartbeatConfig(3, 8)
	if err := cfg.InModel(); err != nil {
		t.Fatalf("the control's base: %v", err)
	}
	cfg.Faults.HeartbeatStretch = 3
	for seed := uint64(0); seed < 20; seed++ {
		if r := Run(cfg, seed); r.Stats.Lost > 0 {
			return
		}
	}
	t.Fatal("no hold was lost in 20 runs with a starved heartbeat")
}

// TestCrashedHolderReapedInTime: when a holder crashes, a waiting process
// gets the lock within the bound of docs/PROOF.md §4 ("Progress after
// crashes"), which this test asserts exactly (crashReapBound), and no earlier
// than a lease (on a clock up to ClockDrift fast) less half a lease after
// the crash — the bound protocol's TestCrashedHolderReaped cannot assert on
// a loaded machine.
func TestCrashedHolderReapedInTime(t *testing.T) {
	cfg := heartbeatConfig(2, 1)
	cfg.Acquisitions = 4
	cfg.Faults.Pauses = 0
	cfg.Faults.Crashes, cfg.Faults.CrashRate = 1, 0.01
	if err := cfg.InModel(); err != nil {
		t.Fatal(err)
	}
	lease := cfg.Lease
	bound := crashReapBound(cfg)
	seen := 0
	var worst time.Duration
	for seed := uint64(0); seed < 2000; seed++ {
		r := Run(cfg, seed)
		if r.Failed() {
			t.Fatalf("seed %d: %v", seed, r.Violations[0])
		}
		for i, h := range r.Holds {
			if h.EndBy != "crash" {
				continue
			}
			for _, n := range r.Holds[i+1:] {
				if n.Proc == h.Proc {
					continue
				}
				took := n.Start - h.End
				if took < time.Duration(float64(lease)*(1-cfg.Faults.ClockDrift))-lease/2 || took > bound {
					t.Fatalf("seed %d: p%d got the lock %v after p%d crashed holding it; want within %v", seed, n.Proc, took, h.Proc, bound)
				}
				worst = max(worst, took)
				seen++
				break
			}
		}
	}
	if seen < 5 {
		t.Fatalf("only %d crashes of a holder followed by another hold: the bound is not exercised", seen)
	}
	t.Logf("%d crashed holders reaped; slowest takeover %v (bound %v)", seen, worst, bound)
}

// crashReapBound is the bound of docs/PROOF.md §4 ("Progress after
// crashes") on the real time from a holder's crash to a waiting contender's
// hold, for a configuration without pauses, hangs, errors, listing cache or
// watches, in which the contender was already waiting (and the crashed entry
// the only other one): with ρ the drift, B the backoff ceiling (MaxBackoff)
// and λ the longest primitive latency,
//
//	(5L/4 + 2B)/(1−ρ) + 16λ
//
// — the last change of the entry's mtime r ≤ crash; the first sighting of it
// ≤ r + G, where G = (L/8 + B)/(1−ρ) + 5λ bounds the gap between two
// judgings with I/O (J1 skips an entry judged alive less than L/8 ago on the
// observer's clock; then at most one backoff and one waiting round: the
// mark's stat, mkdir and the old mark's removal, the listing, the
// sighting); a lease on the observer's clock, ≤ L/(1−ρ) real, and then the
// judging that sees it, ≤ G later; then J4's read and J5's removal, the
// mark's removal, C2's create and stamp and C4's listing (6λ).
func crashReapBound(cfg Config) time.Duration {
	cfg = cfg.WithDefaults()
	rho := cfg.Faults.ClockDrift
	onClock := 5*cfg.Lease/4 + 2*cfg.MaxBackoff
	return time.Duration(float64(onClock)/(1-rho)) + 16*cfg.Faults.LatencyMax
}
