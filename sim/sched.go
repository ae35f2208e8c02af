package sim

import (
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"time"
)

// chooser picks which runnable simulated goroutine steps next: random
// exploration draws from a seeded generator (randomChooser), exhaustive
// exploration extends choice sequences depth-first (depthFirst), and a
// replay repeats a recorded one (replayChooser).
type chooser interface {
	// choose returns the index in runnable (never empty) of the goroutine
	// that steps next, or -1 to abandon a run that only repeats schedules
	// already covered (partial-order reduction).
	choose(runnable []*goroutine) int
}

// randomChooser picks uniformly; it draws only when there is a choice, so
// that a run's schedule depends on the seed alone.
type randomChooser struct{ r *rand.Rand }

func (c randomChooser) choose(runnable []*goroutine) int {
	if len(runnable) < 2 {
		return 0
	}
	return c.r.IntN(len(runnable))
}

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

// goroutine is one simulated goroutine, run by a worker (a coroutine) only
// while it holds the baton. The run's loop resumes its worker; it runs
// until its next scheduling point, where it either keeps the baton (picked
// again) or yields back to the loop, naming the goroutine to resume next.
type goroutine struct {
	w     *world
	p     *proc
	id    int
	main  bool    // the process's workload goroutine (not a heartbeat)
	k     *worker // the coroutine that runs it
	state gstate
	until time.Duration   // virtual wake-up time while sleeping
	done  <-chan struct{} // its sleep's ctx.Done(), while sleeping
	byCtx bool            // woken because ctx was done (or it was stopped)
	// stopped is set by the stop function of env.AfterFunc: it ends the
	// goroutine's sleep as its context's cancellation did, without one.
	stopped bool
	killed  bool
	f       func()
	pend    pending // the primitive it is parked before (zero: none)
}

// worker is a coroutine (newCoro) that runs simulated goroutines of one
// run, one after another: a goroutine that ends leaves its worker idle, to
// run the next one spawned. A reused worker's stack has already grown to
// what the protocol's calls need; a new coroutine's grows again, copying.
type worker struct {
	w       *world
	g       *goroutine // the goroutine it runs (nil: none)
	resume  func()     // run it until it suspends or ends
	suspend func()     // from inside it: back to the loop
}

// pending is the filesystem primitive a parked goroutine will perform first
// when it next runs; everything else it does until its next scheduling
// point is local to its process.
type pending struct {
	op   Ops
	path string
}

// closed reports whether c is closed, without blocking (cheaper than
// ctx.Err, which takes a lock, on the scheduler's hot path).
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// timer is a virtual-time event run by the scheduler (virtual deadlines).
type timer struct {
	at time.Duration
	f  func()
}

// spawn registers a new simulated goroutine of p running f, on an idle
// worker or a new one; it starts when the scheduler first picks it.
func (w *world) spawn(p *proc, main bool, f func()) *goroutine {
	g := &goroutine{w: w, p: p, id: w.nextG, main: main, f: f}
	w.nextG++
	w.gs = append(w.gs, g)
	var k *worker
	if n := len(w.idle); n > 0 {
		k, w.idle = w.idle[n-1], w.idle[:n-1]
	} else {
		k = &worker{w: w}
		k.resume = newCoro(k.loop)
	}
	k.g, g.k = g, k
	return g
}

// loop is a worker's body: it runs its goroutine; when that ends (not
// killed), it picks the goroutine that steps next, becomes idle and
// suspends, back to the run's loop, until it is given another goroutine to
// run or the run ends (cleanup resumes it with none).
func (k *worker) loop(suspend func()) {
	k.suspend = suspend
	growStack(0)
	w := k.w
	for k.g != nil && k.g.run() {
		w.remove(k.g)
		k.g = nil
		n := w.next(true)
		w.idle = append(w.idle, k) // after next: nothing it runs may take k
		w.switchTo = n
		suspend()
	}
}

// stackHint is about the stack a simulated goroutine's calls take: the
// protocol's, the model filesystem's and the scheduler's under them.
const stackHint = 8 << 10

// growStack grows a new worker's stack for stackHint at once, while the
// stack holds almost nothing to copy. Grown on demand, deep in the
// protocol's calls, it was copied a few times over, frame by frame: 8% of
// the simulator's instructions, 3% left with this (8 KiB measured best of
// 8, 16 and 24).
//
//go:noinline
func growStack(i int) byte {
	var b [stackHint]byte
	b[i] = 1
	return b[(i+1)%len(b)]
}

// run runs g's body; it reports false if g was killed (unwound by cleanup,
// which resumed it).
func (g *goroutine) run() (ended bool) {
	defer func() {
		killed := g.killed
		if r := recover(); r != nil {
			if _, ok := r.(killedPanic); ok {
				killed = true
			} else {
				g.w.panicked = fmt.Sprintf("panic in p%d goroutine %d: %v\n%s", g.p.id, g.id, r, debug.Stack())
			}
		}
		g.state = gDone
		ended = !killed
	}()
	if g.killed {
		return
	}
	g.f()
	if !g.main {
		g.p.checkLost()
	}
	return
}

// park ends g's step: the scheduler's next decision runs right here, on
// g's own stack, while g still holds the baton; then g keeps the baton,
// when picked itself, with no switch at all, or yields to the loop, which
// resumes the goroutine picked, and waits to be resumed. Only the
// goroutine holding the baton calls it, for itself.
func (g *goroutine) park() {
	if g.killed {
		panic(errKilled)
	}
	w := g.w
	n := w.next(true)
	if n != g {
		w.switchTo = n
		g.k.suspend()
	}
	if g.killed {
		panic(errKilled)
	}
}

// yield is a scheduling point that keeps g runnable.
func (g *goroutine) yield() {
	g.state = gRunnable
	g.park()
}

// sleepUntil parks g until virtual time t or until done (a context's Done
// channel; nil: never) is closed or g is stopped (env.AfterFunc); it reports
// whether done or the stop ended the sleep.
func (g *goroutine) sleepUntil(done <-chan struct{}, t time.Duration) bool {
	g.state, g.until, g.byCtx = gSleeping, t, false
	g.done = done
	g.park()
	g.done = nil
	return g.byCtx
}

// loop runs the run: it resumes the goroutine picked until one finds the
// run over (the scheduler's decisions run on the goroutines' stacks, see
// [goroutine.park]), then kills every simulated goroutine left. A switch
// between two simulated goroutines is two coroutine switches, through
// the loop, far cheaper than a hand-off over channels.
func (w *world) loop() {
	defer w.cleanup()
	for n := w.next(false); n != nil; {
		w.switchTo = nil
		n.k.resume()
		n = w.switchTo
	}
}

// next is the scheduler: it finishes the step that just ran (after: the
// step count and the checks that end a run), then picks the goroutine that
// steps next, advancing virtual time when none can run. It returns nil when
// the run is over. It runs on the stack of whoever holds the baton.
func (w *world) next(after bool) *goroutine {
	if after {
		g := w.cur
		w.cur = nil
		w.steps++
		if w.panicked != "" {
			w.violate(Violation{Kind: KindPanic, Time: w.now, Procs: []int{g.p.id}, Msg: w.panicked})
			return nil
		}
		if w.active == 0 {
			return nil
		}
		if w.steps >= w.cfg.MaxSteps {
			w.progressViolation(fmt.Sprintf("step bound %d reached", w.cfg.MaxSteps))
			return nil
		}
	}
	runnable := w.runnable[:0]
	for !w.stopped && w.active > 0 {
		runnable = runnable[:0]
		now := w.now
		// wake is when the first goroutine left out can run, for advance.
		wake := never
		// Every goroutine in w.gs is live (an ended one leaves at once).
		for _, g := range w.gs {
			if p := g.p; now < p.runsFrom { // paused or crashed
				if !p.crashed {
					t := p.frozenUntil
					if g.state == gSleeping {
						t = max(t, g.until)
					}
					wake = min(wake, t)
				}
				continue
			}
			if g.state == gSleeping {
				switch {
				case g.stopped || g.done != nil && closed(g.done):
					g.state, g.byCtx = gRunnable, true
				case g.until <= now:
					g.state = gRunnable
				default:
					wake = min(wake, g.until)
					continue
				}
			}
			runnable = append(runnable, g)
		}
		if len(runnable) == 0 {
			if !w.advance(wake) {
				return nil
			}
			continue
		}
		i := w.chooser.choose(runnable)
		if i < 0 {
			w.pruned = true
			return nil
		}
		if i >= len(runnable) {
			panic(fmt.Sprintf("sim: chooser returned %d of %d", i, len(runnable)))
		}
		g := runnable[i]
		if w.injectFault(g.p) {
			continue
		}
		w.runnable = runnable
		w.cur = g
		return g
	}
	w.runnable = runnable
	return nil
}

// never is a time that never comes.
const never = time.Duration(1<<63 - 1)

// advance moves virtual time to the next event: wake, when the first
// goroutine can run (next found it while it found none runnable; never:
// none can), or a timer's; it returns false when the run must end (nothing
// can ever run again, or the time bound passed).
func (w *world) advance(wake time.Duration) bool {
	next := wake
	for _, t := range w.timers {
		next = min(next, t.at)
	}
	if next == never {
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

// remove takes the goroutine g, which ended, out of w.gs, keeping the
// others' order (the order the scheduler lists runnable goroutines in).
func (w *world) remove(g *goroutine) {
	if i := slices.Index(w.gs, g); i >= 0 {
		w.gs = slices.Delete(w.gs, i, i+1)
	}
}

// cleanup unwinds every simulated goroutine still parked, so that no real
// goroutine outlives the run.
func (w *world) cleanup() {
	for _, g := range w.gs {
		if g.state == gDone {
			continue
		}
		g.killed = true
		g.k.resume()
	}
	for _, k := range w.idle {
		k.resume() // with no goroutine: it ends
	}
	w.idle = nil
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
	if f.CrashRate > 0 && w.crashes < f.Crashes && w.faultRand.Float64() < f.CrashRate {
		w.crashes++
		w.crash(p)
		return true
	}
	if f.PauseRate > 0 && w.pauses < f.Pauses && w.faultRand.Float64() < f.PauseRate {
		w.pauses++
		d := f.PauseMin
		if f.PauseMax > f.PauseMin {
			d += time.Duration(w.faultRand.Int64N(int64(f.PauseMax - f.PauseMin)))
		}
		p.frozenUntil = w.now + d
		p.runsFrom = p.frozenUntil
		w.event(p.id, -1, "PAUSE", d.String(), fmt.Sprintf("frozen until %s", fmtTime(p.frozenUntil)))
		return true
	}
	if f.WallStepRate > 0 && w.wsteps < f.WallSteps && w.faultRand.Float64() < f.WallStepRate {
		w.wsteps++
		m := int64(f.WallStepMax)
		d := time.Duration(w.faultRand.Int64N(2*m+1) - m)
		p.clock.offset += d
		w.event(p.id, -1, "WALLSTEP", d.String(), "its wall clock steps (its monotonic clock does not)")
	}
	return false
}

func (w *world) crash(p *proc) {
	p.crashed = true
	p.runsFrom = never
	w.event(p.id, -1, "CRASH", "", "the process stops forever; its files stay")
	w.endHold(p, "crash")
	if !p.done {
		p.done = true
		w.active--
	}
}
