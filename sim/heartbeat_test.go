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
// whole process (at most an eighth of a lease, inside the quarter lease
// between "overdue" and "stale").
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
		PauseMax:         c.Lease / 8,
	}
	return c.WithDefaults()
}

// TestHeartbeatKeepsHolderAlive: a holder whose heartbeat runs is never
// reaped, however many leases it holds while others wait: every hold lasts
// its full length and ends by Unlock, none is told it lost the lock.
func TestHeartbeatKeepsHolderAlive(t *testing.T) {
	const holdLeases = 8
	cfg := heartbeatConfig(3, holdLeases)
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
	cfg.Faults.HeartbeatStretch = 3
	for seed := uint64(0); seed < 20; seed++ {
		if r := Run(cfg, seed); r.Stats.Lost > 0 {
			return
		}
	}
	t.Fatal("no hold was lost in 20 runs with a starved heartbeat")
}

// TestCrashedHolderReapedInTime: when a holder crashes, a waiting process
// gets the lock one lease after the holder's last heartbeat, which precedes
// the crash by at most half a lease: no earlier than a lease (on a clock up
// to ClockDrift fast) less half a lease after the crash, and no later than a
// lease (on a clock up to ClockDrift slow) plus half a lease and two polls —
// the bound protocol's TestCrashedHolderReaped cannot assert on a loaded
// machine.
func TestCrashedHolderReapedInTime(t *testing.T) {
	cfg := heartbeatConfig(2, 1)
	cfg.Acquisitions = 4
	cfg.Faults.Pauses = 0
	cfg.Faults.Crashes, cfg.Faults.CrashRate = 1, 0.01
	lease := cfg.Lease
	bound := time.Duration(float64(lease)/(1-cfg.Faults.ClockDrift)) + lease/2 + 2*cfg.MaxBackoff
	seen := 0
	var worst time.Duration
	for seed := uint64(0); seed < 2000 && seen < 200; seed++ {
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
