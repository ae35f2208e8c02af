package protocol

// The attempt loop of Lock and TryLock: rules C0–C4 of docs/PROTOCOL.md
// (look, enter, settle, check, confirm) and withdrawal. The decisions on a
// listing and the tickets are in decide.go, waiting (backoff, stagger,
// rule W) in wait.go.

import (
	"context"
	"errors"
	"time"

	"github.com/cryolock-go/cryolock/stale"
)

// outcome of one entry's check phase.
type outcome int

const (
	held outcome = iota
	withdrawn
	busy // keep the entry and look again (TryLock gives up instead)
)

// attempt is the state of one call to Lock or TryLock.
type attempt struct {
	l      *Lock
	dir    Dir  // the lock directory, opened once for the whole attempt
	waited bool // the attempt has slept at least once
	memory
	delay    time.Duration // current backoff
	live     []competitor  // the live competitors of the latest check
	tryUntil time.Duration // TryLock: how long to watch suspect entries

	watch      dirWatch // wakes the backoff early, if the FS can watch
	watchTried bool
	try        bool       // TryLock
	ew         entryWatch // the watch's entry watches and gate, for a waiting mutex contender (Lock)
	place      gatePlace  // this attempt's place at the gate, once it joined
	seen       uint64     // watch.Changes() when the last listing began
	wake       []string   // the next sleep ends when one of these is removed (nil: at any change)

	// Waiters of a mutex (or writers) queue by ticket: see drawTicket.
	queue       bool
	start       time.Duration   // Mono when the attempt began
	listed      bool            // the entry about to be made follows a listing
	highest     int32           // the highest exclusive ticket of that listing (-1: none)
	staggered   bool            // the look before this one staggered
	displaced   int             // how often a queued entry of this attempt withdrew before a higher ticket
	woke        bool            // the latest sleep was ended by the watch
	polite      bool            // the value's previous acquisition met others a moment ago
	yielded     bool            // the attempt gave a free gate up once, for a waiter its release woke
	gateHold    bool            // the hold keeps the attempt's place at the gate (keepGate)
	sawOthers   bool            // a listing of this attempt showed live entries of others
	behind      map[string]bool // exclusive entries the previous look showed beside other exclusive ones
	interrupted bool            // the latest stagger was cut short by a change
	blockers    []competitor    // the live entries that keep a waiting looker out
	enteredAt   time.Time       // wall clock when the latest entry's check began
	mark        string          // unwatched: the waiter's mark in the lock directory (renewMark), if any
	markOff     bool            // a mark could not be removed: make no more
	checking    bool            // the backoff is check's, with an entry in the directory
	waiters     bool            // a listing of this attempt showed a fresh mark of another waiter
	// Unwatched: waiters that came first (yieldToOlder).
	markID          string          // the waiter's name in its marks, once it made one
	markSeq         int             // marks made by this attempt
	older           map[string]bool // waiters whose fresh marks this attempt listed before it made one
	olderListed     []string        // those of them with a fresh mark in the latest listing
	youngerListed   []string        // waiters that came later with a fresh mark in the latest listing (at most crowdCounted)
	outranked       bool            // the latest listing showed a fresh mark of a waiter ahead in line (a lower ticket)
	markTicket      int             // the attempt's place in line, in its marks (see renewMark)
	maxTicketListed int             // the highest ticket of the waiters it listed before its first mark
	yieldFrom       time.Duration   // Mono when the attempt began letting them go first at a free lock, if yieldSet
	yieldSet        bool            //
	yieldFewest     int             // the fewest of them a look showed since yieldFrom
}

// newAttempt starts an acquisition. What the Lock value has seen of other
// entries (the judge's sightings, their leases) carries over from its earlier
// attempts: an entry watched across several TryLock calls is judged by the
// whole time it was watched. Only one acquisition of a Lock value runs at a
// time (the busy flag), so the memory needs no lock of its own.
func (l *Lock) newAttempt(d Dir) *attempt {
	if l.mem.judge == nil {
		l.mem = memory{
			judge:   stale.NewJudge(l.cfg.Stale),
			entries: make(map[string]*seen),
			marks:   make(map[string]time.Duration),

			waitersSince: make(map[string]time.Duration),
		}
	}
	// The value's attempts run one at a time and none is used after it
	// returns (no goroutine or timer keeps one), so they share one struct.
	a := &l.att
	*a = attempt{l: l, dir: d, memory: l.mem, queue: l.role == exclusive && l.slots == 1, start: l.cfg.Env.Mono(), highest: -1}
	return a
}

func (l *Lock) acquireV1(ctx context.Context, d Dir, try bool) (*entry, error) {
	a := l.newAttempt(d)
	a.try = try
	defer a.stopWatch()
	defer a.leaveGate()
	// The first round enters at once: on an uncontended lock that is one
	// create, one listing and (at release) one removal. Looking first (rule
	// 1) is an optimisation for contended locks, not a safety step — except
	// for liveness after an error: a caller that retries a failed Lock at
	// once would otherwise enter again and again, and with a settle delay
	// longer than the gap between (transient) errors every contender keeps
	// withdrawing and nobody wins. So after an error the next attempt of the
	// value looks first.
	look := l.lookFirst
	// A value whose previous acquisition met others, a moment ago, looks
	// before entering, and lets those waiting go first: on a busy lock its
	// blind entry would only withdraw again (two more changes that every
	// waiter's watch reports), or barge in ahead of them.
	if m := &l.mem; m.contendedSet && l.cfg.Env.Mono()-m.lastSeen() < max(contendedFor, l.lease.D) {
		look, a.polite = true, true
		a.startWatch()
	}
	defer func() { a.dropMark() }()
	if m := &l.mem; m.waiters && a.queue && !try && l.cfg.Env.Mono()-m.waitersSeen() < max(contendedFor, l.lease.D) {
		// A waiter of an unwatched directory polled while this value last
		// took the lock: let it look first (standAside).
		if a.startWatch(); a.watch == nil {
			look = true
			if err := a.standAside(ctx); err != nil {
				return nil, l.ctxErr(err)
			}
		}
	}
	var got *entry
	prev, prevSet := l.mem.lastSeen(), l.mem.contendedSet
	defer func() {
		l.mem.contendedSet, l.mem.held = false, nil
		l.mem.waiters, l.mem.waitersAt, l.mem.waitersHeld = a.waiters, l.cfg.Env.Mono(), got
		switch {
		case a.sawOthers:
			l.mem.contended, l.mem.contendedSet, l.mem.held = l.cfg.Env.Mono(), true, got
		case a.gateHold && prevSet:
			// A polite attempt that held through a free gate, after
			// standing aside for a moment (yieldGate): it met nobody
			// itself, but a waiter may have come and gone meanwhile, so
			// the value stays polite — until its last real contention
			// is older than contendedFor, so that a value left alone
			// takes the fast path again.
			l.mem.contended, l.mem.contendedSet = prev, true
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return nil, l.ctxErr(err)
		}
		a.listed = look
		if look {
			if a.polite && a.place == nil && a.gateOpen() {
				// Back for more after a contended hold: queue at the
				// gate behind the waiters of this host.
				if err := a.yieldGate(ctx); err != nil {
					return nil, l.ctxErr(err)
				}
				if err := a.waitGate(ctx); err != nil {
					return nil, l.ctxErr(err)
				}
			}
			live, fromLog, err := a.look(ctx)
			if err != nil {
				return nil, err
			}
			a.highest = highestExclusive(live)
			a.sawOthers = a.sawOthers || len(live) > 0
			// The place behind a lone entry is not taken at once if the
			// previous look showed it with others: its holder may just
			// have left, and it may be the next in line that has not
			// checked yet; an entry above it would make it withdraw.
			single := singleExclusive(live)
			confirmed := single == "" || !a.behind[single]
			a.behind = behindOthers(live)
			if a.ew != nil {
				// A waiting mutex contender (or writer) on a local
				// filesystem: the waiter at the gate sleeps until the
				// exclusive entry that keeps it out goes, then enters (a
				// writer beside readers, to keep new ones out, and waits
				// there); the others wait for the gate.
				if a.queueBlocked(live) {
					if a.gateOpen() && !a.place.held() {
						if err := a.waitGate(ctx); err != nil {
							return nil, l.ctxErr(err)
						}
						continue
					}
					a.wake = l.keepers(live, try)
					if err := a.backoff(ctx); err != nil {
						return nil, l.ctxErr(err)
					}
					continue
				}
			} else if a.queue && !try && a.watch != nil {
				// Only where a watch reports changes (a local filesystem,
				// whose listings are coherent): with listings cached for
				// seconds (FUSE, sshfs) contenders on two mounts
				// leapfrogged each other, and waiting 8 times longer on
				// sshfs is no price for order.
				//
				// A waiting mutex contender (or writer) enters as soon
				// as the only exclusive entry left is the holder's, with
				// a ticket above it, and waits there to be next; others
				// sleep until one of those entries is removed. Where a
				// watch wakes a crowd at once, it staggers a moment before
				// it enters (shorter the longer it has waited), so that the
				// first to enter is seen by the rest, who go back to sleep
				// instead of entering and withdrawing together; without a
				// watch, polls are spread out already.
				// Leapfrogging needs a window between an entry and its
				// check: here, a settle delay.
				plain := l.cfg.Settle > 0 && a.displaced >= maxDisplaced
				if plain && l.blocked(live, try) || !plain && a.queueFull(live) {
					a.staggered = false
					a.blockers = live
					a.wake = l.keepers(live, try)
					if err := a.backoff(ctx); err != nil {
						return nil, l.ctxErr(err)
					}
					continue
				}
				if !a.staggered && a.watch != nil && (len(live) > 0 || a.waited || a.polite) {
					a.staggered = true
					a.blockers = live
					if err := a.stagger(ctx); err != nil {
						return nil, l.ctxErr(err)
					}
					continue
				}
				if !confirmed {
					a.wake = nil
					if err := a.backoff(ctx); err != nil {
						return nil, l.ctxErr(err)
					}
					continue
				}
				if fromLog {
					// The watch's names say the way is clear: see for
					// ourselves before entering (after a new stagger if
					// the last one was cut short by a change).
					a.staggered = a.staggered && !a.interrupted
					a.blockers = nil
					continue
				}
				a.staggered = false
			} else if l.blocked(live, try) {
				if try && !a.watchSuspects(live) {
					return nil, nil
				}
				a.yieldSet = false
				a.wake = l.keepers(live, try)
				if err := a.backoff(ctx); err != nil {
					return nil, l.ctxErr(err)
				}
				continue
			} else if a.queue && !try && a.yieldToOlder() {
				// Unwatched, the lock free, and a waiter that came first
				// still polls: it goes first.
				a.wake = nil
				if err := a.backoff(ctx); err != nil {
					return nil, l.ctxErr(err)
				}
				continue
			}
		}
		look = true
		a.blockers = nil
		// An entry of its own shows this contender; its mark would make
		// others stand aside for a waiter that is not polling.
		a.dropMark()
		e, err := a.enter()
		if errors.Is(err, errOwnGone) {
			if err := a.backoff(ctx); err != nil {
				return nil, l.ctxErr(err)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		out, err := a.check(ctx, e, try)
		switch {
		case err != nil:
			return nil, err
		case out == held:
			out, err = a.confirm(ctx, e)
			if err != nil {
				return nil, err
			}
			if out == held {
				a.delay = 0
				got = e
				a.keepGate(e)
				return e, nil
			}
		}
		if try && !a.watchSuspects(a.live) {
			return nil, nil
		}
		if err := a.backoff(ctx); err != nil {
			return nil, l.ctxErr(err)
		}
	}
}

// check is rules 3 and 4: settle, then list until the entry is held, must
// withdraw, or (TryLock) meets a live competitor.
func (a *attempt) check(ctx context.Context, e *entry, try bool) (outcome, error) {
	l := a.l
	fail := func(err error) (outcome, error) {
		if werr := a.withdraw(e); werr != nil {
			err = errors.Join(err, werr)
		}
		return withdrawn, err
	}
	if err := l.cfg.Env.Sleep(ctx, l.cfg.Settle); err != nil {
		return fail(l.ctxErr(err))
	}
	a.enteredAt = l.cfg.Env.Now()
	raceUntil := l.cfg.Env.Mono() + raceWait + l.cfg.Settle
	for {
		live, err := a.scan(ctx, e.name)
		if errors.Is(err, errOwnGone) {
			e.stop()
			l.cfg.Logger.Warn("cryolock: own entry was removed while waiting; starting over", "path", e.path)
			return withdrawn, nil
		}
		if err != nil {
			return fail(err)
		}
		if a.overdue(e) || e.lostErr() != nil {
			// Our heartbeat is too old: someone may be judging us stale
			// right now. Start over rather than trust this listing.
			l.cfg.Logger.Warn("cryolock: heartbeat overdue while waiting; starting over", "path", e.path)
			return fail(nil)
		}
		a.live = live
		a.sawOthers = a.sawOthers || len(live) > 0
		switch l.decide(live, e.ticket) {
		case held:
			l.cfg.debug("cryolock: held", e.path)
			return held, nil
		case withdrawn:
			if a.queue && e.ticket >= 0 {
				// A queued entry made to withdraw by a higher one. After
				// maxDisplaced of those this attempt enters only on a
				// listing without live entries, as an unqueued contender,
				// so waiters cannot leapfrog each other forever while
				// nobody holds (the simulator found that with a long
				// settle: each saw only the other's entry and entered
				// above it).
				a.displaced++
			}
			if !a.queue {
				// A reader (or semaphore contender) waits, with a watch,
				// for the entries that made it withdraw to go.
				a.wake = l.keepers(live, try)
			}
			if _, err := fail(nil); err != nil {
				return withdrawn, err
			}
			return withdrawn, nil
		}
		a.wake = names(live)
		if try {
			// Only lower tickets: they withdraw (they see ours), unless
			// one of them holds. Racers that entered at about the same
			// time are given a moment to withdraw, so that of TryLocks
			// racing on a free lock one wins instead of none; an entry
			// older than that is a holder, and TryLock gives up at once.
			if left := raceUntil - l.cfg.Env.Mono(); left > 0 && a.racers(live) {
				a.startWatch()
				d := min(left, max(l.cfg.MinBackoff, time.Millisecond))
				if a.watch != nil {
					d = left
				}
				if err := a.sleepBackoff(ctx, d); err != nil {
					return fail(l.ctxErr(err))
				}
				continue
			}
			if _, err := fail(nil); err != nil {
				return withdrawn, err
			}
			return busy, nil
		}
		a.checking = true
		err = a.backoff(ctx)
		a.checking = false
		if err != nil {
			return fail(l.ctxErr(err))
		}
	}
}

var errOwnGone = errors.New("own entry gone")

// fences reports whether the lock issues fencing tokens: exclusive,
// single-slot locks with fencing on.
func (l *Lock) fences() bool {
	return l.cfg.Fencing != FencingOff && l.role == exclusive && l.slots == 1
}

// confirm stands between a "held" decision and success (rule T). Without
// fencing it only refuses a hold already known to be lost. With fencing it
// writes the next token and then lists again: the token is good only if the
// entry was never reaped between its creation and that listing (it is still
// listed) and its heartbeat is neither overdue nor lost. Then no other
// contender held in that span, so every earlier holder wrote its token
// before our read and every later one reads ours: tokens increase with
// holds. A contender paused between "held" and its token write (reaped and
// replaced meanwhile) fails this check and starts over instead of
// returning a token greater than its successor's (TestFencingPausedHolder).
func (a *attempt) confirm(ctx context.Context, e *entry) (outcome, error) {
	l := a.l
	if a.waited {
		// The directory was opened before a wait that may have been long:
		// a hold in a directory no longer at the lock's path is no hold.
		if err := l.cfg.FS.Verify(a.dir); err != nil {
			err = &Error{Op: "lock", Path: l.dir, Err: err}
			if werr := a.withdraw(e); werr != nil {
				err = errors.Join(err, werr)
			}
			return withdrawn, err
		}
	}
	if !l.fences() {
		if e.lostErr() != nil || a.overdue(e) {
			return withdrawn, a.withdraw(e)
		}
		return held, nil
	}
	tok, err := l.nextFence(a.dir)
	if err != nil {
		if werr := a.withdraw(e); werr != nil {
			err = errors.Join(err, werr)
		}
		return withdrawn, err
	}
	if _, err := a.scan(ctx, e.name); errors.Is(err, errOwnGone) {
		e.stop()
		l.cfg.Logger.Warn("cryolock: own entry was removed before its fencing token was confirmed; starting over", "path", e.path)
		return withdrawn, nil
	} else if err != nil {
		if werr := a.withdraw(e); werr != nil {
			err = errors.Join(err, werr)
		}
		return withdrawn, err
	}
	if e.lostErr() != nil || a.overdue(e) {
		l.cfg.Logger.Warn("cryolock: heartbeat overdue before the fencing token was confirmed; starting over", "path", e.path)
		return withdrawn, a.withdraw(e)
	}
	e.token = tok
	return held, nil
}
