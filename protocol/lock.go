package protocol

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/cryolock-go/cryolock/stale"
)

// Suffix is the suffix every lock directory's name must end in.
const Suffix = ".cryolock"

// Lock is a mutual-exclusion lock shared by every process that uses the same
// lock directory, on any host, through any filesystem that provides the
// primitives of [FS].
//
// A Lock value is one contender. Its methods are safe to call from several
// goroutines, but it is not a sync.Mutex among them: while it holds the lock
// (or is acquiring it) a second Lock or TryLock on the same value returns
// [ErrAlreadyHeld] at once instead of waiting. Goroutines of one process that
// want to exclude each other should each use their own Lock value on the same
// path (they then exclude each other exactly as processes do), or put a
// sync.Mutex in front of one Lock value.
//
// A held lock is kept alive by a heartbeat goroutine. If the heartbeat finds
// the entry removed, or cannot refresh it in time (for example because the
// process was suspended), the channel returned by [Lock.Lost] is closed: from
// then on another contender may hold the lock, and the holder must stop
// touching what the lock protects.
//
// Make a Lock with [New]. The zero Lock names no directory: its Lock,
// TryLock and LockContext return an error wrapping [ErrConfig], its Unlock
// one wrapping [ErrNotHeld].
type Lock struct {
	dir   string
	abs   string // dir made absolute (LockAll's order)
	cfg   config
	lease stale.Lease
	body  []byte // entry content
	role  role
	slots int // how many exclusive holders may hold at once (1: a mutex)

	mu   sync.Mutex
	busy bool   // acquiring or holding
	held *entry // non-nil while held
	mem  memory // guarded by busy: only the acquiring goroutine uses it
	// lookFirst makes the next attempt look before entering (after an
	// error); guarded by busy like mem.
	lookFirst bool
	// att is the state of the running attempt (see newAttempt); guarded
	// by busy like mem.
	att attempt
	// leak is what the cleanup registered at the value's first hold
	// reports if the value becomes unreachable while holding (see leaked).
	leak *leak
	// hb starts the heartbeats of the value's entries (made at its first
	// hold); guarded by busy like mem.
	hb *heartbeats
}

// checkPath returns the lock path path cleaned, or an error wrapping
// ErrBadPath if it cannot name a lock directory: empty, with a NUL byte, or
// with a name that does not end in Suffix.
func checkPath(path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%w: empty path", ErrBadPath)
	}
	if strings.IndexByte(path, 0) >= 0 {
		return "", fmt.Errorf("%w: the path contains a NUL byte", ErrBadPath)
	}
	dir := filepath.Clean(path)
	if !strings.HasSuffix(filepath.Base(dir), Suffix) {
		return "", fmt.Errorf("%w: the lock directory's name must end in %q", ErrBadPath, Suffix)
	}
	return dir, nil
}

// errZeroLock is the error of acquiring a Lock or Reentrant that New did
// not make (a zero value).
func errZeroLock(op, path string) error {
	return &Error{Op: op, Path: path, Err: fmt.Errorf("%w: a zero Lock; make one with New", ErrConfig)}
}

// New returns a Lock on the lock directory path, which must end in
// ".cryolock" and is created on first use if missing. New performs no I/O;
// problems with the directory itself are reported by Lock and TryLock.
//
// With [WithShared] the Lock is a reader of a reader–writer lock, and with
// [WithSlots] one of the holders of a semaphore; otherwise it is a mutex
// (and a writer to the readers of its directory).
func New(path string, opts ...Option) (*Lock, error) {
	var c config
	for _, o := range opts {
		if o != nil { // as WithOptions: a nil Option sets nothing
			o(&c)
		}
	}
	r := exclusive
	if c.Shared {
		r = shared
	}
	return newLock(path, r, max(c.Slots, 1), c)
}

// role is what an entry claims: the whole lock, or a share of it.
type role int

const (
	exclusive role = iota // a mutex holder, a writer, a semaphore slot
	shared                // a reader
)

func newLock(path string, r role, slots int, c config) (*Lock, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, &Error{Op: "new", Path: path, Err: err}
	}
	dir, err := checkPath(path)
	if err != nil {
		return nil, &Error{Op: "new", Path: path, Err: err}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	l := &Lock{dir: dir, abs: abs, cfg: c, lease: c.lease(), role: r, slots: slots}
	l.body = []byte(l.lease.String())
	return l, nil
}

// Path returns the lock directory.
func (l *Lock) Path() string { return l.dir }

// Settings returns the Lock's effective settings, defaults filled in.
func (l *Lock) Settings() Settings { return l.cfg.Settings }

// Lock acquires the lock, waiting as long as it takes or until ctx is done.
// On failure it leaves no file of its own behind (as far as the filesystem
// lets it: a removal that fails is reported in the error) and returns an
// error that wraps ctx.Err(), [ErrBadPath], [ErrForeign], [ErrAlreadyHeld], or
// the filesystem's error, naming the path. An entry of another contender
// that answers ESTALE (NFS: just removed, or a server failover) is not an
// error here: Lock waits and looks again (TryLock returns it).
func (l *Lock) Lock(ctx context.Context) error {
	_, err := l.acquire(ctx, false)
	return err
}

// TryLock makes one attempt to acquire the lock without waiting for another
// holder. It returns true if it acquired the lock, false (and a nil error) if
// another live contender was present. Racing contenders may all get false.
func (l *Lock) TryLock(ctx context.Context) (bool, error) {
	return l.acquire(ctx, true)
}

// Unlock releases the lock: it stops the heartbeat, cancels the context of
// [Lock.LockContext] (before the removal, which may hang), and removes the
// entry.
// If the lock was lost while held (see [Lock.Lost]) or the entry was
// already gone, Unlock returns an error wrapping [ErrLost]; the Lock value
// is released either way and can be locked again.
//
// A hold ends only by Unlock, by loss, or by the process's end (the lease
// then runs out). A held Lock value that becomes unreachable — in Go a
// variable not used after Lock already is — stays held, its heartbeat
// going on, until the process exits: releasing it then would hand the lock
// to another process while this one may still be doing the work it
// guards. With the default Env an error is logged when that happens; keep
// the value reachable (defer l.Unlock()) to avoid the noise.
func (l *Lock) Unlock() error {
	e, err := l.detach()
	if err != nil {
		return err
	}
	return l.cfg.release(e)
}

// UnlockContext releases the lock like [Lock.Unlock], but returns when ctx
// is done even if the filesystem hangs (a hard NFS mount during an outage):
// the Lock value is released at once and can be locked again, the heartbeat
// is stopped and the context of [Lock.LockContext] cancelled before it
// returns, and the removal of the entry goes on in the background; the
// error then wraps ctx.Err() and, if the hold was lost before (see
// [Lock.Lost]), is joined with the loss's error, which wraps [ErrLost] as
// Unlock's would. An entry whose removal never completes goes
// stale after its lease and is reaped by the next contender.
func (l *Lock) UnlockContext(ctx context.Context) error {
	e, err := l.detach()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	cfg := l.cfg
	cfg.Env.AfterFunc(0, func() { done <- cfg.release(e) })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // the removal finished too: its verdict
			return err
		default:
		}
		err := &Error{Op: "unlock", Path: e.path, Err: fmt.Errorf("%w (the entry's removal goes on in the background)", ctx.Err())}
		if lostErr := e.lostErr(); lostErr != nil {
			// Lost before the release: say so, as Unlock would.
			return errors.Join(lostErr, err)
		}
		return err
	}
}

// detach ends the Lock value's hold and returns it, its entry still to
// remove. The hold ends here, before the removal, which may hang (the case
// of UnlockContext): the heartbeat is stopped and the LockContext context
// is cancelled with ErrReleased at once (a hold lost before keeps ErrLost as
// its cause), so that no work goes on under it while another contender may
// take the lock after the entry's lease.
func (l *Lock) detach() (*entry, error) {
	l.mu.Lock()
	e := l.held
	if e == nil {
		l.mu.Unlock()
		return nil, &Error{Op: "unlock", Path: l.dir, Err: ErrNotHeld}
	}
	l.held, l.busy = nil, false
	if l.leak != nil {
		l.leak.set("")
	}
	l.mu.Unlock()
	e.stop()
	e.endHold()
	return e, nil
}

// release removes the entry of a hold that detach ended (rule U1).
func (c config) release(e *entry) error {
	err := c.FS.Remove(e.dir, e.name)
	if e.released != nil {
		e.released()
	}
	e.dir.Close()
	lostErr := e.lostErr()
	switch {
	case lostErr != nil:
		c.Logger.Warn("cryolock: released a lost lock", "path", e.path, "reason", lostErr)
		return lostErr // the heartbeat's *Error: why it was lost
	case errors.Is(err, fs.ErrNotExist):
		c.Logger.Warn("cryolock: entry already gone at release", "path", e.path)
		return &Error{Op: "unlock", Path: e.path, Err: fmt.Errorf("%w: the entry was already gone (removed by someone else)", ErrLost)}
	case err != nil:
		return &Error{Op: "unlock", Path: e.path, Err: err}
	}
	c.debug("cryolock: released", e.path)
	return nil
}

// leaked is the cleanup of a Lock value that became unreachable, registered
// at its first hold. If the value held the lock then, it says so: the hold
// goes on until the process exits (see [Lock.Unlock] for why it is not
// released).
func leaked(x *leak) {
	if path := x.get(); path != "" {
		x.logger.Error("cryolock: a held Lock became unreachable without Unlock; it stays held until the process exits", "path", path)
	}
}

// leak is the argument of a Lock value's cleanup: the path of the entry it
// holds ("" while it holds none). It must not reach the Lock value, or the
// value would never become unreachable. One per value, not one cleanup per
// hold: registering one at every hold cost two allocations per cycle and
// a Stop at every release.
type leak struct {
	logger *slog.Logger
	mu     sync.Mutex
	path   string
}

func (x *leak) set(path string) {
	x.mu.Lock()
	x.path = path
	x.mu.Unlock()
}

func (x *leak) get() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.path
}

// Lost returns a channel that is closed when the current hold is lost: the
// entry was removed by someone else, or the heartbeat could not refresh it
// for 0.75 × lease. It returns nil when the Lock value does not hold the
// lock; a receive from nil blocks for ever, so select on it together with a
// channel of your own (or use the context of [Lock.LockContext], which is
// also cancelled at release). Releasing with Unlock does not close it.
func (l *Lock) Lost() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		return nil
	}
	return l.held.lostChan()
}

// Held reports whether the Lock value holds the lock, has not been told it
// was lost, and its last good heartbeat is younger than 0.75 × lease (so it
// reports false as soon as the hold is overdue, even before the heartbeat's
// watchdog gets to run on a starved machine).
func (l *Lock) Held() bool {
	l.mu.Lock()
	e := l.held
	l.mu.Unlock()
	if e == nil || e.lostErr() != nil {
		return false
	}
	return l.lease.Forever || l.cfg.Env.Mono()-time.Duration(e.lastOK.Load()) < stale.OverdueAfter(l.lease.D)
}

// Name returns the entry name of the current hold ("" when not held).
func (l *Lock) Name() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		return ""
	}
	return l.held.name
}

func (l *Lock) acquire(ctx context.Context, try bool) (bool, error) {
	if l.cfg.FS == nil {
		return false, errZeroLock("lock", l.dir)
	}
	l.mu.Lock()
	if l.busy {
		l.mu.Unlock()
		return false, &Error{Op: "lock", Path: l.dir, Err: ErrAlreadyHeld}
	}
	l.busy = true
	l.mu.Unlock()

	var e *entry
	d, err := l.openDir()
	for err == nil {
		e, err = l.acquireV1(ctx, d, try)
		l.lookFirst = err != nil
		if err == nil || try {
			break
		}
		err = l.waitOutPeerStale(ctx, err) // nil: look again
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e == nil {
		if d != nil {
			d.Close()
		}
		l.busy = false
		return false, err
	}
	l.held = e
	if _, real := l.cfg.Env.(*osEnv); real {
		// Only with the real environment: a simulator's Env and FS must
		// not be called from the garbage collector's goroutine.
		if l.leak == nil {
			l.leak = &leak{logger: l.cfg.Logger}
			runtime.AddCleanup(l, leaked, l.leak)
		}
		l.leak.set(e.path)
	}
	return true, nil
}

// waitOutPeerStale is for a blocking Lock whose attempt failed (leaving no
// entry of its own) because another's entry answered ESTALE (PROOF.md
// A0c): on NFS the entry of a holder that has just released reads so
// through a cached handle, and on a server failover a live one may. Such an
// entry is never judged gone; the contender waits a backoff and looks
// again (nil: try again), as its caller would have to. Any other error, or
// ctx ending while it waits, is returned.
func (l *Lock) waitOutPeerStale(ctx context.Context, err error) error {
	var pe *peerStaleError
	if !errors.As(err, &pe) {
		return err
	}
	c := &l.cfg
	c.Logger.Info("cryolock: an entry answered ESTALE; waiting and looking again", "path", l.dir, "err", err)
	ceil := c.ceiling(false)
	d := ceil/2 + time.Duration(unit(c.Env.Uint64())*float64(ceil/2))
	if serr := c.Env.Sleep(ctx, d); serr != nil {
		// One *Error (see Error): the last attempt's operation and path
		// go into the text, its cause stays wrapped.
		last := err
		if ae, ok := err.(*Error); ok {
			last = fmt.Errorf("%s %s: %w", ae.Op, ae.Path, ae.Err)
		}
		return l.ctxErr(fmt.Errorf("%w (the last attempt: %w)", ctx.Err(), last))
	}
	return nil
}

// LockContext acquires the lock like [Lock.Lock] and returns a context,
// derived from ctx, that is cancelled when the hold ends: with cause
// [ErrLost] (wrapped) when the lock is lost, [ErrReleased] when Unlock is
// called. Run the work the lock protects under that context and it stops by
// itself when the lock can no longer be trusted; context.Cause tells why.
// Cancelling ctx also cancels the returned context but does not release the
// lock: call Unlock as always. On error it returns a nil context.
func (l *Lock) LockContext(ctx context.Context) (context.Context, error) {
	if err := l.Lock(ctx); err != nil {
		return nil, err
	}
	return l.holdContext(ctx), nil
}

func (l *Lock) holdContext(ctx context.Context) context.Context {
	hctx, cancel := context.WithCancelCause(ctx)
	l.mu.Lock()
	e := l.held
	l.mu.Unlock()
	if e == nil { // released by another goroutine already
		cancel(ErrReleased)
		return hctx
	}
	e.setHoldCancel(cancel)
	return hctx
}

// Token returns the fencing token of the current hold: strictly greater than
// every earlier holder's (see [Fencing]). It is 0 when the lock is not held
// or was created without [WithFencing].
func (l *Lock) Token() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		return 0
	}
	return l.held.token
}

func (l *Lock) ctxErr(err error) error {
	return &Error{Op: "lock", Path: l.dir, Err: err}
}

// openDir opens the lock directory (F1), creating it if missing, without
// following a symbolic link: every later primitive of the acquisition and
// the hold acts relative to this handle.
func (l *Lock) openDir() (Dir, error) {
	d, err := l.cfg.FS.OpenDir(nil, l.dir, true, l.cfg.DirPerm)
	if err != nil {
		return nil, &Error{Op: "lock", Path: l.dir, Err: err}
	}
	return d, nil
}
