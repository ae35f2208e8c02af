package protocol

import (
	"context"
	"time"
)

// watcher is an optional interface of an [FS]: a hint that a directory may
// have changed, so that a waiting contender can look again at once instead
// of at its next poll. It is only ever a hint — every decision of the
// protocol is made from a listing — and an FS should offer it only where it
// reports every change made by any client (on Linux: inotify on a local
// filesystem; never on NFS, SMB or FUSE, where it sees only local changes).
//
// While a watch is active the protocol polls at most every watchedPoll as a
// safety net, which is what makes an idle waiter nearly free.
type watcher interface {
	// Watch starts watching dir for entries created or removed. It returns
	// (nil, nil) if the directory's filesystem cannot be watched reliably.
	Watch(d Dir) (dirWatch, error)
}

// dirWatch is an active watch of one directory.
type dirWatch interface {
	// Changes returns how many changes the watch has seen so far (a
	// counter that starts above zero).
	Changes() uint64
	// Arm returns a context derived from ctx that is also cancelled as soon
	// as Changes() differs from since — at once if it already does — and a
	// function to call when done with it.
	Arm(ctx context.Context, since uint64) (context.Context, context.CancelFunc)
	// Close ends the watch.
	Close() error
}

// removalWatch is an optional interface of a dirWatch whose events name
// the entries that changed (inotify on Linux). A waiter blocked by some live
// entries sleeps until one of them is removed — not at every creation or
// removal by other waiters — which keeps a crowd of waiters from listing
// the directory at every change.
type removalWatch interface {
	// ArmRemovals is like Arm, but the context is cancelled only when one
	// of names was removed after the change numbered since (at once if that
	// happened already), or when the watch lost track of changes (an event
	// queue overflow, the directory itself moved).
	ArmRemovals(ctx context.Context, since uint64, names []string) (context.Context, context.CancelFunc)
}

// entryWatch is an optional interface of a dirWatch (inotify on Linux):
// watches of single entries, and the gate that queues the waiters of a host
// (see watch_entries_linux.go). A mutex contender that has one waits
// without a crowd: only the waiter at the gate watches for the lock to come
// free, and it wakes only when an entry that keeps it out goes.
type entryWatch interface {
	// armEntries is like ArmRemovals, but wakes only for the named entries
	// (removed, moved, or touched by a heartbeat), never for others.
	armEntries(ctx context.Context, names []string) (context.Context, context.CancelFunc)
	// joinGate queues the caller at the directory's gate; nil if there is
	// none.
	joinGate() gatePlace
}

// gatePlace is a waiter's place at a gate.
type gatePlace interface {
	// arm returns a context derived from ctx that is also cancelled when
	// the place is granted (at once if it is already), or becomes the
	// next of its process, or is the next of its process and should look
	// at the lock (at most every gatePoll, at random: the gate is only a
	// hint). The others behind the next of a process wait for their turn.
	arm(ctx context.Context) (context.Context, context.CancelFunc)
	// held reports whether the place was granted.
	held() bool
	// leave gives the place up (granted or not).
	leave()
}

// gatePoll is the longest the first waiter of a process queued at the
// gate sleeps between its own looks (at random, from gatePoll/2): the gate
// is a hint, and a waiter that finds the lock free enters without it.
// (Waiters behind it in the same process only wait for their turn: the
// first looks for them all.)
const gatePoll = time.Second

// changeLog is an optional interface of a dirWatch that remembers the
// names of recent changes: a waiter woken by a removal can then tell from
// them, without listing, whether it is still blocked.
type changeLog interface {
	changesSince(since uint64) (created, removed []string, now uint64, ok bool)
}

// watchedPoll is the longest a waiting contender sleeps between listings
// while a watcher watches the lock directory for it.
const watchedPoll = 250 * time.Millisecond

// sleepBackoff sleeps d, or until the lock directory changes if a watch is
// active. A wake-up by a change is not an error.
func (a *attempt) sleepBackoff(ctx context.Context, d time.Duration) error {
	env := a.l.cfg.Env
	defer func() { a.wake = nil }()
	a.woke = false
	if a.watch == nil {
		return env.Sleep(ctx, d)
	}
	// Any change since the last listing began ends the sleep — or, when
	// the contender knows which entries keep it waiting and the watch can
	// tell, only the removal of one of them. A sleep cut short by a change
	// is not an error; only ctx's is.
	var wctx context.Context
	var cancel context.CancelFunc
	ew, entries := a.watch.(entryWatch)
	if a.ew != nil {
		if a.wake == nil {
			return env.Sleep(ctx, d) // after a withdrawal: look again soon
		}
		wctx, cancel = a.ew.armEntries(ctx, a.wake)
	} else if entries && len(a.wake) > 0 {
		// Readers, semaphore contenders and TryLock's watchers watch the
		// entries that keep them out, not the directory: on a busy
		// directory the directory's watch would wake every waiting
		// process at every entry made or removed.
		wctx, cancel = ew.armEntries(ctx, a.wake)
	} else if rw, ok := a.watch.(removalWatch); ok && a.wake != nil {
		wctx, cancel = rw.ArmRemovals(ctx, a.seen, a.wake)
	} else {
		wctx, cancel = a.watch.Arm(ctx, a.seen)
	}
	_ = env.Sleep(wctx, d)
	a.woke = wctx.Err() != nil && ctx.Err() == nil
	cancel()
	return ctx.Err()
}

// startWatch starts watching the lock directory, once per acquisition, the
// first time the contender has to wait (never on the uncontended path).
func (a *attempt) startWatch() {
	if a.watchTried {
		return
	}
	a.watchTried = true
	w, ok := a.l.cfg.FS.(watcher)
	if !ok || a.l.cfg.NoWatch {
		return
	}
	dw, err := w.Watch(a.dir)
	if err != nil || dw == nil {
		if err != nil {
			a.l.cfg.Logger.Debug("cryolock: cannot watch the lock directory; polling", "path", a.l.dir, "err", err)
		}
		return
	}
	a.watch = dw
	if ew, ok := dw.(entryWatch); ok && a.queue && !a.try {
		a.ew = ew
	}
	a.seen = 0 // the counter starts above 0: look again at once, in case a change came before the watch
}

// stopWatch ends the watch, if any.
func (a *attempt) stopWatch() {
	if a.watch != nil {
		a.watch.Close()
		a.watch = nil
	}
}
