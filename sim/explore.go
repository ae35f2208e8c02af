package sim

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ExploreOptions control [Explore].
type ExploreOptions struct {
	// Seed is the first seed; runs use Seed, Seed+1, ...
	Seed uint64
	// Schedules is how many seeds to run (default 1000).
	Schedules int
	// Workers is how many runs go in parallel (default GOMAXPROCS). The
	// outcome does not depend on it.
	Workers int
	// MaxFailures stops exploring once that many failing seeds are known
	// (default 1; negative: never stop). Failing seeds are always the
	// lowest ones, whatever the number of workers.
	MaxFailures int
	// Progress, if set, is called about every ProgressEvery (default
	// 250 ms) from a separate goroutine, and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// Progress is a snapshot of a running exploration.
type Progress struct {
	Done, Total int // schedules finished, planned
	Failures    int
	Steps       int64
	Elapsed     time.Duration
}

// Rate is schedules per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// ETA estimates the time left.
func (p Progress) ETA() time.Duration {
	r := p.Rate()
	if r <= 0 || p.Done >= p.Total {
		return 0
	}
	return time.Duration(float64(p.Total-p.Done) / r * float64(time.Second))
}

// ExploreResult is the outcome of [Explore].
type ExploreResult struct {
	Config    Config
	FirstSeed uint64
	// Schedules is how many seeds were run: all of them, or (when it
	// stopped at MaxFailures) every seed up to the last failing one kept.
	Schedules int
	Steps     int64 // steps of the runs counted in Schedules
	Elapsed   time.Duration
	// Failures are the failing runs, by seed.
	Failures []*Result
	// Stats aggregates the runs counted in Schedules: sums, except
	// MaxBypass (the largest). Like Schedules and Failures, it does not
	// depend on Workers.
	Stats Stats
}

// tally is one run's contribution to an exploration's totals.
type tally struct {
	steps int64
	stats Stats
}

// Explore runs cfg from many seeds and collects the failing runs. It stops
// early when ctx is done (Schedules then counts the seeds completed in order).
func Explore(ctx context.Context, cfg Config, o ExploreOptions) *ExploreResult {
	cfg = cfg.WithDefaults()
	if o.Schedules <= 0 {
		o.Schedules = 1000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	o.Workers = min(o.Workers, o.Schedules)
	if o.MaxFailures == 0 {
		o.MaxFailures = 1
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 250 * time.Millisecond
	}
	start := time.Now()
	var (
		next  atomic.Int64 // next seed offset to hand out
		limit atomic.Int64 // seeds at offsets ≥ limit are not needed
		done  atomic.Int64
		steps atomic.Int64 // all steps simulated, for progress reports
		mu    sync.Mutex
		fails []*Result
		// The totals count exactly the seeds below the final limit, added
		// in seed order (a seed is added once every lower one finished,
		// when every failure at or below it is known), so that they do
		// not depend on the number of workers.
		pending = map[int64]tally{}
		commit  int64
		total   tally
	)
	limit.Store(int64(o.Schedules))
	completed := make([]atomic.Bool, o.Schedules)
	var wg sync.WaitGroup
	for i := 0; i < o.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				if k >= limit.Load() {
					break
				}
				r := Run(cfg, o.Seed+uint64(k))
				steps.Add(int64(r.Steps))
				mu.Lock()
				if r.Failed() {
					fails = append(fails, r)
					if o.MaxFailures > 0 && len(fails) >= o.MaxFailures {
						slices.SortFunc(fails, func(a, b *Result) int { return cmp.Compare(a.Seed, b.Seed) })
						fails = fails[:o.MaxFailures]
						lim := int64(fails[len(fails)-1].Seed-o.Seed) + 1
						if lim < limit.Load() {
							limit.Store(lim)
						}
					}
				}
				pending[k] = tally{int64(r.Steps), r.Stats}
				for {
					t, ok := pending[commit]
					if !ok {
						break
					}
					delete(pending, commit)
					if commit < limit.Load() {
						total.steps += t.steps
						total.stats.add(t.stats)
					}
					commit++
				}
				mu.Unlock()
				completed[k].Store(true)
				done.Add(1)
			}
		}()
	}
	stopProgress := make(chan struct{})
	var pwg sync.WaitGroup
	snapshot := func() Progress {
		mu.Lock()
		nf := len(fails)
		mu.Unlock()
		return Progress{Done: int(done.Load()), Total: int(limit.Load()), Failures: nf, Steps: steps.Load(), Elapsed: time.Since(start)}
	}
	if o.Progress != nil {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			t := time.NewTicker(o.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-t.C:
					o.Progress(snapshot())
				}
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	pwg.Wait()
	slices.SortFunc(fails, func(a, b *Result) int { return cmp.Compare(a.Seed, b.Seed) })
	n := int(limit.Load())
	// Count the seeds completed without a gap (all of them unless cancelled).
	ran := 0
	for ran < n && completed[ran].Load() {
		ran++
	}
	kept := fails[:0]
	for _, f := range fails {
		if int(f.Seed-o.Seed) < ran {
			kept = append(kept, f)
		}
	}
	res := &ExploreResult{Config: cfg, FirstSeed: o.Seed, Schedules: ran, Steps: total.steps, Elapsed: time.Since(start), Failures: kept, Stats: total.stats}
	if o.Progress != nil {
		p := snapshot()
		p.Done, p.Total, p.Failures = ran, n, len(kept)
		o.Progress(p)
	}
	return res
}

func (s *Stats) add(o Stats) {
	s.Acquired += o.Acquired
	s.LockErrs += o.LockErrs
	s.Lost += o.Lost
	s.Crashes += o.Crashes
	s.Pauses += o.Pauses
	s.MaxBypass = max(s.MaxBypass, o.MaxBypass)
	s.Reaps += o.Reaps
	s.ReapsLive += o.ReapsLive
	s.Ties += o.Ties
	s.FailedStamps += o.FailedStamps
	s.HungCalls += o.HungCalls
	s.TryLockWins += o.TryLockWins
	s.WallSteps += o.WallSteps
}

// depthFirst is a Chooser that enumerates schedules depth-first: each run replays
// the previous run's choices and takes the next alternative at the deepest
// choice point that has one. It prunes with sleep sets (Godefroid's
// partial-order reduction): after the subtree where goroutine a stepped
// first has been explored, a sibling subtree where b steps first need not
// run a before something dependent on a happens, when a and b commute.
// Two steps commute when they belong to different processes and their
// pending primitives do not touch the same entry (two reads always commute;
// a listing conflicts with a create or remove in the listed directory).
// Beyond Depth choice points it always picks the first goroutine that is
// not asleep.
type depthFirst struct {
	stack []choicePoint
	pos   int
	depth int
	sleep []transition // current sleep set of this run
	err   string
	nodes int
	trail []int // every choice among several in the current run
}

// record returns the current run's choices, for Replay.
func (d *depthFirst) record() []int { return slices.Clone(d.trail) }

// transition is a goroutine's next step, as the sleep sets see it: which
// goroutine, of which process, about to perform which primitive.
type transition struct {
	id   int
	proc int
	pend pending
}

// choicePoint is a scheduling point of the current run where several
// goroutines could step, with the alternatives explored so far.
type choicePoint struct {
	ops   []transition // the runnable goroutines at this point
	c     int          // index chosen in the current run
	sleep []transition // sleep set on entry
	done  []int        // indices whose subtrees were explored
}

func asleep(set []transition, g transition) bool {
	for _, s := range set {
		if s.id == g.id {
			return true
		}
	}
	return false
}

// independent reports whether steps a and b commute.
func independent(a, b transition) bool {
	if a.proc == b.proc {
		return false
	}
	if a.pend.op == 0 || b.pend.op == 0 {
		return true // purely local step
	}
	const reads = OpReadDir | OpReadFile | OpStat
	if a.pend.op|b.pend.op == a.pend.op&reads|b.pend.op&reads {
		return true // both read
	}
	if a.pend.op == OpMkdirAll || b.pend.op == OpMkdirAll {
		return false
	}
	if a.pend.path == b.pend.path {
		return false
	}
	// A listing conflicts with creating or removing an entry in it.
	conflict := func(l, m transition) bool {
		return l.pend.op == OpReadDir && m.pend.op&(OpWriteFile|OpRemove) != 0 && path.Dir(m.pend.path) == l.pend.path
	}
	return !conflict(a, b) && !conflict(b, a)
}

// after returns the sleep set once g stepped from set.
func after(set []transition, g transition) []transition {
	var out []transition
	for _, s := range set {
		if s.id != g.id && independent(s, g) {
			out = append(out, s)
		}
	}
	return out
}

func (d *depthFirst) Choose(n int) int { panic("sim: dfs needs ChooseOps") }

func (d *depthFirst) ChooseOps(gs []*goroutine) int {
	ops := make([]transition, len(gs))
	for i, g := range gs {
		ops[i] = transition{id: g.id, proc: g.p.id, pend: g.pend}
	}
	if len(gs) == 1 {
		if asleep(d.sleep, ops[0]) {
			return -1
		}
		d.sleep = after(d.sleep, ops[0])
		return 0
	}
	if d.pos < len(d.stack) {
		nd := &d.stack[d.pos]
		if len(nd.ops) != len(ops) && d.err == "" {
			d.err = fmt.Sprintf("replay diverged at choice %d: %d runnable, had %d", d.pos, len(ops), len(nd.ops))
		}
		d.pos++
		c := min(nd.c, len(ops)-1)
		d.trail = append(d.trail, c)
		set := append([]transition(nil), nd.sleep...)
		for _, i := range nd.done {
			set = append(set, nd.ops[i])
		}
		d.sleep = after(set, ops[c])
		return c
	}
	c := -1
	for i, o := range ops {
		if !asleep(d.sleep, o) {
			c = i
			break
		}
	}
	if c < 0 {
		return -1
	}
	d.trail = append(d.trail, c)
	if d.depth > 0 && d.pos >= d.depth {
		d.sleep = after(d.sleep, ops[c])
		return c
	}
	d.stack = append(d.stack, choicePoint{ops: ops, c: c, sleep: d.sleep})
	d.nodes++
	d.pos++
	d.sleep = after(d.sleep, ops[c])
	return c
}

// advance moves to the next schedule; false when every one was explored.
func (d *depthFirst) advance() bool {
	d.stack = d.stack[:d.pos]
	for len(d.stack) > 0 {
		nd := &d.stack[len(d.stack)-1]
		nd.done = append(nd.done, nd.c)
		for i := range nd.ops {
			if !slices.Contains(nd.done, i) && !asleep(nd.sleep, nd.ops[i]) {
				nd.c = i
				d.pos, d.sleep = 0, nil
				return true
			}
		}
		d.stack = d.stack[:len(d.stack)-1]
	}
	return false
}

// ExhaustiveOptions control [Exhaustive].
type ExhaustiveOptions struct {
	// Seed fixes everything but the schedule (tickets, holds, latencies).
	Seed uint64
	// Depth bounds the choice points that branch (0: no bound); past it the
	// first runnable goroutine always runs.
	Depth int
	// Limit stops after that many schedules (0: no limit).
	Limit int
	// KeepGoing continues after a failing schedule.
	KeepGoing bool
}

// ExhaustiveResult is the outcome of [Exhaustive].
type ExhaustiveResult struct {
	Config    Config
	Schedules int  // distinct complete schedules run
	Pruned    int  // runs abandoned by the sleep-set reduction
	Complete  bool // every schedule (within Depth) was run
	MaxChoice int  // the deepest choice sequence seen
	Steps     int64
	Elapsed   time.Duration
	Failures  []*Result
	// Stats aggregates the complete (not pruned) schedules.
	Stats Stats
	// Err reports nondeterminism detected while replaying (a simulator bug).
	Err string
}

// Exhaustive runs every schedule of cfg (every choice of who steps next at
// every scheduling point where several goroutines can run), depth-first, by
// replaying choice sequences. Keep the scope small: 2 processes × 1–2
// acquisitions, or 3 × 1 with a depth bound.
func Exhaustive(ctx context.Context, cfg Config, o ExhaustiveOptions) *ExhaustiveResult {
	cfg = cfg.WithDefaults()
	start := time.Now()
	d := &depthFirst{depth: o.Depth}
	res := &ExhaustiveResult{Config: cfg}
	for ctx.Err() == nil {
		d.pos, d.sleep, d.trail = 0, nil, d.trail[:0]
		r := RunWith(cfg, o.Seed, RunOptions{Chooser: d})
		if r.pruned {
			res.Pruned++
		} else {
			res.Schedules++
			res.Stats.add(r.Stats)
		}
		res.Steps += int64(r.Steps)
		res.MaxChoice = max(res.MaxChoice, len(d.stack))
		if d.err != "" {
			res.Err = d.err
			break
		}
		if r.Failed() {
			r.choices = d.record()
			res.Failures = append(res.Failures, r)
			if !o.KeepGoing {
				break
			}
		}
		if !d.advance() {
			res.Complete = true
			break
		}
		if o.Limit > 0 && res.Schedules >= o.Limit {
			break
		}
	}
	res.Elapsed = time.Since(start)
	return res
}

// replay is a Chooser that repeats a recorded choice sequence, then picks
// the first runnable goroutine.
type replayChooser struct {
	c   []int
	pos int
}

func (r *replayChooser) Choose(n int) int {
	if r.pos < len(r.c) {
		v := r.c[r.pos]
		r.pos++
		return min(v, n-1)
	}
	return 0
}

// Replay reruns a failing result with its trace recorded: from its seed, or
// for a result of [Exhaustive], from its recorded choice sequence.
func Replay(r *Result) *Result {
	o := RunOptions{Trace: true}
	if r.choices != nil {
		o.Chooser = &replayChooser{c: r.choices}
	}
	out := RunWith(r.Config, r.Seed, o)
	out.choices = r.choices
	return out
}

// ShrinkOptions control [Shrink].
type ShrinkOptions struct {
	// Tries is how many seeds each smaller configuration gets to fail
	// (default 3000).
	Tries int
	// Shortest is how many failing seeds of the final configuration are
	// compared to pick the shortest trace (default 20).
	Shortest int
	Workers  int
	// Progress, if set, is called about every ProgressEvery (default 2 s)
	// from a separate goroutine while Shrink runs, and once at the end. It
	// only observes: the result does not depend on it.
	Progress      func(ShrinkProgress)
	ProgressEvery time.Duration
}

// ShrinkProgress is a snapshot of a running [Shrink].
type ShrinkProgress struct {
	Tried     int    // smaller configurations tried (or being tried)
	Schedules int    // schedules run so far, over every configuration tried
	Config    Config // the smallest failing configuration so far
	Steps     int    // steps of the shortest failing run so far
	Elapsed   time.Duration
}

// Shrink looks for a smaller failure of the same kind as failed: fewer
// processes, acquisitions and faults (each reduction is kept if some seed
// still fails), then, among failing seeds of the smallest configuration,
// the run that fails in the fewest steps. It returns that run with its
// trace recorded (failed itself, replayed, when nothing smaller fails).
func Shrink(ctx context.Context, failed *Result, o ShrinkOptions) *Result {
	if o.Tries <= 0 {
		o.Tries = 3000
	}
	if o.Shortest <= 0 {
		o.Shortest = 20
	}
	if len(failed.Violations) == 0 {
		return failed
	}
	kind := failed.Violations[0].Kind
	best := failed
	cfg := failed.Config
	// Progress reports only read this state, under mu.
	var (
		mu                sync.Mutex
		tried, ran, inTry int
		start             = time.Now()
	)
	snapshot := func() ShrinkProgress {
		mu.Lock()
		defer mu.Unlock()
		return ShrinkProgress{Tried: tried, Schedules: ran + inTry, Config: cfg, Steps: best.Steps, Elapsed: time.Since(start)}
	}
	set := func(f func()) {
		mu.Lock()
		f()
		mu.Unlock()
	}
	var eo ExploreOptions
	if o.Progress != nil {
		eo.Progress = func(p Progress) { set(func() { inTry = p.Done }) }
		if o.ProgressEvery <= 0 {
			o.ProgressEvery = 2 * time.Second
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(o.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					o.Progress(snapshot())
				}
			}
		}()
		defer func() {
			close(stop)
			wg.Wait()
			o.Progress(snapshot())
		}()
	}
	try := func(c Config, n int) []*Result {
		if c.Validate() != nil {
			return nil
		}
		set(func() { tried++ })
		r := Explore(ctx, c, ExploreOptions{Schedules: o.Tries, Workers: o.Workers, MaxFailures: n, Progress: eo.Progress})
		set(func() { ran, inTry = ran+r.Schedules, 0 })
		var out []*Result
		for _, f := range r.Failures {
			if f.Violations[0].Kind == kind {
				out = append(out, f)
			}
		}
		return out
	}
	for changed := true; changed && ctx.Err() == nil; {
		changed = false
		for _, m := range reductions(cfg) {
			if fs := try(m, 1); len(fs) > 0 {
				set(func() { cfg, best = m, fs[0] })
				changed = true
				break
			}
		}
	}
	for _, f := range try(cfg, o.Shortest) {
		if f.Steps < best.Steps {
			set(func() { best = f })
		}
	}
	return Replay(best)
}

// reductions lists configurations one step smaller than c.
func reductions(c Config) []Config {
	var out []Config
	add := func(f func(*Config)) {
		m := c
		f(&m)
		out = append(out, m)
	}
	if c.Procs > 2 {
		add(func(m *Config) { m.Procs-- })
	}
	if c.Acquisitions > 1 {
		add(func(m *Config) { m.Acquisitions-- })
	}
	f := c.Faults
	if f.Crashes > 0 && f.CrashRate > 0 {
		add(func(m *Config) { m.Faults.Crashes-- })
	}
	if f.Pauses > 0 && f.PauseRate > 0 {
		add(func(m *Config) { m.Faults.Pauses-- })
	}
	if f.ErrorRate > 0 {
		add(func(m *Config) { m.Faults.ErrorRate = 0 })
	}
	if f.NonAtomicWrite {
		add(func(m *Config) { m.Faults.NonAtomicWrite = false })
	}
	if f.CacheDelta > 0 {
		add(func(m *Config) { m.Faults.CacheDelta = 0 })
	}
	if f.MtimeGranularity > 0 {
		add(func(m *Config) { m.Faults.MtimeGranularity = 0 })
	}
	if f.ClockDrift > 0 {
		add(func(m *Config) { m.Faults.ClockDrift = 0 })
	}
	if f.ClockOffset > 0 {
		add(func(m *Config) { m.Faults.ClockOffset = 0 })
	}
	if f.LatencyMax > 0 {
		add(func(m *Config) { m.Faults.LatencyMin, m.Faults.LatencyMax = 0, 0 })
	}
	return out
}
