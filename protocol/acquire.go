package protocol

// The attempt loop of Lock and TryLock: rules C0–C4 of docs/PROTOCOL.md
// (look, enter, settle, check, confirm), withdrawal, backoff and TryLock's
// watch of suspect entries (rule W).

import (
	"context"
	"errors"
	"fmt"
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

	watch      DirWatch // wakes the backoff early, if the FS can watch
	watchTried bool
	seen       uint64 // watch.Changes() when the last listing began
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
		}
	}
	return &attempt{l: l, dir: d, memory: l.mem}
}

func (l *Lock) acquireV1(ctx context.Context, d Dir, try bool) (*entry, error) {
	a := l.newAttempt(d)
	defer a.stopWatch()
	// The first round enters at once: on an uncontended lock that is one
	// create, one listing and (at release) one removal. Looking first (rule
	// 1) is an optimisation for contended locks, not a safety step — except
	// for liveness after an error: a caller that retries a failed Lock at
	// once would otherwise enter again and again, and with a settle delay
	// longer than the gap between (transient) errors every contender keeps
	// withdrawing and nobody wins. So after an error the next attempt of the
	// value looks first.
	look := l.lookFirst
	for {
		if err := ctx.Err(); err != nil {
			return nil, l.ctxErr(err)
		}
		if look {
			live, err := a.scan(ctx, "")
			if err != nil {
				return nil, err
			}
			if l.blocked(live) {
				if try && !a.watchSuspects(live) {
					return nil, nil
				}
				if err := a.backoff(ctx); err != nil {
					return nil, l.ctxErr(err)
				}
				continue
			}
		}
		look = true
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

func (l *Lock) ctxErr(err error) error {
	return fmt.Errorf("cryolock: lock %s: %w", l.dir, err)
}

// openDir opens the lock directory (F1), creating it if missing, without
// following a symbolic link: every later primitive of the acquisition and
// the hold acts relative to this handle.
func (l *Lock) openDir() (Dir, error) {
	d, err := l.cfg.FS.OpenDir(nil, l.dir, true, l.cfg.DirPerm)
	switch {
	case err == nil:
		return d, nil
	case errors.Is(err, ErrBadPath):
		return nil, err
	}
	return nil, fmt.Errorf("cryolock: opening lock directory %s: %w", l.dir, err)
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
	for {
		live, err := a.scan(ctx, e.name)
		if errors.Is(err, errOwnGone) {
			e.stop()
			l.cfg.Logger.Warn("cryolock: own spec file was removed while waiting; starting over", "path", e.path)
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
		switch l.decide(live, e.ticket) {
		case held:
			l.cfg.Logger.Debug("cryolock: held", "path", e.path)
			return held, nil
		case withdrawn:
			if _, err := fail(nil); err != nil {
				return withdrawn, err
			}
			return withdrawn, nil
		}
		if try {
			if _, err := fail(nil); err != nil {
				return withdrawn, err
			}
			return busy, nil
		}
		if err := a.backoff(ctx); err != nil {
			return fail(l.ctxErr(err))
		}
	}
}

var errOwnGone = errors.New("own spec file gone")

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
			if werr := a.withdraw(e); werr != nil {
				err = errors.Join(err, werr)
			}
			return withdrawn, fmt.Errorf("cryolock: lock %s: %w", l.dir, err)
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

// competitor is a live spec file of someone else.
type competitor struct {
	name   string
	ticket int32
	shared bool
}

// blocked is rule 1's test: whether the live entries seen before entering
// mean there is no point entering now.
func (l *Lock) blocked(live []competitor) bool {
	if l.role == shared {
		for _, c := range live {
			if !c.shared {
				return true // a writer holds or waits: readers keep out
			}
		}
		return false
	}
	return len(live) >= l.slots
}

// decide is rule 4's test for an entry with ticket mine, given the live
// entries of others seen in a listing made after the entry was created:
// held, withdrawn (remove the entry, back off, start over) or busy (keep the
// entry and look again).
//
//   - A reader holds when no exclusive entry is live, and withdraws
//     otherwise: a waiting writer keeps readers out, so readers cannot
//     starve writers.
//   - An exclusive entry holds when fewer than slots others are live
//     (readers included). Otherwise it withdraws if at least slots
//     exclusive entries have a ticket ≥ mine (ties withdraw both), and waits
//     if not: the lower tickets will withdraw, or are holders that will
//     release. With slots = 1 this is the mutex rule: hold on an empty
//     listing, withdraw before any ticket ≥ mine, wait on lower ones.
//
// Safety rests only on the "held" cases, which need an empty-enough listing
// made after the entry's own creation; the tickets only break symmetry.
func (l *Lock) decide(live []competitor, mine int32) outcome {
	if l.role == shared {
		for _, c := range live {
			if !c.shared {
				return withdrawn
			}
		}
		return held
	}
	if len(live) < l.slots {
		return held
	}
	higher := 0
	for _, c := range live {
		if !c.shared && c.ticket >= mine {
			higher++
		}
	}
	if higher >= l.slots {
		return withdrawn
	}
	return busy
}

// watchSuspects decides whether TryLock, blocked by the live entries live,
// should keep looking instead of giving up. Under the Observed rule an entry
// is judged stale only after a whole lease of watching, so a TryLock that gave
// up at once would never clear a crashed holder's entry: `cryolock run
// --nonblock` from cron would stay blocked forever. So when every blocking
// entry also looks dead by the wall clock (mtime + lease < now: a hint only,
// never a reason to break anything), TryLock watches them for up to
// 1.25 leases, until the judge reaps them or the time is up. A live holder
// looks alive by the wall clock unless clocks are skewed by more than its
// lease, so TryLock still returns at once in the common case.
func (a *attempt) watchSuspects(live []competitor) bool {
	if len(live) == 0 {
		return false
	}
	env := a.l.cfg.Env
	now := env.Now()
	var longest time.Duration
	for _, c := range live {
		r := a.entries[c.name]
		if r == nil || !r.lastSet {
			return false
		}
		s := r.last
		if s.Lease.Forever || !s.ModTime.Add(s.Lease.D).Before(now) {
			return false
		}
		longest = max(longest, s.Lease.D)
	}
	mono := env.Mono()
	if a.tryUntil == 0 {
		a.tryUntil = mono + longest + longest/4 + a.l.cfg.Settle
		a.l.cfg.Logger.Debug("cryolock: TryLock watches entries that look dead", "path", a.l.dir, "for", a.tryUntil-mono)
	}
	return mono < a.tryUntil
}

// backoff sleeps for a randomised, exponentially growing delay between
// MinBackoff and MaxBackoff (or DefaultIdleBackoff: see Config.ceiling).
func (a *attempt) backoff(ctx context.Context) error {
	c := &a.l.cfg
	a.startWatch()
	if a.delay == 0 {
		a.delay = c.MinBackoff
	} else {
		a.delay = min(a.delay*2, c.ceiling(a.watch != nil))
	}
	a.waited = true
	delay := a.delay
	if a.watch != nil {
		delay = WatchedPoll // changes wake us; the poll is only a safety net
	}
	// Sleep a uniformly random time in [delay/2, delay).
	d := delay/2 + time.Duration(unit(c.Env.Uint64())*float64(delay/2))
	return a.sleepBackoff(ctx, d)
}

// unit maps 64 random bits to a float64 uniform in [0, 1).
func unit(v uint64) float64 { return float64(v>>11) / (1 << 53) }
