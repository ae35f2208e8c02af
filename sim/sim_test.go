package sim

import (
	"context"
	"encoding"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/stale"
)

// raceEnabled is set under -race, where runs are several times slower.
var raceEnabled bool

// count scales a schedule count down under -race and -short.
func count(n int) int {
	if raceEnabled {
		n /= 8
	}
	if testing.Short() {
		n /= 4
	}
	return max(n, 20)
}

// inModel is the default workload with every fault of the proof's margin
// switched on, at the model's edge: Settle covers the listing lag in real
// time on a clock that may run 10% fast (1.2 s ≥ 1 s × 1.1), and two pauses
// chained plus a call's latency stay within A3's D: 2 × (2 × 120 ms + 5 ms)
// + 2 × 10% × 10 s ≤ 10 s / 4. Config.InModel must accept it.
func inModel(r Rules) Config {
	c := Default(r)
	c.Settle = 1200 * time.Millisecond
	c.Faults.CacheDelta = time.Second
	c.Faults.MtimeGranularity = 2 * time.Second
	c.Faults.ClockOffset = time.Hour
	c.Faults.ClockDrift = 0.1
	c.Faults.NonAtomicWrite = true
	c.Faults.ErrorRate = 0.01
	c.Faults.ErrorOps = AllOps
	c.Faults.Pauses = 2
	c.Faults.PauseRate = 0.005
	c.Faults.PauseMin = 10 * time.Millisecond
	c.Faults.PauseMax = 120 * time.Millisecond
	c = c.WithDefaults()
	if r == RulesV1 {
		if err := c.InModel(); err != nil {
			panic(err)
		}
	}
	return c
}

// inModelAll is inModel with the tolerated faults too (audit row T3):
// hung calls, wall-clock steps, offsets near one period, ticket ties and
// TryLock — and fine mtimes, as wall-clock steps with coarse mtimes are
// outside A6 (see TestNewFaultsOutsideModel).
func inModelAll() Config {
	c := inModel(RulesV1)
	tolerated(&c)
	c.Faults.MtimeGranularity = 0
	if err := c.InModel(); err != nil {
		panic(err)
	}
	return c
}

func TestDeterminism(t *testing.T) {
	for _, cfg := range []Config{inModel(RulesV1), Default(RulesLegacy)} {
		for _, seed := range []uint64{1, 76, 12345} {
			a := RunWith(cfg, seed, RunOptions{Trace: true})
			b := RunWith(cfg, seed, RunOptions{Trace: true})
			ta, tb := a.Trace.Text(), b.Trace.Text()
			if ta != tb {
				t.Fatalf("%s seed %d: two runs differ:\n%s", cfg.Summary(), seed, firstDiff(ta, tb))
			}
			if a.Trace.SVG() != b.Trace.SVG() {
				t.Fatalf("seed %d: SVGs differ", seed)
			}
			if len(a.Trace.Events) < 50 {
				t.Fatalf("seed %d: suspiciously short trace (%d events)", seed, len(a.Trace.Events))
			}
			// Tracing must not change the run.
			if c := Run(cfg, seed); c.Steps != a.Steps || c.Time != a.Time || len(c.Violations) != len(a.Violations) {
				t.Fatalf("seed %d: the run changes when traced", seed)
			}
		}
		if Run(cfg, 1).Steps == Run(cfg, 2).Steps && Run(cfg, 2).Steps == Run(cfg, 3).Steps {
			t.Fatalf("seeds 1, 2, 3 give the same number of steps: the seed is ignored")
		}
	}
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return "line " + itoa(i+1) + ":\n  " + la[i] + "\n  " + lb[i]
		}
	}
	return "lengths differ"
}

func TestV1NoViolationInsideFaultModel(t *testing.T) {
	for _, cfg := range []Config{Default(RulesV1), inModel(RulesV1), inModelAll()} {
		if err := cfg.InModel(); err != nil {
			t.Fatal(err)
		}
		n := count(4000)
		res := Explore(context.Background(), cfg, ExploreOptions{Schedules: n})
		if res.Schedules != n {
			t.Fatalf("ran %d of %d schedules", res.Schedules, n)
		}
		for _, f := range res.Failures {
			r := Replay(f)
			t.Fatalf("%s: seed %d: %v\n%s", cfg.Summary(), f.Seed, f.Violations[0], tail(r.Trace.Text(), 60))
		}
		if res.Stats.Acquired < n*cfg.Procs {
			t.Fatalf("only %d acquisitions in %d schedules", res.Stats.Acquired, n)
		}
		t.Logf("%s: %d schedules, %d steps, %d acquisitions, %d crashes, %d pauses, %d lock errors, max bypass %d, in %v",
			cfg.Summary(), res.Schedules, res.Steps, res.Stats.Acquired, res.Stats.Crashes, res.Stats.Pauses, res.Stats.LockErrs, res.Stats.MaxBypass, res.Elapsed)
	}
}

func tail(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// TestLegacyViolates: the legacy rules fail under the default workload, from
// random seeds, and the failure shrinks to a small trace.
func TestLegacyViolates(t *testing.T) {
	res := Explore(context.Background(), Default(RulesLegacy), ExploreOptions{Schedules: 5000})
	if len(res.Failures) == 0 {
		t.Fatalf("no violation of the legacy rules in %d schedules", res.Schedules)
	}
	f := res.Failures[0]
	if f.Violations[0].Kind != KindMutex {
		t.Fatalf("first legacy failure is %v, want mutual exclusion", f.Violations[0])
	}
	tries := 1000
	if raceEnabled || testing.Short() {
		tries = 200
	}
	m := Shrink(context.Background(), f, ShrinkOptions{Tries: tries})
	if !m.Failed() || m.Violations[0].Kind != KindMutex || m.Trace == nil {
		t.Fatalf("shrink lost the violation: %+v", m.Violations)
	}
	if m.Config.Procs > f.Config.Procs || (m.Config.Procs == f.Config.Procs && m.Steps > f.Steps) {
		t.Fatalf("shrink did not shrink: %d procs %d steps from %d procs %d steps", m.Config.Procs, m.Steps, f.Config.Procs, f.Steps)
	}
	t.Logf("first failure at seed %d after %d schedules; minimal: %s seed %d, %d steps:\n%s",
		f.Seed, res.Schedules, m.Config.Summary(), m.Seed, m.Steps, tail(m.Trace.Text(), 25))
}

// TestOutsideModelViolates: faults outside the model are caught (the
// simulator is not blind).
func TestOutsideModelViolates(t *testing.T) {
	base := Default(RulesV1)
	cases := map[string]func(*Config){
		"pause>lease without Lost check": func(c *Config) {
			c.NoLostCheck = true
			c.Faults.Pauses, c.Faults.PauseRate, c.Faults.PauseMin, c.Faults.PauseMax = 2, 0.005, 3*c.Lease/2, 3*c.Lease
		},
		"cache Δ > settle": func(c *Config) { c.Faults.CacheDelta = 2 * time.Second },
		"wall-clock rule, skew > lease": func(c *Config) {
			c.Stale, c.Faults.ClockOffset = stale.WallClock, 2*c.Lease
		},
		"mtime granularity > lease": func(c *Config) {
			c.Stale, c.Faults.MtimeGranularity = stale.WallClock, 2*c.Lease
		},
		"same owner names":         func(c *Config) { c.Faults.SameIdentity = true },
		"heartbeat period > lease": func(c *Config) { c.Faults.HeartbeatStretch = 3 },
		"drift ±60% (observed)":    func(c *Config) { c.Faults.ClockDrift = 0.6 },
	}
	for _, name := range []string{"pause>lease without Lost check", "cache Δ > settle", "wall-clock rule, skew > lease",
		"mtime granularity > lease", "same owner names", "heartbeat period > lease", "drift ±60% (observed)"} {
		t.Run(name, func(t *testing.T) {
			c := base
			cases[name](&c)
			res := Explore(context.Background(), c, ExploreOptions{Schedules: 2000})
			if len(res.Failures) == 0 {
				t.Fatalf("%s: no violation in %d schedules", c.Summary(), res.Schedules)
			}
			f := res.Failures[0]
			if f.Violations[0].Kind != KindMutex {
				t.Fatalf("got %v, want a mutual-exclusion violation", f.Violations[0])
			}
			t.Logf("seed %d after %d schedules: %v", f.Seed, res.Schedules, f.Violations[0])
		})
	}
}

// small is an exhaustive scope: no faults, no think time, one-second holds.
func small(r Rules, procs, acq int) Config {
	return Config{Rules: r, Procs: procs, Acquisitions: acq, Think: -1, LongHold: -1, HoldMin: time.Second, HoldMax: time.Second}
}

func TestExhaustive(t *testing.T) {
	type scope struct {
		procs, acq, depth int
		min               int // at least this many schedules
	}
	// 2×1 is its whole space: 1154 schedules since a released hold no
	// longer stops its heartbeat's timer (a stop woke the timer's
	// goroutine at once, and its steps interleaved with the rest: 23448
	// before).
	scopes := []scope{{2, 1, 0, 1000}, {3, 1, 10, 300}}
	if !raceEnabled && !testing.Short() {
		scopes = append(scopes, scope{3, 1, 14, 5000})
	}
	for _, s := range scopes {
		cfg := small(RulesV1, s.procs, s.acq)
		res := Exhaustive(context.Background(), cfg, ExhaustiveOptions{Depth: s.depth})
		if res.Err != "" {
			t.Fatal(res.Err)
		}
		if !res.Complete || res.Schedules < s.min {
			t.Fatalf("%d×%d depth %d: %d schedules, complete %v", s.procs, s.acq, s.depth, res.Schedules, res.Complete)
		}
		if len(res.Failures) > 0 {
			r := Replay(res.Failures[0])
			t.Fatalf("%d×%d: %v\n%s", s.procs, s.acq, r.Violations[0], tail(r.Trace.Text(), 40))
		}
		t.Logf("v1 %d procs × %d acquisitions, depth %d: %d distinct schedules (%d pruned) in %v", s.procs, s.acq, s.depth, res.Schedules, res.Pruned, res.Elapsed)
	}
}

// TestExhaustiveFindsViolation: the exhaustive explorer finds the violation
// that colliding owner names allow, and its replay reproduces it.
func TestExhaustiveFindsViolation(t *testing.T) {
	cfg := small(RulesV1, 2, 1)
	cfg.Faults.SameIdentity = true
	res := Exhaustive(context.Background(), cfg, ExhaustiveOptions{})
	if len(res.Failures) == 0 {
		t.Fatalf("no violation in %d schedules", res.Schedules)
	}
	r := Replay(res.Failures[0])
	if !r.Failed() || r.Violations[0].Kind != KindMutex {
		t.Fatalf("replay of the failing schedule: %v", r.Violations)
	}
}

// TestDFSCoversRandom checks the sleep-set reduction: every schedule
// differs from one the reduced depth-first search ran only in the order of
// commuting steps, so every per-process history (each process's own steps
// and their results, in order) that random schedules produce must have been
// produced by the search.
func TestDFSCoversRandom(t *testing.T) {
	cfg := small(RulesV1, 2, 1)
	cfg.Faults.SameIdentity = true // varied histories: some schedules fail
	key := func(r *Result) string {
		var b strings.Builder
		for p := 0; p < cfg.Procs; p++ {
			for _, e := range r.Trace.Events {
				if e.Proc == p {
					b.WriteString(e.String())
					b.WriteByte('\n')
				}
			}
			b.WriteString("--\n")
		}
		return b.String()
	}
	reduced := map[string]bool{}
	d := &depthFirst{}
	runs := 0
	for {
		d.pos, d.sleep, d.trail = 0, nil, d.trail[:0]
		r := RunWith(cfg, 0, RunOptions{chooser: d, Trace: true})
		runs++
		if !r.pruned {
			reduced[key(r)] = true
		}
		if !d.advance() {
			break
		}
	}
	for s := uint64(0); s < uint64(count(4000)); s++ {
		r := RunWith(cfg, 0, RunOptions{chooser: randomChooser{newRand(s, 9)}, Trace: true})
		if !reduced[key(r)] {
			t.Fatalf("random schedule %d produced histories the reduced search never did:\n%s", s, key(r))
		}
	}
	if len(reduced) < 10 {
		t.Fatalf("only %d distinct histories", len(reduced))
	}
	t.Logf("%d runs, %d distinct histories", runs, len(reduced))
}

// TestNoGoroutineLeak: crashed processes' goroutines are unwound.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := inModel(RulesV1)
	cfg.Faults.Crashes, cfg.Faults.CrashRate = 3, 0.02
	crashes := 0
	for s := uint64(0); s < uint64(count(400)); s++ {
		crashes += Run(cfg, s).Stats.Crashes
	}
	if crashes == 0 {
		t.Fatal("no crash happened")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // goroutines finishing their last send
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Fatalf("%d goroutines before, %d after %d crashes", before, n, crashes)
	}
}

// TestCheckerSeesOverlap: the checker reports two overlapping holds, and
// counts a hold that was told it lost the lock for the told delay (A3b)
// after the tell, not beyond.
func TestCheckerSeesOverlap(t *testing.T) {
	w := &world{cfg: Default(RulesV1), stopAtFirst: true, told: 250 * time.Millisecond}
	p0, p1 := &proc{w: w, id: 0}, &proc{w: w, id: 1}
	w.procs = []*proc{p0, p1}
	open := func(p *proc) {
		h := &Hold{Proc: p.id, Start: w.now, Open: true}
		p.hold = h
		w.holds = append(w.holds, h)
	}
	tell := func(p *proc) { p.hold.WasLost, p.hold.Lost = true, w.now }
	open(p0)
	w.now = time.Second
	tell(p0) // told it lost the lock at 1 s: may act until 1.25 s
	w.now = 1250 * time.Millisecond
	w.endHold(p0, "unlock")
	open(p1)
	w.now = 2 * time.Second
	w.endHold(p1, "unlock")
	if len(w.viol) != 0 {
		t.Fatalf("a told hold counted beyond the told delay: %v", w.viol)
	}
	w.now = 3 * time.Second
	open(p0)
	w.now = 4 * time.Second
	tell(p0) // told at 4 s: still acting until 4.25 s
	w.now = 4200 * time.Millisecond
	open(p1)
	w.now = 4500 * time.Millisecond
	w.endHold(p0, "unlock") // noticed late: counted until 4.25 s
	w.now = 5 * time.Second
	w.endHold(p1, "unlock")
	if len(w.viol) == 0 || w.viol[0].OverlapStart != 4200*time.Millisecond || w.viol[0].OverlapEnd != 4250*time.Millisecond {
		t.Fatalf("a told holder's last D not counted: %+v", w.viol)
	}
	w.viol = nil
	w.now = 6 * time.Second
	open(p0)
	tell(p0)
	w.now = 6100 * time.Millisecond
	w.endHold(p0, "unlock") // unlocked before the told delay ran out
	open(p1)
	w.now = 7 * time.Second
	w.endHold(p1, "unlock")
	if len(w.viol) != 0 {
		t.Fatalf("a told hold counted after its unlock: %v", w.viol)
	}
	if d := Default(RulesV1).toldDelay(); d != Default(RulesV1).Margin()/2 || d <= 0 {
		t.Fatalf("default told delay %v, want half the margin %v", d, Default(RulesV1).Margin())
	}
	w.viol, w.holds = nil, nil
	w.now = 0
	open(p0)
	w.now = 3 * time.Second
	open(p1)
	w.now = 4 * time.Second
	w.endHold(p1, "unlock")
	if len(w.viol) != 1 || w.viol[0].Kind != KindMutex || w.viol[0].OverlapStart != 3*time.Second || w.viol[0].OverlapEnd != 4*time.Second {
		t.Fatalf("overlap not reported right: %+v", w.viol)
	}
}

// TestAudit runs the matrix with few schedules: the "dropped" rows still
// search at least minDropped schedules (with 50, row A8 — whose violation
// takes 77 — once reported FAILED).
func TestAudit(t *testing.T) {
	n := 300
	if raceEnabled || testing.Short() {
		n = 50
	}
	dir := t.TempDir()
	rep, err := Audit(context.Background(), AuditOptions{Schedules: n, ShrinkTries: -1, Out: dir})
	if err != nil {
		t.Fatal(err)
	}
	md := rep.Markdown(nil)
	if !rep.OK() {
		t.Fatalf("audit not OK:\n%s", md)
	}
	if len(rep.Rows) != len(Assumptions()) || !strings.Contains(md, "| A1 |") {
		t.Fatalf("table:\n%s", md)
	}
	t.Logf("\n%s", md)
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Procs = -1 },
		func(c *Config) { c.Settle = c.Lease },
		func(c *Config) { c.Faults.ClockDrift = 1.5 },
		func(c *Config) { c.Faults.ErrorRate = 2 },
	}
	for i, f := range bad {
		c := Default(RulesV1)
		f(&c)
		if c.Validate() == nil {
			t.Errorf("case %d: invalid configuration accepted", i)
		}
	}
	if err := Default(RulesV1).Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestEnumText: the enum types of Config read back what they print (the
// CLI's flags parse them through encoding.TextUnmarshaler) and reject
// unknown names.
func TestEnumText(t *testing.T) {
	var o Ops
	if err := o.UnmarshalText([]byte("readdir,Stat")); err != nil || o != OpReadDir|OpStat || o.String() != "readdir,stat" {
		t.Fatalf("Ops: %v %v", o, err)
	}
	for _, v := range []interface {
		encoding.TextMarshaler
		encoding.TextUnmarshaler
	}{ptr(AllOps), ptr(Ops(0)), ptr(OpChtimes | OpRemove), ptr(RulesV1), ptr(RulesLegacy), ptr(KindMutexLock), ptr(KindRWLock), ptr(KindSemaphore)} {
		b, err := v.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		want := string(b)
		if err := v.UnmarshalText(b); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if b, _ := v.MarshalText(); string(b) != want {
			t.Errorf("%s read back as %s", want, b)
		}
	}
	for _, bad := range []struct {
		v encoding.TextUnmarshaler
		s string
	}{{new(Ops), "rename"}, {new(Rules), "v2"}, {new(LockKind), "mutex2"}, {new(LockKind), ""}} {
		if err := bad.v.UnmarshalText([]byte(bad.s)); err == nil {
			t.Errorf("%T accepted %q", bad.v, bad.s)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// BenchmarkRun measures the simulator's speed: scheduling steps per second
// of wall-clock time and per CPU-second of the whole process (GC included).
// Run it on one core to read the per-core figure:
//
//	go test -run '^$' -bench 'BenchmarkRun|BenchmarkExplore' -benchtime 2000x -cpu 1 ./sim
//
// Seeds 0 to b.N-1 run, so a given -benchtime always takes the same steps.
func BenchmarkRun(b *testing.B) {
	for _, cfg := range []Config{Default(RulesV1), inModel(RulesV1)} {
		name := "default"
		if cfg.Faults.CacheDelta > 0 {
			name = "in-model-faults"
		}
		b.Run(name, func(b *testing.B) {
			steps := 0
			start, cpu := time.Now(), locktest.SelfCPU()
			for i := 0; i < b.N; i++ {
				steps += Run(cfg, uint64(i)).Steps
			}
			reportSpeed(b, steps, b.N, time.Since(start), locktest.SelfCPU()-cpu)
		})
	}
}

// BenchmarkExplore is [BenchmarkRun]'s default configuration through
// Explore (one worker per GOMAXPROCS).
func BenchmarkExplore(b *testing.B) {
	cfg := Default(RulesV1)
	b.ResetTimer()
	cpu := locktest.SelfCPU()
	res := Explore(context.Background(), cfg, ExploreOptions{Schedules: b.N})
	reportSpeed(b, int(res.Steps), res.Schedules, res.Elapsed, locktest.SelfCPU()-cpu)
}

// reportSpeed reports steps and schedules per second of wall-clock time,
// and steps per CPU-second where the platform measures CPU time.
func reportSpeed(b *testing.B, steps, schedules int, el, cpu time.Duration) {
	b.ReportMetric(float64(steps)/el.Seconds(), "steps/s")
	b.ReportMetric(float64(schedules)/el.Seconds(), "schedules/s")
	if cpu > 0 {
		b.ReportMetric(float64(steps)/cpu.Seconds(), "steps/cpu-s")
	}
}

// TestExploreIndependentOfWorkers: the failing seeds and the schedule count
// do not depend on parallelism.
func TestExploreIndependentOfWorkers(t *testing.T) {
	cfg := Default(RulesLegacy)
	var got []string
	for _, w := range []int{1, 2, 4} {
		r := Explore(context.Background(), cfg, ExploreOptions{Schedules: 3000, Workers: w, MaxFailures: 3})
		s := fmt.Sprintf("%d schedules, %d steps, %+v:", r.Schedules, r.Steps, r.Stats)
		for _, f := range r.Failures {
			s += fmt.Sprintf(" %d (%d steps, %+v)", f.Seed, f.Steps, f.Stats)
		}
		got = append(got, s)
	}
	if got[0] != got[1] || got[1] != got[2] || strings.Count(got[0], "steps") < 2 {
		t.Fatalf("outcomes by worker count 1, 2, 4: %q", got)
	}
}
