package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"
)

// Chooser picks which of n runnable simulated goroutines steps next. The
// simulator asks only when n ≥ 2. Random exploration uses a seeded
// generator; exhaustive exploration replays and extends choice sequences.
type Chooser interface {
	Choose(n int) int
}

type randChooser struct{ r *rand.Rand }

func (c randChooser) Choose(n int) int { return c.r.IntN(n) }

// errKilled unwinds a simulated goroutine whose process crashed or whose run
// ended: its pending scheduling point panics with it.
type killedPanic struct{}

var errKilled = killedPanic{}

type gstate uint8

const (
	gRunnable gstate = iota
	gSleeping
	gDone
)

// gor is one simulated goroutine: a real goroutine that runs only while it
// holds the baton.
type gor struct {
	w      *world
	p      *proc
	id     int
	main   bool // the process's workload goroutine (not a heartbeat)
	wake   chan struct{}
	state  gstate
	until  time.Duration // virtual wake-up time while sleeping
	ctx    context.Context
	byCtx  bool // woken because ctx was done
	killed bool
	f      func()
	pend   pending // the primitive it is parked before (zero: none)
}

// pending is the filesystem primitive a parked goroutine will perform first
// when it next runs; everything else it does until its next scheduling
// point is local to its process.
type pending struct {
	op   Ops
	path string
}

// opChooser is a Chooser that wants to know what each runnable goroutine
// will do (for partial-order reduction). It returns -1 to abandon a run
// that only repeats schedules already covered.
type opChooser interface {
	ChooseOps(gs []*gor) int
}

// timer is a virtual-time event run by the scheduler (virtual deadlines).
type timer struct {
	at time.Duration
	f  func()
}

// spawn registers a new simulated goroutine of p running f; it starts when
// the scheduler first picks it.
func (w *world) spawn(p *proc, main bool, f func()) *gor {
	g := &gor{w: w, p: p, id: w.nextG, main: main, wake: make(chan struct{}), f: f}
	w.nextG++
	w.gs = append(w.gs, g)
	go g.run()
	return g
}

func (g *gor) run() {
	<-g.wake
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(killedPanic); !ok {
				g.w.panicked = fmt.Sprintf("panic in p%d goroutine %d: %v\n%s", g.p.id, g.id, r, debug.Stack())
			}
		}
		g.state = gDone
		g.w.back <- struct{}{}
	}()
	if g.killed {
		return
	}
	g.f()
	if !g.main {
		g.p.checkLost()
	}
}

// park hands the baton back to the scheduler and waits to be picked again.
// Only the goroutine holding the baton calls it, for itself.
func (g *gor) park() {
	if g.killed {
		panic(errKilled)
	}
	g.w.back <- struct{}{}
	<-g.wake
	if g.killed {
		panic(errKilled)
	}
}

// yield is a scheduling point that keeps g runnable.
func (g *gor) yield() {
	g.state = gRunnable
	g.park()
}

// sleepUntil parks g until virtual time t or until ctx is done; it reports
// whether ctx ended the sleep.
func (g *gor) sleepUntil(ctx context.Context, t time.Duration) bool {
	g.state, g.until, g.byCtx = gSleeping, t, false
	g.ctx = nil
	if ctx != nil && ctx.Done() != nil {
		g.ctx = ctx
	}
	g.park()
	g.ctx = nil
	return g.byCtx
}

// loop is the scheduler: it runs in the caller's goroutine until the run
// ends, then kills every simulated goroutine left.
func (w *world) loop() {
	defer w.cleanup()
	var runnable []*gor
	for !w.stopped && w.active > 0 {
		runnable = runnable[:0]
		live := 0
		for _, g := range w.gs {
			if g.state == gDone {
				continue
			}
			live++
			p := g.p
			if p.crashed || w.now < p.frozenUntil {
				continue
			}
			switch g.state {
			case gRunnable:
				runnable = append(runnable, g)
			case gSleeping:
				if g.ctx != nil && g.ctx.Err() != nil {
					g.state, g.byCtx = gRunnable, true
					runnable = append(runnable, g)
				} else if g.until <= w.now {
					g.state = gRunnable
					runnable = append(runnable, g)
				}
			}
		}
		if live*2 < len(w.gs) {
			w.compact()
		}
		if len(runnable) == 0 {
			if !w.advance() {
				return
			}
			continue
		}
		i := 0
		if oc, ok := w.chooser.(opChooser); ok {
			i = oc.ChooseOps(runnable)
			if i < 0 {
				w.pruned = true
				return
			}
		} else if len(runnable) > 1 {
			i = w.chooser.Choose(len(runnable))
			if i < 0 || i >= len(runnable) {
				panic(fmt.Sprintf("sim: chooser returned %d of %d", i, len(runnable)))
			}
		}
		g := runnable[i]
		if w.injectFault(g.p) {
			continue
		}
		w.cur = g
		g.wake <- struct{}{}
		<-w.back
		w.cur = nil
		w.steps++
		if w.panicked != "" {
			w.violate(Violation{Kind: KindPanic, Time: w.now, Procs: []int{g.p.id}, Msg: w.panicked})
			return
		}
		if w.active == 0 {
			return
		}
		if w.steps >= w.cfg.MaxSteps {
			w.progressViolation(fmt.Sprintf("step bound %d reached", w.cfg.MaxSteps))
			return
		}
	}
}

// advance moves virtual time to the next event; it returns false when the
// run must end (nothing can ever run again, or the time bound passed).
func (w *world) advance() bool {
	const inf = time.Duration(1<<63 - 1)
	next := inf
	for _, g := range w.gs {
		if g.state == gDone || g.p.crashed {
			continue
		}
		t := g.p.frozenUntil
		if g.state == gSleeping {
			t = max(t, g.until)
		}
		next = min(next, t)
	}
	for _, t := range w.timers {
		next = min(next, t.at)
	}
	if next == inf {
		w.progressViolation("deadlock: no goroutine can run and none sleeps")
		return false
	}
	if next > w.maxTime {
		w.now = w.maxTime
		w.progressViolation(fmt.Sprintf("time bound %v reached", w.maxTime))
		return false
	}
	if next > w.now {
		w.now = next
	}
	// Fire due timers in the order they were set.
	kept := w.timers[:0]
	var due []timer
	for _, t := range w.timers {
		if t.at <= w.now {
			due = append(due, t)
		} else {
			kept = append(kept, t)
		}
	}
	w.timers = kept
	for _, t := range due {
		t.f()
	}
	return true
}

func (w *world) compact() {
	kept := w.gs[:0]
	for _, g := range w.gs {
		if g.state != gDone {
			kept = append(kept, g)
		}
	}
	clear(w.gs[len(kept):])
	w.gs = kept
}

// cleanup unwinds every simulated goroutine still parked, so that no real
// goroutine outlives the run.
func (w *world) cleanup() {
	for _, g := range w.gs {
		if g.state == gDone {
			continue
		}
		g.killed = true
		g.wake <- struct{}{}
		<-w.back
	}
	w.gs = nil
	for _, t := range w.timers {
		t.f()
	}
	w.timers = nil
}

// injectFault may crash or pause p just as it was picked; it reports whether
// it did.
func (w *world) injectFault(p *proc) bool {
	f := &w.cfg.Faults
	if p.done {
		return false
	}
	if f.CrashRate > 0 && w.crashes < f.Crashes && w.frng.Float64() < f.CrashRate {
		w.crashes++
		w.crash(p)
		return true
	}
	if f.PauseRate > 0 && w.pauses < f.Pauses && w.frng.Float64() < f.PauseRate {
		w.pauses++
		d := f.PauseMin
		if f.PauseMax > f.PauseMin {
			d += time.Duration(w.frng.Int64N(int64(f.PauseMax - f.PauseMin)))
		}
		p.frozenUntil = w.now + d
		w.event(p.id, -1, "PAUSE", d.String(), fmt.Sprintf("frozen until %s", fmtTime(p.frozenUntil)))
		return true
	}
	if f.WallStepRate > 0 && w.wsteps < f.WallSteps && w.frng.Float64() < f.WallStepRate {
		w.wsteps++
		m := int64(f.WallStepMax)
		d := time.Duration(w.frng.Int64N(2*m+1) - m)
		p.clock.offset += d
		w.event(p.id, -1, "WALLSTEP", d.String(), "its wall clock steps (its monotonic clock does not)")
	}
	return false
}

func (w *world) crash(p *proc) {
	p.crashed = true
	w.event(p.id, -1, "CRASH", "", "the process stops forever; its files stay")
	w.endHold(p, "crash")
	if !p.done {
		p.done = true
		w.active--
	}
}
