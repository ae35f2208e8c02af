package sim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/protocol"
)

// LockDir is the lock directory every simulated process uses.
const LockDir = "/sim/work" + protocol.Suffix

// ViolationKind names the property a run broke.
type ViolationKind string

// Violation kinds.
const (
	// KindMutex: two processes in the critical section at once, neither
	// told it had lost the lock.
	KindMutex ViolationKind = "mutual-exclusion"
	// KindProgress: a live process did not finish its acquisitions within
	// the run's time or step bound.
	KindProgress ViolationKind = "progress"
	// KindDeadlock: nothing can ever run again, yet a live process has not
	// finished.
	KindDeadlock ViolationKind = "deadlock"
	// KindLitter: an entry of a process that released cleanly was left
	// in the lock directory at the end.
	KindLitter ViolationKind = "litter"
	// KindError: Lock returned an error no injected fault explains.
	KindError ViolationKind = "unexpected-error"
	// KindPanic: the protocol code panicked.
	KindPanic ViolationKind = "panic"
)

// Violation is one broken property of a run.
type Violation struct {
	Kind  ViolationKind
	Time  time.Duration // virtual time it was detected
	Procs []int         // processes involved
	Msg   string
	// Overlap is the interval two critical sections shared (KindMutex).
	OverlapStart, OverlapEnd time.Duration
}

func (v Violation) String() string {
	return fmt.Sprintf("%s at %s: %s", v.Kind, fmtTime(v.Time), v.Msg)
}

// Hold is one critical section of one process: from the return of Lock to
// the call of Unlock, or earlier to the moment the process was told it lost
// the lock (when the workload checks Lock.Lost), or to its crash.
type Hold struct {
	Proc       int
	Name       string // the entry
	Start, End time.Duration
	Open       bool   // still held when the run ended
	EndBy      string // "unlock", "lost", "crash", "end"
	Lost       time.Duration
	WasLost    bool // Lost() closed during the hold
	Shared     bool // a read hold of a KindRWLock run
	// Wait is how long the process waited for it: from the start of the
	// acquisition (its first Lock or TryLock call) to Start.
	Wait time.Duration
}

// Stats are a run's counters. The coverage counters (Lost, ReapsLive,
// Ties, FailedStamps, HungCalls, TryLockWins, WallSteps) say which
// dangerous situations a batch of runs actually reached.
type Stats struct {
	Acquired  int // successful Lock calls
	LockErrs  int // Lock calls that returned an error
	Lost      int // holds told they lost the lock
	Crashes   int
	Pauses    int
	MaxBypass int // most acquisitions by others while one process waited

	// Reaps counts removals of another process's entry (crashed or not).
	Reaps int
	// ReapsLive counts removals of another process's entry while that
	// process was alive and still counted on it (paused, slow or hung:
	// its heartbeat had to tell it).
	ReapsLive int
	// Ties counts entries created while another process's entry with the
	// same ticket was present.
	Ties int
	// FailedStamps counts failures of the set-times that stamps a new
	// entry right after its create.
	FailedStamps int
	// HungCalls counts primitives that hung (Faults.Hangs).
	HungCalls int
	// TryLockWins counts acquisitions won by TryLock.
	TryLockWins int
	// WallSteps counts wall-clock steps (Faults.WallSteps).
	WallSteps int
	// WaitListings counts the listings of the lock directory (answered
	// from a client's cache or not) made by processes that had been
	// waiting for their current acquisition for WaitListingsAfter or
	// more: what a crowd of waiters costs a file server once their
	// backoffs have grown (TestCrowdListingRate).
	WaitListings int
}

// WaitListingsAfter is how long a process must have waited for its
// current acquisition before Stats.WaitListings counts its listings: a
// waiter's backoff starts at its floor and grows to its ceiling in about
// this time.
const WaitListingsAfter = time.Second

// CoverageGaps returns an error naming every coverage counter that is
// zero: a batch inside the model should reach each situation.
func (s Stats) CoverageGaps() error {
	var zero []string
	for _, c := range []struct {
		name string
		n    int
	}{
		{"holds told lost", s.Lost}, {"reaps of live entries", s.ReapsLive}, {"ticket ties", s.Ties},
		{"failed stamps", s.FailedStamps}, {"hung calls", s.HungCalls}, {"TryLock wins", s.TryLockWins},
		{"wall-clock steps", s.WallSteps},
	} {
		if c.n == 0 {
			zero = append(zero, c.name)
		}
	}
	if len(zero) > 0 {
		return fmt.Errorf("sim: coverage: never happened: %s", strings.Join(zero, ", "))
	}
	return nil
}

// Result is the outcome of one run.
type Result struct {
	Seed       uint64
	Config     Config
	Steps      int           // scheduling steps taken
	Time       time.Duration // virtual time at the end
	Violations []Violation
	Holds      []Hold
	Stats      Stats
	// Trace is the run's step-by-step record (only when asked for).
	Trace *Trace

	choices []int // the schedule, for runs of Exhaustive
	pruned  bool  // abandoned by Exhaustive's reduction
	// displaced counts queued entries that withdrew before higher tickets
	// (the ticket-order check examined them: order.go).
	displaced int
	// maxQueued is the most holds of others begun while one queued entry
	// was live (bound QueuedBypassBound under a mutex).
	maxQueued int
}

// Failed reports whether the run violated any property.
func (r *Result) Failed() bool { return len(r.Violations) > 0 }

// proc is one simulated process.
type proc struct {
	w         *world
	id        int
	name      string
	clock     clock
	rng       *rand.Rand // its Env's randomness
	faultRand *rand.Rand // its filesystem faults (latency, errors, cache)
	workRand  *rand.Rand // its workload's choices (holds, thinks)
	fs        *client
	lock      contender // the lock of the current acquisition
	// reader and writer are the two sides of a KindRWLock process's
	// RWLock (lock is one of them); nil for the other kinds.
	reader, writer *protocol.Lock
	shared         bool // the current acquisition is a read

	crashed     bool
	done        bool
	frozenUntil time.Duration
	runsFrom    time.Duration // frozenUntil, or forever once crashed (the scheduler's test)
	hold        *Hold
	lost        <-chan struct{}
	waiting     bool
	bypass      int
	waitStart   time.Duration // when the current acquisition began

	removeFailed bool // an injected error hit one of its removals
	// entries are the paths of the entries it created and has not tried
	// to remove: another process removing one reaps a live entry.
	entries []string
	// created is the entry its last primitive created (for FailedStamps).
	created string
}

// world is one run.
type world struct {
	cfg        Config
	seed       uint64
	now        time.Duration
	maxTime    time.Duration
	srv        *server
	procs      []*proc
	chooser    chooser
	checkBound int // RunOptions.checkSlots
	faultRand  *rand.Rand

	gs       []*goroutine
	runnable []*goroutine // the scheduler's scratch list
	nextG    int
	cur      *goroutine
	switchTo *goroutine // the goroutine the loop resumes next (sched.go)
	idle     []*worker  // workers whose goroutine ended, for the next spawns

	timers   []timer
	steps    int
	active   int
	stopped  bool
	panicked string
	pruned   bool
	crashes  int
	pauses   int
	hangs    int
	wsteps   int
	owners   map[string]*proc // who created each entry still on the server

	holds       []*Hold
	viol        []Violation
	stats       Stats
	trace       *Trace
	stopAtFirst bool
	told        time.Duration // the told delay of A3b (Config.toldDelay)
	order       orderState    // the ticket-order check (order.go)
}

// RunOptions adjust one run.
type RunOptions struct {
	// Trace records the step-by-step trace in Result.Trace.
	Trace bool
	// chooser picks the schedule (default: a generator seeded from the
	// run's seed); Exhaustive and Replay set it.
	chooser chooser
	// KeepGoing continues after the first violation instead of stopping.
	KeepGoing bool
	// checkSlots, if set, is the bound the checker enforces instead of
	// Config.Slots (tests use it to show the checker is not blind).
	checkSlots int
}

// Run simulates cfg once from seed: every process runs the unchanged
// protocol code over the model filesystem. The same seed and configuration
// always give the same Result and trace, byte for byte. A configuration
// [Config.Validate] refuses is not run: the Result's one violation is of
// kind [KindError], "configuration: " and Validate's error.
func Run(cfg Config, seed uint64) *Result { return RunWith(cfg, seed, RunOptions{}) }

// RunWith is [Run] with options.
func RunWith(cfg Config, seed uint64, o RunOptions) *Result {
	cfg = cfg.WithDefaults()
	w := &world{cfg: cfg, seed: seed, stopAtFirst: !o.KeepGoing}
	if err := cfg.Validate(); err != nil {
		w.violate(Violation{Kind: KindError, Msg: "configuration: " + err.Error()})
		return w.result()
	}
	w.maxTime = cfg.maxTime()
	w.told = cfg.toldDelay()
	w.srv = newServer(cfg.Faults.MtimeGranularity)
	w.orderInit()
	w.faultRand = newRand(seed, 1)
	w.chooser = o.chooser
	w.checkBound = o.checkSlots
	if w.chooser == nil {
		w.chooser = randomChooser{newRand(seed, 2)}
	}
	if o.Trace {
		w.trace = &Trace{Procs: cfg.Procs, Config: cfg, Seed: seed}
	}
	crng := newRand(seed, 3)
	nrng := newRand(seed, 4) // offsets near one period: a stream of their own
	for i := 0; i < cfg.Procs; i++ {
		p := &proc{w: w, id: i, name: "p" + strconv.Itoa(i)}
		if cfg.Faults.ClockOffset > 0 {
			o := int64(cfg.Faults.ClockOffset)
			p.clock.offset = time.Duration(crng.Int64N(2*o+1) - o)
		}
		if cfg.Faults.ClockDrift > 0 {
			m := int64(cfg.Faults.ClockDrift * 1e6)
			p.clock.ppm = crng.Int64N(2*m+1) - m
		}
		if f := cfg.Faults.OffsetNearPeriod; f > 0 && nrng.Float64() < f {
			lo, hi := int64(cfg.Lease)*2/5, int64(cfg.Lease)/2
			o := time.Duration(lo + nrng.Int64N(hi-lo+1))
			if nrng.IntN(2) == 0 {
				o = -o
			}
			p.clock.offset = o
		}
		if cfg.Faults.SameIdentity {
			p.rng = newRand(seed, 100)
		} else {
			p.rng = newRand(seed, 100+uint64(i))
		}
		p.workRand = newRand(seed, 1000+uint64(i))
		p.faultRand = newRand(seed, 2000+uint64(i))
		p.fs = newClient(p)
		opts := append(cfg.lockOptions(), protocol.WithFS(dirFS{p.fs}), protocol.WithEnv(env{p}))
		var lk contender
		var err error
		switch {
		case cfg.Rules == RulesLegacy:
			lk = newLegacy(LockDir, cfg, dirFS{p.fs}, env{p})
		case cfg.Kind == KindRWLock:
			if p.reader, err = protocol.New(LockDir, append(opts, protocol.WithShared())...); err == nil {
				p.writer, err = protocol.New(LockDir, opts...)
				lk = p.writer
			}
		case cfg.Kind == KindSemaphore:
			lk, err = protocol.New(LockDir, append(opts, protocol.WithSlots(cfg.Slots))...)
		default:
			lk, err = protocol.New(LockDir, opts...)
		}
		if err != nil {
			w.violate(Violation{Kind: KindError, Msg: "configuration: " + err.Error()})
			return w.result()
		}
		p.lock = lk
		w.procs = append(w.procs, p)
		w.active++
		if w.trace != nil {
			w.event(i, -1, "START", "", fmt.Sprintf("clock offset %v, rate %+d ppm", p.clock.offset, p.clock.ppm))
		}
	}
	for _, p := range w.procs {
		w.spawn(p, true, p.workload)
	}
	w.loop()
	if w.panicked == "" && !w.stopped && !w.pruned {
		w.finalChecks()
	}
	return w.result()
}

func (w *world) result() *Result {
	for _, h := range w.holds {
		if h.Open {
			h.End, h.EndBy = w.now, "end"
		}
	}
	r := &Result{Seed: w.seed, Config: w.cfg, Steps: w.steps, Time: w.now, Violations: w.viol, Stats: w.stats, Trace: w.trace, pruned: w.pruned, displaced: w.order.displaced, maxQueued: w.order.maxQueued}
	r.Stats.Crashes, r.Stats.Pauses = w.crashes, w.pauses
	r.Stats.HungCalls, r.Stats.WallSteps = w.hangs, w.wsteps
	for _, h := range w.holds {
		r.Holds = append(r.Holds, *h)
	}
	if w.trace != nil {
		w.trace.Holds = r.Holds
		w.trace.Violations = w.viol
		w.trace.End = w.now
	}
	return r
}

func (w *world) violate(v Violation) {
	w.viol = append(w.viol, v)
	if w.trace != nil {
		w.event(-1, -1, "VIOLATION", string(v.Kind), v.Msg)
	}
	if w.stopAtFirst {
		w.stopped = true
	}
}

func (w *world) progressViolation(why string) {
	kind := KindProgress
	if len(why) >= 8 && why[:8] == "deadlock" {
		kind = KindDeadlock
	}
	var ps []int
	for _, p := range w.procs {
		if !p.done {
			ps = append(ps, p.id)
		}
	}
	w.violate(Violation{Kind: kind, Time: w.now, Procs: ps, Msg: fmt.Sprintf("%s with processes %v unfinished", why, ps)})
	w.stopped = true
}

// finalChecks runs once every live process finished: no litter.
func (w *world) finalChecks() {
	ents, err := w.srv.list(LockDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.Type.IsDir() {
			continue
		}
		owner, _, ok := nonce.ParseName(e.Name)
		if !ok {
			continue
		}
		info, ok := nonce.ParseOwner(owner)
		if !ok {
			continue
		}
		id := info.Pid - 100
		if w.cfg.Faults.SameIdentity || id < 0 || id >= len(w.procs) {
			continue
		}
		p := w.procs[id]
		if p.crashed || p.removeFailed {
			continue
		}
		w.violate(Violation{Kind: KindLitter, Time: w.now, Procs: []int{id}, Msg: fmt.Sprintf("%s left behind by p%d, which released cleanly", path.Join(LockDir, e.Name), id)})
	}
}

// workload is a process's main goroutine: think, Lock, hold (touching the
// data step by step and checking Lost), Unlock, repeat.
func (p *proc) workload() {
	w := p.w
	c := &w.cfg
	g := w.cur
	e := env{p}
	ctx := context.Background()
	for i := 0; i < c.Acquisitions; i++ {
		if c.Think > 0 {
			_ = e.Sleep(ctx, time.Duration(p.workRand.Int64N(int64(c.Think)+1)))
		}
		hold := c.HoldMin + time.Duration(p.workRand.Int64N(int64(c.HoldMax-c.HoldMin)+1))
		if p.workRand.Float64() < c.LongHold {
			hold = c.LongHoldMin + time.Duration(p.workRand.Int64N(int64(c.LongHoldMax-c.LongHoldMin)+1))
		}
		what := ""
		if p.reader != nil {
			// A read or a write, drawn from the workload's stream.
			p.shared = p.workRand.Float64() < c.ReadFraction
			p.lock, what = p.writer, " (write)"
			if p.shared {
				p.lock, what = p.reader, " (read)"
			}
		}
		if w.trace != nil {
			w.event(p.id, g.id, "LOCK", "", fmt.Sprintf("acquisition %d%s, will hold %v", i+1, what, hold))
		}
		p.waiting, p.bypass, p.waitStart = true, 0, w.now
		// A share of acquisitions try TryLock, a few times with random
		// pauses (racing TryLocks may all fail: no liveness is promised),
		// then fall back to Lock.
		tries := 0
		if c.TryLock > 0 && p.workRand.Float64() < c.TryLock {
			tries = 5
		}
		for {
			var err error
			if tries > 0 {
				tries--
				var won bool
				w.orderAttempt(p)
				if won, err = p.lock.TryLock(ctx); err == nil {
					if won {
						w.stats.TryLockWins++
						break
					}
					w.event(p.id, g.id, "LOCK", "", "TryLock: busy")
					_ = e.Sleep(ctx, c.MaxBackoff/2+time.Duration(p.workRand.Int64N(int64(c.MaxBackoff)+1)))
					continue
				}
			} else {
				w.orderAttempt(p)
				if err = p.lock.Lock(ctx); err == nil {
					break
				}
			}
			w.stats.LockErrs++
			w.event(p.id, g.id, "LOCK", "", "error: "+err.Error())
			if !injected(err) {
				w.violate(Violation{Kind: KindError, Time: w.now, Procs: []int{p.id}, Msg: fmt.Sprintf("p%d: Lock: %v", p.id, err)})
				if w.stopped {
					g.park() // the run is over: wait to be unwound
				}
			}
			_ = e.Sleep(ctx, c.MaxBackoff)
		}
		p.acquired()
		for left := hold; left > 0 && p.hold != nil && (c.NoLostCheck || !p.hold.WasLost); {
			if w.trace != nil {
				w.event(p.id, g.id, "touch", "", "in the critical section")
			}
			d := min(c.Step, left)
			_ = e.Sleep(ctx, d)
			left -= d
			if !c.NoLostCheck {
				select {
				case <-p.lost:
					w.event(p.id, g.id, "LOST?", "", "told it lost the lock: leaves the critical section")
				default:
				}
			}
		}
		w.endHold(p, "unlock")
		err := p.lock.Unlock()
		res := "ok"
		if err != nil {
			res = "error: " + err.Error()
		}
		w.event(p.id, g.id, "UNLOCK", "", res)
		if w.stopped {
			g.park()
		}
	}
	p.done = true
	w.active--
}

// injected reports whether err comes from an injected transient fault.
func injected(err error) bool {
	return errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENOSPC)
}

// acquired starts p's hold and checks it against every other.
func (p *proc) acquired() {
	w := p.w
	w.stats.Acquired++
	h := &Hold{Proc: p.id, Name: p.lock.Name(), Start: w.now, Open: true, Shared: p.shared, Wait: w.now - p.waitStart}
	p.hold = h
	p.lost = p.lock.Lost()
	w.holds = append(w.holds, h)
	w.orderHeld(p, path.Join(LockDir, h.Name))
	w.stats.MaxBypass = max(w.stats.MaxBypass, p.bypass)
	p.waiting = false
	for _, q := range w.procs {
		if q != p && q.waiting && !q.crashed {
			q.bypass++
		}
	}
	w.event(p.id, w.cur.id, "HELD", h.Name, "enters the critical section")
	select {
	case <-p.lost:
		p.checkLost()
	default:
	}
}

// checkLost records that p's current hold was told it lost the lock (Lost
// closed); unless the workload ignores Lost, the critical section ends now.
func (p *proc) checkLost() {
	h := p.hold
	if h == nil || h.WasLost || p.lost == nil {
		return
	}
	select {
	case <-p.lost:
	default:
		return
	}
	w := p.w
	h.WasLost, h.Lost = true, w.now
	w.stats.Lost++
	w.event(p.id, -1, "LOST", h.Name, "Lost() closed")
	if w.cfg.NoLostCheck {
		return
	}
	if w.told <= 0 {
		w.endHold(p, "lost")
		return
	}
	// A3b: the told holder may act for up to the told delay more, unless it
	// unlocks (or crashes) first.
	w.timers = append(w.timers, timer{at: w.now + w.told, f: func() {
		if p.hold == h {
			w.endHold(p, "lost")
		}
	}})
}

// endHold closes p's open critical section (if any) and checks it against
// every other hold. It ends now, except that a hold told it lost the lock
// ends at the tell plus the told delay (A3b), or earlier if it unlocked or
// crashed before.
func (w *world) endHold(p *proc, by string) {
	h := p.hold
	if h == nil {
		return
	}
	p.hold = nil
	h.End, h.Open, h.EndBy = w.now, false, by
	if h.WasLost && !w.cfg.NoLostCheck {
		h.End, h.EndBy = min(w.now, h.Lost+w.told), "lost"
	}
	if w.cfg.Kind == KindSemaphore {
		w.checkSlots(h)
		return
	}
	for _, o := range w.holds {
		if o == h || o.Proc == h.Proc || (h.Shared && o.Shared) {
			continue
		}
		end := o.End
		if o.Open {
			end = h.End
		}
		s, e := max(h.Start, o.Start), min(h.End, end)
		if s < e {
			a, b := o, h
			if a.Start > b.Start {
				a, b = b, a
			}
			w.violate(Violation{
				Kind: KindMutex, Time: w.now, Procs: []int{a.Proc, b.Proc},
				OverlapStart: s, OverlapEnd: e,
				Msg: fmt.Sprintf("p%d and p%d both in the critical section from %s to %s (p%d held %s%s since %s, p%d held %s%s since %s)",
					a.Proc, b.Proc, fmtTime(s), fmtTime(e), a.Proc, a.Name, holdKind(a), fmtTime(a.Start), b.Proc, b.Name, holdKind(b), fmtTime(b.Start)),
			})
			return
		}
	}
}

func holdKind(h *Hold) string {
	if h.Shared {
		return " (read)"
	}
	return ""
}

// checkSlots checks the semaphore's bound over the hold h that just ended:
// at no instant of it may more than Slots holds (h included) be in progress.
func (w *world) checkSlots(h *Hold) {
	type ev struct {
		t time.Duration
		d int
		h *Hold
	}
	var evs []ev
	for _, o := range w.holds {
		end := o.End
		if o.Open || o == h {
			end = h.End
		}
		s, e := max(h.Start, o.Start), min(h.End, end)
		if o != h && (o.Proc == h.Proc || s >= e) {
			continue
		}
		evs = append(evs, ev{s, +1, o}, ev{e, -1, o})
	}
	// Ends before starts at one instant: touching is not overlapping.
	slices.SortStableFunc(evs, func(a, b ev) int {
		if a.t != b.t {
			return cmp.Compare(a.t, b.t)
		}
		return a.d - b.d
	})
	in := map[*Hold]bool{}
	for _, e := range evs {
		if e.d < 0 {
			delete(in, e.h)
			continue
		}
		in[e.h] = true
		bound := w.cfg.Slots
		if w.checkBound > 0 {
			bound = w.checkBound
		}
		if len(in) > bound {
			var ps []int
			var names []string
			for _, o := range w.holds { // in hold order: deterministic
				if in[o] {
					ps = append(ps, o.Proc)
					names = append(names, fmt.Sprintf("p%d", o.Proc))
				}
			}
			w.violate(Violation{
				Kind: KindMutex, Time: w.now, Procs: ps, OverlapStart: e.t, OverlapEnd: h.End,
				Msg: fmt.Sprintf("%d holders of a semaphore of %d at %s: %s", len(in), bound, fmtTime(e.t), strings.Join(names, ", ")),
			})
			return
		}
	}
}

// opEvent records a filesystem primitive's result in the trace.
func (w *world) opEvent(p *proc, g *goroutine, op, path string, err error, res string) {
	if w.trace == nil {
		return
	}
	if err != nil {
		res = errString(err)
	}
	w.event(p.id, g.id, op, shortPath(path), res)
}

func errString(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "ENOENT"
	case errors.Is(err, syscall.EIO):
		return "EIO (injected)"
	case errors.Is(err, syscall.ENOSPC):
		return "ENOSPC (injected)"
	}
	return "error: " + err.Error()
}

func shortPath(p string) string {
	if len(p) > len(LockDir) && p[:len(LockDir)] == LockDir {
		return p[len(LockDir)+1:]
	}
	if p == LockDir {
		return "."
	}
	return p
}

func itoa(i int) string { return strconv.Itoa(i) }
