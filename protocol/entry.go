package protocol

// One entry of ours from creation to removal: rule C2 (enter and stamp),
// H1 (the heartbeat, its watchdog and Invariant M of docs/PROOF.md) and
// withdrawal.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/stale"
)

// entry is one of our own entries, from creation to removal.
type entry struct {
	dir    Dir // the lock directory, open for the entry's life
	name   string
	path   string // for messages
	ticket int32
	lastOK atomic.Int64  // monotonic start of the last good refresh
	lost   chan struct{} // made by lostChan; guarded by hmu
	once   sync.Once
	why    atomic.Pointer[error]
	token  uint64 // fencing token, 0 if none

	released func() // if set, called by release after the entry's removal (the gate: see keepGate)

	hmu        sync.Mutex              // guards lost, cancelHold, ended and the store of why
	cancelHold context.CancelCauseFunc // the LockContext context, if any
	ended      bool                    // endHold ran (a context registered later is cancelled at once)

	// The heartbeat (see startHeartbeat and heartbeats): hbCancel stops
	// the keeper, once the timer has started it; hbStopped tells a timer
	// that fires after stop not to start one.
	hbMu      sync.Mutex
	hbStopped bool
	hbCancel  context.CancelFunc
}

func (e *entry) markLost(err error) {
	e.once.Do(func() {
		e.hmu.Lock()
		e.why.Store(&err)
		if e.lost != nil {
			close(e.lost)
		}
		if e.cancelHold != nil {
			e.cancelHold(err)
		}
		e.hmu.Unlock()
	})
}

// lostChan returns the channel that markLost closes, made at the first
// call (most holds are never asked for it).
func (e *entry) lostChan() <-chan struct{} {
	e.hmu.Lock()
	defer e.hmu.Unlock()
	if e.lost == nil {
		e.lost = make(chan struct{})
		if e.why.Load() != nil {
			close(e.lost)
		}
	}
	return e.lost
}

// setHoldCancel registers the cancel function of a LockContext context; it
// is called at once if the hold is already lost.
func (e *entry) setHoldCancel(cancel context.CancelCauseFunc) {
	e.hmu.Lock()
	e.cancelHold = cancel
	ended := e.ended
	e.hmu.Unlock()
	if err := e.lostErr(); err != nil {
		cancel(err)
	}
	if ended {
		// Released by another goroutine between LockContext's Lock and
		// this registration.
		cancel(ErrReleased)
	}
}

func (e *entry) endHold() {
	e.hmu.Lock()
	e.ended = true
	if e.cancelHold != nil {
		e.cancelHold(ErrReleased)
	}
	e.hmu.Unlock()
}

func (e *entry) lostErr() error {
	if p := e.why.Load(); p != nil {
		return *p
	}
	return nil
}

// stop stops e's heartbeat, if it has one; it does not wait for a refresh
// in flight.
func (e *entry) stop() {
	e.hbMu.Lock()
	e.hbStopped = true
	if e.hbCancel != nil {
		e.hbCancel()
	}
	e.hbMu.Unlock()
}

// newEntry draws a fresh owner and ticket (F2): the name of a new entry.
// Env is the nonce source, so the simulator replays the draws.
func (l *Lock) newEntry() *entry {
	return l.newEntryTicket(func() int32 { return nonce.Ticket(l.cfg.Env) })
}

// newEntryTicket is newEntry with the ticket drawn by ticket (after the
// owner, from the same source).
func (l *Lock) newEntryTicket(ticket func() int32) *entry {
	// The path and the name in one string (the name is its tail).
	host, pid := l.cfg.Env.Process()
	var buf [256]byte
	b := append(buf[:0], l.dir...)
	b = append(b, filepath.Separator)
	b = nonce.AppendOwner(b, l.cfg.Env, host, pid)
	if l.role == shared {
		b = append(b, nonce.SharedSuffix...) // nonce.SharedOwner
	}
	t := ticket()
	path := string(nonce.AppendTicket(b, t))
	return &entry{name: path[len(l.dir)+1:], path: path, ticket: t}
}

// enter writes a fresh entry and starts its heartbeat (rule 2).
func (a *attempt) enter() (*entry, error) {
	l := a.l
	env := l.cfg.Env
	e := l.newEntryTicket(a.drawTicket)
	e.dir = a.dir
	start := env.Mono()
	if err := l.cfg.FS.WriteFile(a.dir, e.name, l.body, l.cfg.FilePerm); err != nil {
		// A failed create may still have left a file (a write that failed
		// after the create): if it did, take it back.
		if _, serr := l.cfg.FS.Stat(a.dir, e.name); !errors.Is(serr, fs.ErrNotExist) {
			if rerr := l.cfg.FS.Remove(a.dir, e.name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, fmt.Errorf("the write failed after creating the entry, and removing it failed too (it holds nothing and goes stale after its lease): %w", rerr))
			}
		}
		return nil, &Error{Op: "enter", Path: e.path, Err: err}
	}
	e.lastOK.Store(int64(start))
	if !l.lease.Forever {
		// Rule C2: stamp the entry from our own clock at once, so that
		// every mtime it ever has comes from one clock and refreshes
		// differ by a whole period (guarded by TestEntryStampedFromOwnClock).
		// The stamp is not best effort: an entry left with the file
		// server's creation mtime can have its first refresh write the
		// very same (coarse) mtime, and observers would see no heartbeat
		// while we believe in one (Lemma R; TestFailedStampFailsEntry). So
		// a failed stamp fails the entry: take it back and report.
		now := env.Now()
		err := l.cfg.FS.Chtimes(a.dir, e.name, now, now)
		if errors.Is(err, fs.ErrNotExist) {
			// Reaped already (judged from the server's mtime): start over.
			l.cfg.Logger.Warn("cryolock: own entry was removed before it was stamped; starting over", "path", e.path)
			return nil, errOwnGone
		}
		if err != nil {
			if rerr := l.cfg.FS.Remove(a.dir, e.name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, fmt.Errorf("removing the unstamped entry failed (it holds nothing and goes stale after its lease): %w", rerr))
			}
			return nil, &Error{Op: "stamp", Path: e.path, Err: err}
		}
	}
	l.cfg.debug("cryolock: entered", e.path)
	a.startHeartbeat(e)
	return e, nil
}

// startHeartbeat starts e's keeper (rule H1). A refresh counts only if it
// advanced the mtime observers see (Invariant M).
func (a *attempt) startHeartbeat(e *entry) {
	l := a.l
	if l.lease.Forever {
		return
	}
	if l.hb == nil {
		l.hb = &heartbeats{lease: l.lease, fsys: l.cfg.FS, logger: l.cfg.Logger, env: l.cfg.Env}
	}
	// The keeper's goroutine starts when the first refresh can fall due:
	// 0.4 × lease after LastOK (taken before the create), not after the
	// stamp returned — a stamp that hung must not push the first refresh,
	// and with it the overdue check and the watchdog, past the point where
	// observers may judge the entry stale (found by the timed model's trace
	// conformance check, sim/timedmodel_test.go). A short hold never starts
	// one, nor builds it.
	l.hb.schedule(e, time.Duration(e.lastOK.Load())+stale.Period(l.lease.D, 0))
}

// heartbeats starts the keepers of a Lock value's entries (rule H1) from
// one timer, armed for the moment the current entry's first refresh falls
// due. A hold only names its entry and due time, and arms the timer only if
// it is not armed already for an earlier moment; a timer that fires before
// the current entry is due (it was armed for an earlier hold) is armed again
// for that entry. So a value that locks and unlocks arms a timer about once
// per 0.4 × lease, not at every hold (a timer armed and stopped at every
// hold was a twentieth of an uncontended cycle), and once its last hold has
// ended its timer fires at most once more. It must not reach the Lock value
// (see [Lock.Unlock]): only entries and these.
type heartbeats struct {
	lease  stale.Lease
	fsys   FS
	logger *slog.Logger
	env    Env

	mu    sync.Mutex
	cur   *entry        // the latest entry scheduled (its keeper not started by this)
	due   time.Duration // Mono when cur's first refresh falls due
	armed bool          // a timer is armed for at
	at    time.Duration // Mono
	gen   uint64        // counts the timers armed: a firing of an earlier one does nothing
	stop  func() bool   // stops the armed timer (nil while it is being armed)
}

// schedule makes e, due at due, the entry whose keeper the timer starts.
func (h *heartbeats) schedule(e *entry, due time.Duration) {
	h.mu.Lock()
	h.cur, h.due = e, due
	if h.armed && h.at <= due {
		h.mu.Unlock()
		return
	}
	h.arm(due)
}

// arm arms the timer for at, stopping one armed for later. It is called with
// h.mu held and releases it: Env.AfterFunc is called without it.
func (h *heartbeats) arm(at time.Duration) {
	old := h.stop
	h.gen++
	gen := h.gen
	h.armed, h.at, h.stop = true, at, nil
	h.mu.Unlock()
	if old != nil {
		old() // if it fires anyway, its generation is stale
	}
	stop := h.env.AfterFunc(max(at-h.env.Mono(), 0), func() { h.fire(gen) })
	h.mu.Lock()
	if h.gen == gen {
		h.stop = stop
	}
	h.mu.Unlock()
}

// fire is the timer armed as generation gen.
func (h *heartbeats) fire(gen uint64) {
	h.mu.Lock()
	if gen != h.gen {
		h.mu.Unlock()
		return
	}
	h.armed, h.stop = false, nil
	e := h.cur
	if e == nil {
		h.mu.Unlock()
		return
	}
	if h.at < h.due && !e.stopped() {
		// Armed for an earlier hold: wait for this one's due time. (One
		// that has ended already goes on below, to the stopped check.)
		h.arm(h.due)
		return
	}
	h.cur = nil
	h.mu.Unlock()
	e.hbMu.Lock()
	if e.hbStopped {
		e.hbMu.Unlock()
		return
	}
	kctx, cancel := context.WithCancel(context.Background())
	e.hbCancel = cancel
	e.hbMu.Unlock()
	if err := newKeeper(e, h.lease, h.fsys, h.logger, h.env).Run(kctx); err != nil {
		h.logger.Warn("cryolock: heartbeat failed", "path", e.path, "err", err)
		e.markLost(&Error{Op: "heartbeat", Path: e.path, Err: fmt.Errorf("%w: %w", ErrLost, err)})
	}
}

// stopped reports whether stop was called.
func (e *entry) stopped() bool {
	e.hbMu.Lock()
	defer e.hbMu.Unlock()
	return e.hbStopped
}

// newKeeper returns the keeper of e's heartbeat (rule H1). A refresh counts
// only if it advanced the mtime observers see (Invariant M).
func newKeeper(e *entry, lease stale.Lease, fsys FS, logger *slog.Logger, env Env) *stale.Keeper {
	var seen time.Time // the latest mtime the keeper's Stat saw
	k := &stale.Keeper{
		Lease:  lease,
		Clock:  env,
		Jitter: func() float64 { return unit(env.Uint64()) },
		LastOK: time.Duration(e.lastOK.Load()),
		Touch: func() error {
			// A lock directory that is no longer at its path (renamed,
			// or swapped for another directory or a symbolic link)
			// holds nothing any more: the entry is gone for the others.
			if err := fsys.Verify(e.dir); err != nil {
				return goneErr{err}
			}
			// Never write an mtime at or before one already seen: with
			// the wall clock stepped back, a refresh could store an
			// mtime an observer saw before (A, B, A) and be judged by
			// its first sighting (Invariant M).
			now := env.Now()
			if !now.After(seen) {
				now = seen.Add(time.Microsecond)
			}
			return fsys.Chtimes(e.dir, e.name, now, now)
		},
		OnRefresh: func(start time.Duration) { e.lastOK.Store(int64(start)) },
		Go:        func(f func()) { env.AfterFunc(0, f) },
		OnLost: func(err error) {
			logger.Warn("cryolock: heartbeat overdue", "path", e.path, "err", err)
			e.markLost(&Error{Op: "heartbeat", Path: e.path, Err: fmt.Errorf("%w: %w", ErrLost, err)})
		},
	}
	// A refresh counts only if observers can see it (Lemma R).
	k.Stat = func() (time.Time, error) {
		fi, err := fsys.Stat(e.dir, e.name)
		if err == nil && fi.ModTime.After(seen) {
			seen = fi.ModTime
		}
		return fi.ModTime, err
	}
	return k
}

// overdue reports whether e's heartbeat is too old to rely on.
func (a *attempt) overdue(e *entry) bool {
	if a.l.lease.Forever {
		return false
	}
	return a.l.cfg.Env.Mono()-time.Duration(e.lastOK.Load()) >= stale.OverdueAfter(a.l.lease.D)
}

// withdraw stops e's heartbeat and removes its file.
func (a *attempt) withdraw(e *entry) error {
	e.stop()
	err := a.l.cfg.FS.Remove(a.dir, e.name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &Error{Op: "withdraw", Path: e.path, Err: err}
	}
	a.l.cfg.debug("cryolock: withdrew", e.path)
	return nil
}
