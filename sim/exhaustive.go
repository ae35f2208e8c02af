package sim

import (
	"context"
	"fmt"
	"path"
	"slices"
	"time"
)

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
		r := RunWith(cfg, o.Seed, RunOptions{chooser: d})
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

// replayChooser repeats a recorded choice sequence (one entry per point

// depthFirst is a chooser that enumerates schedules depth-first: each run replays
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

func (d *depthFirst) choose(gs []*goroutine) int {
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

// where several goroutines could step), then picks the first runnable
// goroutine.
type replayChooser struct {
	c   []int
	pos int
}

func (r *replayChooser) choose(runnable []*goroutine) int {
	n := len(runnable)
	if n < 2 {
		return 0
	}
	if r.pos < len(r.c) {
		v := r.c[r.pos]
		r.pos++
		return min(v, n-1)
	}
	return 0
}
