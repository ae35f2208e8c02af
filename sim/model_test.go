package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/stale"
)

// seed10045 is the configuration of issue 10's seed 10045: two chained
// pauses of up to 2 s at ±10% drift, where v1 fails. It was once called
// "inside the fault model"; A3's margin (2D + 2ρL ≤ L/4) excludes it.
func seed10045() Config {
	c := Default(RulesV1)
	c.Procs, c.LongHold = 3, 0.8
	c.Faults.ClockDrift = 0.1
	c.Faults.Pauses, c.Faults.PauseRate = 2, 0.01
	c.Faults.PauseMin, c.Faults.PauseMax = 1500*time.Millisecond, 2*time.Second
	c.Faults.ErrorOps, c.Faults.ErrorRate = OpChtimes, 0.7
	c.Faults.Crashes = 0
	return c.WithDefaults()
}

func modelAssumption(t *testing.T, c Config) string {
	t.Helper()
	err := c.InModel()
	if err == nil {
		return ""
	}
	var me *ModelError
	if !errors.As(err, &me) {
		t.Fatalf("%s: InModel: %v, want a *ModelError", c.Summary(), err)
	}
	return me.Assumption
}

// TestInModel: the one fault model accepts what the proof assumes and
// rejects, naming the assumption, everything else.
func TestInModel(t *testing.T) {
	if a := modelAssumption(t, seed10045()); a != "A3" {
		t.Fatalf("seed 10045's configuration: got %q, want outside A3", a)
	}
	// The configuration really breaks exclusion (seed 10045 did when the
	// issue was filed; the traces move with every change of the
	// protocol's timing, so search a batch). With issue 10's pauses of
	// 1.5-2 s the first failure is now past seed 52000 (rule Y moved the
	// traces), minutes under -race; with pauses of 2-3 s, further outside
	// A3 and otherwise the same, it comes within a few thousand.
	longer := seed10045()
	longer.Faults.PauseMin, longer.Faults.PauseMax = 2*time.Second, 3*time.Second
	if a := modelAssumption(t, longer); a != "A3" {
		t.Fatalf("seed 10045's configuration with pauses of 2-3 s: got %q, want outside A3", a)
	}
	if res := Explore(context.Background(), longer, ExploreOptions{Schedules: 20000}); len(res.Failures) == 0 {
		t.Fatalf("seed 10045's configuration with pauses of 2-3 s no longer fails in %d schedules: the test above guards nothing", res.Schedules)
	}
	for _, c := range []Config{Default(RulesV1), inModel(RulesV1), inModelAll(), small(RulesV1, 2, 1), reapScope(KindMutexLock)} {
		if err := c.InModel(); err != nil {
			t.Errorf("%s: %v", c.Summary(), err)
		}
	}
	base := Default(RulesV1)
	cases := []struct {
		want string
		f    func(*Config)
	}{
		{"A8", func(c *Config) { c.Rules = RulesLegacy }},
		{"A7", func(c *Config) { c.Faults.SameIdentity = true }},
		{"A2", func(c *Config) { c.Faults.HeartbeatStretch = 2 }},
		{"A3b", func(c *Config) { c.NoLostCheck = true }},
		{"A3b", func(c *Config) { c.Faults.ToldDelay = 2 * time.Second }},
		{"A4", func(c *Config) { c.Faults.ClockDrift = 0.2 }},
		{"A1", func(c *Config) { c.Settle, c.Faults.CacheDelta = time.Second, time.Second }},
		{"A6", func(c *Config) { c.Stale, c.Faults.MtimeGranularity = stale.WallClock, 4*time.Second }},
		{"", func(c *Config) { c.Faults.MtimeGranularity = 2 * c.Lease }}, // Observed: liveness only
		// One pause of 0.25 s is inside at 10% drift; two chained are not.
		{"", func(c *Config) {
			c.Faults.ClockDrift, c.Faults.LatencyMin, c.Faults.LatencyMax = 0.1, 0, 0
			c.Faults.Pauses, c.Faults.PauseRate, c.Faults.PauseMax = 1, 0.01, 250*time.Millisecond
		}},
		{"A3", func(c *Config) {
			c.Faults.ClockDrift, c.Faults.LatencyMin, c.Faults.LatencyMax = 0.1, 0, 0
			c.Faults.Pauses, c.Faults.PauseRate, c.Faults.PauseMax = 2, 0.01, 250*time.Millisecond
		}},
		{"A5", func(c *Config) { c.Stale = stale.WallClock }}, // drift over the run
		{"A5", func(c *Config) {
			c.Stale, c.Faults.ClockDrift, c.Faults.ClockOffset = stale.WallClock, 0, 2*time.Second
		}},
		{"", func(c *Config) { c.Stale, c.Faults.ClockDrift, c.Faults.ClockOffset = stale.WallClock, 0, time.Second }},
		{"A5", func(c *Config) {
			c.Stale, c.Faults.ClockDrift, c.Faults.ClockOffset = stale.WallClock, 0, 0
			c.Faults.WallSteps, c.Faults.WallStepRate, c.Faults.WallStepMax = 1, 0.01, 5*time.Second
		}},
		{"", func(c *Config) { c.Faults.WallSteps, c.Faults.WallStepRate, c.Faults.WallStepMax = 1, 0.01, time.Hour }},
		{"", func(c *Config) { c.Faults.Hangs, c.Faults.HangRate, c.Faults.HangMax = 3, 0.01, time.Minute }},
	}
	for i, tc := range cases {
		c := base
		tc.f(&c)
		if got := modelAssumption(t, c.WithDefaults()); got != tc.want {
			t.Errorf("case %d (%s): outside %q, want %q (%v)", i, c.Summary(), got, tc.want, c.InModel())
		}
	}
	for _, a := range Assumptions() {
		if e := a.modelErr(); e != "" {
			t.Errorf("audit row %s: %s", a.ID, e)
		}
	}
}

// coverageConfig is the batch .ci/check-sim-coverage.sh runs: inside the
// model, with every tolerated fault on, crashes and short leases against
// long holds, so that each dangerous situation happens.
func coverageConfig() Config {
	c := inModelAll()
	c.Procs = 4
	c.Faults.Crashes, c.Faults.CrashRate = 1, 0.002
	return c
}

// TestCoverage: a fixed seeded batch inside the model reaches every
// situation the coverage counters name — holds told they lost, reaps of
// live entries, ticket ties, failed stamps, hung calls, TryLock wins, wall
// steps — and shows no violation. A simulator that silently stopped
// producing one of them would let a whole class of bugs hide.
func TestCoverage(t *testing.T) {
	cfg := coverageConfig()
	if err := cfg.InModel(); err != nil {
		t.Fatal(err)
	}
	// A fixed batch, not scaled down under -race or -short: the counters
	// must be non-zero in exactly this batch.
	res := Explore(context.Background(), cfg, ExploreOptions{Schedules: 1000})
	for _, f := range res.Failures {
		t.Errorf("seed %d: %v", f.Seed, f.Violations[0])
	}
	if err := res.Stats.CoverageGaps(); err != nil {
		t.Fatalf("%d schedules: %v (stats %+v)", res.Schedules, err, res.Stats)
	}
	t.Logf("%d schedules: %+v", res.Schedules, res.Stats)
}

// TestTellAndReapHappen: hung heartbeats are told (the watchdog) and
// their entries reaped while the owner is alive; with the watchdog's tell
// ignored (no Lost check), the same situations break mutual exclusion —
// the checker sees what the counters count.
func TestTellAndReapHappen(t *testing.T) {
	c := Default(RulesV1)
	c.Faults.Hangs, c.Faults.HangRate, c.Faults.HangMin, c.Faults.HangMax = 3, 0.01, c.Lease, 3*c.Lease
	c.Faults.HangOps = OpChtimes
	c.LongHold = 0.8
	res := Explore(context.Background(), c, ExploreOptions{Schedules: count(1000)})
	if len(res.Failures) > 0 {
		t.Fatalf("in model: seed %d: %v", res.Failures[0].Seed, res.Failures[0].Violations[0])
	}
	if res.Stats.Lost == 0 || res.Stats.ReapsLive == 0 || res.Stats.HungCalls == 0 {
		t.Fatalf("hung refreshes never told or reaped: %+v", res.Stats)
	}
	c.NoLostCheck = true
	if c.InModel() == nil {
		t.Fatal("no-lost-check inside the model")
	}
	res = Explore(context.Background(), c, ExploreOptions{Schedules: 3000})
	if len(res.Failures) == 0 || res.Failures[0].Violations[0].Kind != KindMutex {
		t.Fatalf("hung heartbeats with the tell ignored: no violation in %d schedules", res.Schedules)
	}
}

// TestNewFaultsOutsideModel: the new faults outside the model are caught.
// Wall-clock steps under the WallClock rule (A5) make a live entry look
// stale. Under the Observed rule, wall-clock steps with coarse mtimes
// (A6) let a refresh store an mtime an observer saw before, with the
// refreshes in between missed by it (it was hung): A, B, A looks like no
// heartbeat for a lease (TestCoverage's batch found it with coarse mtimes:
// a hung observer, then a backward step of the holder's wall clock; the
// same configuration without the steps finds nothing in 3000 schedules).
func TestNewFaultsOutsideModel(t *testing.T) {
	c := Default(RulesV1)
	c.Stale = stale.WallClock
	c.Faults.ClockDrift = 0
	c.Faults.WallSteps, c.Faults.WallStepRate, c.Faults.WallStepMax = 2, 0.01, 3*c.Lease
	if a := modelAssumption(t, c); a != "A5" {
		t.Fatalf("wall steps under WallClock: outside %q, want A5", a)
	}
	res := Explore(context.Background(), c, ExploreOptions{Schedules: 3000})
	if len(res.Failures) == 0 || res.Failures[0].Violations[0].Kind != KindMutex {
		t.Fatalf("%s: no violation in %d schedules", c.Summary(), res.Schedules)
	}
	t.Logf("%s: seed %d: %v", c.Summary(), res.Failures[0].Seed, res.Failures[0].Violations[0])

}

// TestABAInModel: under the Observed rule, wall-clock steps with coarse
// mtimes used to let a refresh store an mtime an observer had seen before,
// with the refreshes in between missed by it (it was hung): A, B, A looked
// like no heartbeat for a lease and a live entry was reaped (this very
// configuration found it). Refreshes now never store an mtime at or before
// one already seen and count only if the mtime advanced (Invariant M), so
// the configuration is inside the model and clean.
func TestABAInModel(t *testing.T) {
	aba := Default(RulesV1)
	aba.Procs, aba.LongHold, aba.Faults.Crashes = 2, 0.8, 0
	aba.Faults.MtimeGranularity = 2 * time.Second
	aba.Faults.WallSteps, aba.Faults.WallStepRate, aba.Faults.WallStepMax = 4, 0.02, 6*time.Second
	aba.Faults.Hangs, aba.Faults.HangRate, aba.Faults.HangOps = 2, 0.02, OpReadDir
	aba.Faults.HangMin, aba.Faults.HangMax = aba.Lease, 3*aba.Lease/2
	if err := aba.InModel(); err != nil {
		t.Fatalf("wall steps with coarse mtimes under Observed: %v, want inside the model", err)
	}
	res := Explore(context.Background(), aba, ExploreOptions{Schedules: count(5000)})
	if len(res.Failures) > 0 {
		t.Fatalf("%s: seed %d: %v", aba.Summary(), res.Failures[0].Seed, res.Failures[0].Violations[0])
	}
	if res.Stats.WallSteps == 0 || res.Stats.HungCalls == 0 {
		t.Fatalf("the batch stepped no clock or hung no call: %+v", res.Stats)
	}
}

// TestTicketsTie: a narrow ticket space makes ties, and TryLock wins.
func TestTicketsTie(t *testing.T) {
	c := Default(RulesV1)
	c.Faults.Tickets = 2
	c.TryLock = 0.5
	res := Explore(context.Background(), c, ExploreOptions{Schedules: count(400)})
	if len(res.Failures) > 0 {
		t.Fatalf("seed %d: %v", res.Failures[0].Seed, res.Failures[0].Violations[0])
	}
	if res.Stats.Ties == 0 || res.Stats.TryLockWins == 0 {
		t.Fatalf("no ties or TryLock wins: %+v", res.Stats)
	}
}

// reapScope is an exhaustive scope where leases expire and entries are
// reaped: a 1 s lease, 3 s holds (the heartbeat must run), and a crash,
// so that a survivor must reap the crashed process's entry.
func reapScope(kind LockKind) Config {
	c := small(RulesV1, 2, 1)
	c.Kind = kind
	c.Lease = time.Second
	c.HoldMin, c.HoldMax = 3*time.Second, 3*time.Second
	c.Step = 500 * time.Millisecond
	c.Faults.Crashes, c.Faults.CrashRate = 1, 0.1
	return c.WithDefaults()
}

// TestExhaustiveKindsAndReaping runs the exhaustive search over the
// reader–writer lock and the semaphore, and over scopes where leases
// expire and entries are reaped.
func TestExhaustiveKindsAndReaping(t *testing.T) {
	type scope struct {
		name  string
		cfg   Config
		depth int
		reaps bool
	}
	rw := small(RulesV1, 2, 1)
	rw.Kind, rw.ReadFraction = KindRWLock, 0.5
	sem := small(RulesV1, 3, 1)
	sem.Kind, sem.Slots = KindSemaphore, 2
	scopes := []scope{
		{"rw 2×1", rw.WithDefaults(), 0, false},
		{"semaphore(2) 3×1", sem.WithDefaults(), 8, false},
		{"mutex, lease 1s, crash", reapScope(KindMutexLock), 12, true},
		{"rw, lease 1s, crash", reapScope(KindRWLock), 10, true},
	}
	for _, s := range scopes {
		if err := s.cfg.InModel(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		res := Exhaustive(context.Background(), s.cfg, ExhaustiveOptions{Depth: s.depth, Limit: count(20000)})
		if res.Err != "" {
			t.Fatalf("%s: %s", s.name, res.Err)
		}
		if len(res.Failures) > 0 {
			r := Replay(res.Failures[0])
			t.Fatalf("%s: %v\n%s", s.name, r.Violations[0], tail(r.Trace.Text(), 40))
		}
		if res.Schedules < 10 {
			t.Fatalf("%s: only %d schedules", s.name, res.Schedules)
		}
		if s.reaps && (res.Stats.Reaps == 0 || res.Stats.Acquired == 0) {
			t.Fatalf("%s: no reap or no acquisition in %d schedules: %+v", s.name, res.Schedules, res.Stats)
		}
		t.Logf("%s: %d schedules (complete %v, %d pruned): %+v", s.name, res.Schedules, res.Complete, res.Pruned, res.Stats)
	}
}

// TestAuditRowsDropExactlyTheirOwn: each audit row's dropped configuration
// lies outside the fault model for exactly the assumption the row names —
// not a sub-assumption that merely starts with its ID (row A3's used to set
// NoLostCheck, outside A3b, and passed as "A3") — and modelErr refuses such
// a prefix match.
func TestAuditRowsDropExactlyTheirOwn(t *testing.T) {
	for _, a := range Assumptions() {
		if a.Dropped == nil {
			continue
		}
		if got := modelAssumption(t, *a.Dropped); got != a.drops() {
			t.Errorf("row %s: dropped configuration outside %q, want %q", a.ID, got, a.drops())
		}
	}
	a := Assumption{ID: "A3", Holds: Default(RulesV1)}
	d := Default(RulesV1)
	d.NoLostCheck = true
	a.Dropped = &d
	if e := a.modelErr(); e == "" {
		t.Error("a row A3 whose dropped configuration is outside A3b passes")
	}
}
