package sim

import (
	"fmt"
	"time"

	"github.com/cryolock-go/cryolock/stale"
)

// The fault model of docs/PROOF.md, defined once: [Config.InModel] says
// whether a configuration satisfies the assumptions A0–A8 under which the
// proof claims mutual exclusion. Every check called "inside the model" —
// the package's tests, rapid's generator, the audit's "holds" rows and
// `cryolock sim` runs labelled as such — goes through it.

// ModelError reports that a configuration lies outside the fault model:
// Assumption names the assumption of docs/PROOF.md it drops (A1…A8, or
// A3b for a told holder's delay), as the table of docs/PROOF.md §2 names
// it.
type ModelError struct {
	Assumption string
	Reason     string
}

// Error says "sim: outside the fault model: <assumption>: <reason>".
func (e *ModelError) Error() string {
	return "sim: outside the fault model: " + e.Assumption + ": " + e.Reason
}

// DelayBound is the configuration's D of assumption A3a: how late a
// heartbeat that falls due can run, when every pause of the run hits one
// process back to back (pauses chain), plus one primitive's latency (the
// refresh in flight). Hung calls are not counted: the watchdog tells the
// holder regardless (A3a).
func (c Config) DelayBound() time.Duration {
	c = c.WithDefaults()
	f := c.Faults
	var d time.Duration
	if f.Pauses > 0 && f.PauseRate > 0 {
		d = time.Duration(f.Pauses) * f.PauseMax
	}
	return d + f.LatencyMax
}

// Skew is σ of assumption A5: the largest difference between two wall
// clocks (of two processes, or a process and the file server) over the
// run: offsets, wall-clock steps and the drift accumulated over the run's
// time bound.
func (c Config) Skew() time.Duration {
	c = c.WithDefaults()
	f := c.Faults
	off := f.ClockOffset
	if f.OffsetNearPeriod > 0 {
		off = max(off, c.Lease/2)
	}
	if f.WallSteps > 0 && f.WallStepRate > 0 {
		off += time.Duration(f.WallSteps) * f.WallStepMax
	}
	return 2*off + time.Duration(2*f.ClockDrift*float64(c.maxTime()))
}

// Margin is what assumption A3's inequality leaves for 2D: L/4 − 2ρL under
// the Observed rule, L/4 − ρL − σ − g under WallClock. The configuration
// is inside A3 when 2 × [Config.DelayBound] ≤ Margin.
func (c Config) Margin() time.Duration {
	c = c.WithDefaults()
	f := c.Faults
	L := float64(c.Lease)
	m := L / 4
	if c.Stale == stale.WallClock {
		m -= f.ClockDrift*L + float64(c.Skew()) + float64(f.MtimeGranularity)
	} else {
		m -= 2 * f.ClockDrift * L
	}
	return time.Duration(m)
}

// toldDelay is how long the checker counts a told holder as still acting.
func (c Config) toldDelay() time.Duration {
	switch d := c.Faults.ToldDelay; {
	case d < 0:
		return 0
	case d > 0:
		return d
	}
	return max(c.DelayBound(), c.Margin()/2, 0)
}

// InModel returns nil if c lies inside the fault model of docs/PROOF.md
// (assumptions A0–A8, with A3's margin 2D + 2ρL ≤ L/4), and otherwise a
// [*ModelError] naming the first assumption it drops. An invalid
// configuration returns Validate's error.
func (c Config) InModel() error {
	if err := c.Validate(); err != nil {
		return err
	}
	c = c.WithDefaults()
	f := c.Faults
	out := func(a, format string, args ...any) error {
		return &ModelError{Assumption: a, Reason: fmt.Sprintf(format, args...)}
	}
	rho := f.ClockDrift
	switch {
	case c.Rules != RulesV1:
		return out("A8", "rules %v drop the v1 rules", c.Rules)
	case f.SameIdentity:
		return out("A7", "every process has the same identity: names collide")
	case f.HeartbeatStretch > 1:
		return out("A2", "heartbeat sleeps stretched ×%g: the period may exceed the overdue point", f.HeartbeatStretch)
	case c.NoLostCheck:
		return out("A3b", "the workload ignores Lost: a told holder never stops")
	case rho > 1.0/8:
		return out("A4", "clock drift ±%g%% > 12.5%%", rho*100)
	case !f.OwnWriteRefreshes && float64(f.CacheDelta)*(1+rho) > float64(c.Settle):
		// With OwnWriteRefreshes the listing after the own create is
		// fetched afresh: the create-then-list lag is 0.
		return out("A1", "create-then-list lag %v (own writes do not refresh the cached listing) × (1+ρ) > settle %v", f.CacheDelta, c.Settle)
	case c.Stale == stale.WallClock && 4*f.MtimeGranularity >= c.Lease:
		// Under Observed, coarse mtimes (and wall-clock steps with them)
		// cost only liveness: Invariant M, a refresh that does not advance
		// the mtime does not count (TestCoarseMtimesCostOnlyLiveness,
		// TestABAInModel).
		return out("A6", "mtime granularity %v ≥ lease/4 under the wall-clock rule", f.MtimeGranularity)
	}
	d, m := c.DelayBound(), c.Margin()
	rule := "2D + 2ρL ≤ L/4"
	if c.Stale == stale.WallClock {
		rule = "2D + ρL + σ + g ≤ L/4"
		if m < 0 {
			return out("A5", "wall-clock skew σ = %v (offsets, steps and drift over %v) leaves no margin: %s", c.Skew(), c.maxTime(), rule)
		}
	}
	if 2*d > m {
		return out("A3", "%s fails: D = %v (%d chained pauses of ≤ %v, latency ≤ %v), margin for 2D %v",
			rule, d, f.Pauses, f.PauseMax, f.LatencyMax, m)
	}
	if f.ToldDelay < 0 {
		// The checker would count a told holder as stopping at the instant
		// it is told: D_b = 0, where step 3 of the safety proof needs
		// D_b > 0 (told strictly before the reaper's look).
		return out("A3b", "told delay %v: a told holder counted as stopping at once (D_b = 0; A3b needs D_b > 0)", f.ToldDelay)
	}
	if 2*f.ToldDelay > m {
		return out("A3b", "a told holder acting for %v: 2 × %v > margin %v", f.ToldDelay, f.ToldDelay, m)
	}
	return nil
}
