package sim

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/stale"
)

// Trace conformance with the timed model (docs/model/cryolock_timed.pml,
// docs/model/README.md): every event of a simulator trace is mapped to one of
// the model's actions, or named as something the model abstracts away, and
// the guards of the model's actions are checked against the trace. A new
// event name fails the test until it is mapped here and in the README, so
// the model and the code cannot drift apart unnoticed.

// traceModelAction maps each trace event name (Event.Op) to the timed
// model's action it is, or says why the model has none.
var traceModelAction = map[string]string{
	// filesystem primitives (sim/fs.go)
	"MkdirAll":  "none: C0 prepares the directory",
	"ReadDir":   "list (the untimed models' listing; the timed model has one entry)",
	"WriteFile": "create",
	"Create":    "create (non-atomic write: the name appears)",
	"Write":     "create (non-atomic write: the content follows)",
	"Chtimes":   "stamp (the owner's first set-times) or refresh (its later ones)",
	"Stat":      "refresh's stat (by the owner: mtime advanced or unchanged) or sighting (by an observer)",
	"ReadFile":  "sighting (an observer's read before its stat, J2/J4)",
	"Remove":    "reap (by an observer) or release (by the owner)",
	// the workload and the checker (sim/world.go)
	"LOCK":      "none: an attempt begins",
	"HELD":      "hold",
	"touch":     "none: the holder acts on the resource",
	"LOST":      "told",
	"LOST?":     "none: the told holder stops acting (A3b, the end of DB)",
	"UNLOCK":    "release",
	"VIOLATION": "none: the checker's verdict",
	// time and faults (sim/env.go, sim/sched.go, sim/coverage.go)
	"START":    "the initial choice of clock rates",
	"sleep":    "time passes",
	"wake":     "time passes (a sleep cancelled)",
	"PAUSE":    "time passes: a due goroutine is late (DA)",
	"HANG":     "the refresh in flight does not take effect yet",
	"CRASH":    "none: the holder stops for good (no obligation left)",
	"WALLSTEP": "none: wall clocks are outside the Observed model (Invariant M)",
	"REAP":     "none: a coverage marker of the reap that follows",
}

// conformance replays one trace against the timed model's guards.
type conformance struct {
	t      *testing.T
	cfg    Config
	ppm    map[int]int64
	ents   map[string]*entryState
	sleepE map[[2]int]time.Duration // per goroutine: the end of its last sleep
	lastT  map[[2]int]time.Duration // per goroutine: the time of its last event
	obs    map[[2]string]sighting   // per (observer, entry): T2's memory
	count  map[string]int
	errs   []string
}

type entryState struct {
	owner, g   int
	stamped    bool
	stampT     time.Duration // when the stamp returned
	stampFail  bool
	lastCount  string        // the last counted mtime
	lo, hi     time.Duration // bounds on LastOK (real time)
	pending    bool          // an owner set-times succeeded, its stat not seen yet
	pendLo     time.Duration // lower bound on that refresh's start
	pendHi     time.Duration
	removed    bool
	mtime      string // the server's mtime of the entry, as the trace renders it ("" unknown)
	size       int
	held, told bool
	released   bool
}

type sighting struct {
	pair  string
	first time.Duration
}

func (c *conformance) local(p int, t time.Duration) time.Duration {
	return clock{ppm: c.ppm[p]}.local(t)
}

func (c *conformance) fail(e Event, format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf("%s: %s", e, fmt.Sprintf(format, args...)))
}

// isEntry says whether a trace path names an entry (not the directory, not .meta).
func isEntry(p string) bool {
	return p != "." && !strings.Contains(p, "/") && !strings.HasPrefix(p, ".")
}

func (c *conformance) step(e Event) {
	if _, ok := traceModelAction[e.Op]; !ok {
		c.fail(e, "event %q has no action of the timed model: map it in traceModelAction and docs/model/README.md", e.Op)
		return
	}
	key := [2]int{e.Proc, e.G}
	defer func() { c.lastT[key] = e.T }()
	overdue := stale.OverdueAfter(c.cfg.Lease)
	switch e.Op {
	case "START":
		s := strings.TrimSuffix(e.Result[strings.LastIndex(e.Result, "rate ")+5:], " ppm")
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			c.fail(e, "cannot read the clock rate: %v", err)
		}
		c.ppm[e.Proc] = n
	case "sleep":
		d, err := time.ParseDuration(e.Arg)
		if err != nil {
			c.fail(e, "cannot read the sleep: %v", err)
		}
		c.sleepE[key] = e.T + clock{ppm: c.ppm[e.Proc]}.real(d)
	case "WriteFile", "Create":
		if !isEntry(e.Arg) {
			return
		}
		if en, ok := c.ents[e.Arg]; ok && (en.owner != e.Proc || e.Op == "Create" || en.removed) {
			c.fail(e, "create: the name was created before (A7, Lemma 1)")
			return
		}
		if _, ok := c.ents[e.Arg]; !ok {
			// C2: LastOK is read just before the create, after the
			// goroutine's previous event.
			c.ents[e.Arg] = &entryState{owner: e.Proc, g: e.G, lo: c.lastT[key], hi: e.T}
			c.count["create"]++
		}
		if e.Op == "WriteFile" && !strings.HasPrefix(e.Result, "E") && strings.HasPrefix(e.Result, `"`) {
			c.ents[e.Arg].size = len(e.Result) - 2
		}
	case "Write":
		en, ok := c.ents[e.Arg]
		if isEntry(e.Arg) && (!ok || en.owner != e.Proc) {
			c.fail(e, "create: a write by someone other than the creator")
			return
		}
		if ok && strings.HasPrefix(e.Result, `"`) {
			en.size = len(e.Result) - 2
		}
	case "Chtimes":
		en, ok := c.ents[e.Arg]
		if !isEntry(e.Arg) || !ok {
			return
		}
		if en.owner != e.Proc {
			c.fail(e, "only the owner sets an entry's times")
			return
		}
		failed := strings.HasPrefix(e.Result, "E") || strings.HasPrefix(e.Result, "error")
		if !failed {
			en.mtime = e.Result // what the server stored
		}
		if !en.stamped && !en.stampFail {
			// stamp (C2): the owner's first set-times
			if failed {
				en.stampFail = true
			} else {
				en.stamped, en.stampT = true, e.T
			}
			c.count["stamp"]++
			return
		}
		// refresh: the loop touches only before the overdue point
		lo := c.sleepE[key] // the refresh started after its sleep ended
		if c.local(e.Proc, lo)-c.local(e.Proc, en.hi) >= overdue {
			c.fail(e, "refresh started at least 0.75 L after LastOK (the model tells instead)")
		}
		c.count["refresh"]++
		if !failed {
			en.pending, en.pendLo, en.pendHi = true, lo, e.T
		}
	case "Stat":
		en, ok := c.ents[e.Arg]
		if !isEntry(e.Arg) || !ok || !strings.HasPrefix(e.Result, "mtime ") {
			return
		}
		mtime := strings.Fields(e.Result)[1]
		if en.owner == e.Proc {
			if en.lastCount == "" {
				en.lastCount = mtime // the keeper's first read (or the stamp's mtime)
			}
			if !en.pending {
				return
			}
			en.pending = false
			if wallAfter(mtime, en.lastCount) {
				en.lastCount, en.lo, en.hi = mtime, en.pendLo, en.pendHi
				c.count["refresh-advanced"]++
			} else {
				c.count["refresh-unchanged"]++
			}
			return
		}
		f := strings.Fields(e.Result)
		if en.mtime == "" && !strings.HasSuffix(e.Result, "(cached)") {
			// The server's creation mtime (the stamp has not taken
			// effect), first shown here: earlier reads saw it too.
			en.mtime = mtime
			for k, o := range c.obs {
				if k[1] == e.Arg && strings.HasPrefix(o.pair, "creation/") {
					o.pair = mtime + strings.TrimPrefix(o.pair, "creation")
					c.obs[k] = o
				}
			}
		}
		c.sight(e, f[1]+"/"+f[3])
	case "ReadFile":
		// J2/J4 read the entry and fstat it as of the read (revalidated,
		// never cached): a sighting of the server's current pair.
		en, ok := c.ents[e.Arg]
		if !isEntry(e.Arg) || !ok || en.owner == e.Proc || !strings.HasPrefix(e.Result, `"`) {
			return
		}
		m := en.mtime
		if m == "" {
			m = "creation"
		}
		c.sight(e, m+"/"+strconv.Itoa(en.size))
	case "Remove":
		en, ok := c.ents[e.Arg]
		if !isEntry(e.Arg) || !ok || e.Result != "" {
			return
		}
		en.removed = true
		if en.owner == e.Proc {
			en.released = true
			c.count["release"]++
			return
		}
		// reap (J5): the observer saw the same (mtime, size) for a lease on its clock
		s, ok := c.obs[[2]string{strconv.Itoa(e.Proc), e.Arg}]
		if !ok {
			c.fail(e, "reap without a sighting")
			return
		}
		if got := c.local(e.Proc, e.T) - c.local(e.Proc, s.first); got < c.cfg.Lease {
			c.fail(e, "reap after %v of watching on the observer's clock < lease %v (model: oage >= L)", got, c.cfg.Lease)
		}
		c.count["reap"]++
		if en.held && !en.told && !en.released {
			c.fail(e, "reap of a holder not yet told")
		}
	case "HELD":
		en, ok := c.ents[e.Arg]
		if !ok {
			c.fail(e, "hold with an entry never created")
			return
		}
		if !en.stamped {
			c.fail(e, "hold with an entry whose stamp failed or never ran (C2: the stamp is not best effort)")
		}
		if c.local(e.Proc, e.T)-c.local(e.Proc, en.hi) >= overdue && !en.told {
			// C4.3 would have withdrawn; with LastOK ≥ lo this is a necessary bound only
			if c.local(e.Proc, e.T)-c.local(e.Proc, en.lo) >= overdue {
				c.fail(e, "hold while the heartbeat is overdue (C4.3)")
			}
		}
		en.held = true
		c.count["hold"]++
	case "LOST":
		en, ok := c.ents[e.Arg]
		if !ok {
			c.fail(e, "told about an entry never created")
			return
		}
		// told: by the loop or the watchdog at 0.75 L after LastOK, or after the entry was removed
		if !en.removed && c.local(e.Proc, e.T)-c.local(e.Proc, en.lo) < overdue {
			c.fail(e, "told %v after LastOK on its clock, before 0.75 L, with the entry present",
				c.local(e.Proc, e.T)-c.local(e.Proc, en.lo))
		}
		en.told = true
		c.count["told"]++
	case "CRASH":
		for _, en := range c.ents {
			if en.owner == e.Proc {
				en.released = true // a crashed holder acts no more
			}
		}
	}
	c.checkUrgent(e)
}

// sight records an observer's sighting of an entry's (mtime, size) pair:
// T2's memory restarts when the pair changes.
func (c *conformance) sight(e Event, pair string) {
	k := [2]string{strconv.Itoa(e.Proc), e.Arg}
	if s, ok := c.obs[k]; !ok || s.pair != pair {
		c.obs[k] = sighting{pair: pair, first: e.T}
	}
	c.count["sighting"]++
}

// checkUrgent is the model's urgency: a holder that is not told must be told
// within 0.75 L + DA (on its clock) after LastOK.
func (c *conformance) checkUrgent(e Event) {
	da := c.cfg.DelayBound()
	for name, en := range c.ents {
		if !en.held || en.told || en.released || en.removed {
			continue
		}
		bound := stale.OverdueAfter(c.cfg.Lease) + c.local(en.owner, da) + time.Millisecond
		if got := c.local(en.owner, e.T) - c.local(en.owner, en.hi); got > bound {
			c.fail(e, "holder of %s not told %v after LastOK on its clock (model: within 0.75 L + DA = %v)", name, got, bound)
			en.told = true // report once
		}
	}
}

// wallAfter compares two fmtWall renderings ("[-]S.UUUUUUs").
func wallAfter(a, b string) bool {
	pa, ea := time.ParseDuration(a)
	pb, eb := time.ParseDuration(b)
	if ea != nil || eb != nil {
		return a != b
	}
	return pa > pb
}

// conformanceConfig is inside the fault model, under the Observed rule, with
// zero latency (so that a refresh's start and its set-times coincide but for
// pauses), coarse mtimes and failing set-times (refreshes that do not
// advance the mtime), hung set-times (the watchdog) and long holds (reaps of
// told holders).
func conformanceConfig() Config {
	c := inModel(RulesV1)
	c.LongHold = 0.5
	c.Faults.LatencyMin, c.Faults.LatencyMax = 0, 0
	c.Faults.MtimeGranularity = 5 * time.Second // coarser than some periods: unchanged refreshes
	c.Faults.ErrorRate = 0.2
	c.Faults.ErrorOps = OpChtimes
	c.Faults.Hangs = 2
	c.Faults.HangRate = 0.02
	c.Faults.HangMin, c.Faults.HangMax = 5*time.Second, 20*time.Second
	c.Faults.HangOps = OpChtimes
	return c.WithDefaults()
}

func TestTraceConformsToTimedModel(t *testing.T) {
	cfg := conformanceConfig()
	if err := cfg.InModel(); err != nil {
		t.Fatal(err)
	}
	if cfg.Stale != stale.Observed {
		t.Fatalf("the timed model is of the Observed rule, got %v", cfg.Stale)
	}
	total := map[string]int{}
	ops := map[string]bool{}
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		r := RunWith(cfg, seed, RunOptions{Trace: true})
		if len(r.Violations) > 0 {
			t.Fatalf("seed %d: %v", seed, r.Violations[0])
		}
		c := &conformance{t: t, cfg: cfg, ppm: map[int]int64{}, ents: map[string]*entryState{},
			sleepE: map[[2]int]time.Duration{}, lastT: map[[2]int]time.Duration{},
			obs: map[[2]string]sighting{}, count: map[string]int{}}
		for _, e := range r.Trace.Events {
			ops[e.Op] = true
			c.step(e)
		}
		if len(c.errs) > 0 {
			t.Fatalf("seed %d (%s): the trace leaves the timed model (%d steps); first: %s",
				seed, cfg.Summary(), len(c.errs), c.errs[0])
		}
		for k, v := range c.count {
			total[k] += v
		}
	}
	t.Logf("%d seeds: model actions %v", seeds, total)
	// Every guard must have been exercised, or the test proves nothing.
	for _, a := range []string{"create", "stamp", "refresh", "refresh-advanced", "refresh-unchanged", "sighting", "reap", "hold", "told", "release"} {
		if total[a] == 0 {
			t.Errorf("no %q action in %d seeds: the conformance check is vacuous for it", a, seeds)
		}
	}
}

// TestTraceConformanceCatchesDrift checks the checker: a trace in which an
// observer reaps too early, or an event with no model action, is rejected.
func TestTraceConformanceCatchesDrift(t *testing.T) {
	cfg := conformanceConfig()
	mk := func() *conformance {
		return &conformance{t: t, cfg: cfg, ppm: map[int]int64{}, ents: map[string]*entryState{},
			sleepE: map[[2]int]time.Duration{}, lastT: map[[2]int]time.Duration{},
			obs: map[[2]string]sighting{}, count: map[string]int{}}
	}
	s := time.Second
	early := []Event{
		{T: 0, Proc: 0, G: 0, Op: "WriteFile", Arg: "a.1", Result: `"10"`},
		{T: 0, Proc: 0, G: 0, Op: "Chtimes", Arg: "a.1", Result: "0.000000s"},
		{T: 1 * s, Proc: 1, G: 0, Op: "Stat", Arg: "a.1", Result: "mtime 0.000000s size 2"},
		{T: 9 * s, Proc: 1, G: 0, Op: "Stat", Arg: "a.1", Result: "mtime 0.000000s size 2"},
		{T: 9 * s, Proc: 1, G: 0, Op: "Remove", Arg: "a.1"},
	}
	c := mk()
	for _, e := range early {
		c.step(e)
	}
	if len(c.errs) == 0 || !strings.Contains(c.errs[0], "reap after") {
		t.Errorf("an early reap was not caught: %v", c.errs)
	}
	c = mk()
	c.step(Event{Op: "FSYNC"})
	if len(c.errs) == 0 {
		t.Error("an unmapped event name was not caught")
	}
}
