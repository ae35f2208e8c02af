package protocol

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
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
// the spec file removed, or cannot refresh it in time (for example because the
// process was suspended), the channel returned by [Lock.Lost] is closed: from
// then on another contender may hold the lock, and the holder must stop
// touching what the lock protects.
type Lock struct {
	dir   string
	abs   string // dir made absolute (LockAll's order)
	cfg   Config
	lease stale.Lease
	body  []byte // spec-file content
	role  role
	slots int // how many exclusive holders may hold at once (1: a mutex)

	mu   sync.Mutex
	busy bool   // acquiring or holding
	held *entry // non-nil while held
	mem  memory // guarded by busy: only the acquiring goroutine uses it
	// lookFirst makes the next attempt look before entering (after an
	// error); guarded by busy like mem.
	lookFirst bool
}

// New returns a Lock on the lock directory path, which must end in
// ".cryolock" and is created on first use if missing. New performs no I/O;
// problems with the directory itself are reported by Lock and TryLock.
func New(path string, opts ...Option) (*Lock, error) {
	return newLock(path, exclusive, 1, opts)
}

// role is what an entry claims: the whole lock, or a share of it.
type role int

const (
	exclusive role = iota // a mutex holder, a writer, a semaphore slot
	shared                // a reader
)

func newLock(path string, r role, slots int, opts []Option) (*Lock, error) {
	var c Config
	for _, o := range opts {
		o(&c)
	}
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("%w: empty path", ErrBadPath)
	}
	dir := filepath.Clean(path)
	base := filepath.Base(dir)
	if !strings.HasSuffix(base, Suffix) {
		return nil, fmt.Errorf("%w: %s: the lock directory's name must end in %q", ErrBadPath, path, Suffix)
	}
	if slots < 1 {
		return nil, fmt.Errorf("%w: %d slots; a semaphore needs at least 1", ErrConfig, slots)
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

// Config returns the Lock's configuration with defaults filled in.
func (l *Lock) Config() Config { return l.cfg }

// Lock acquires the lock, waiting as long as it takes or until ctx is done.
// On failure it leaves no file of its own behind (as far as the filesystem
// lets it: a removal that fails is reported in the error) and returns an
// error that wraps ctx.Err(), [ErrBadPath], [ErrForeign], [ErrAlreadyHeld], or
// the filesystem's error, naming the path.
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

// Unlock releases the lock: it stops the heartbeat and removes the spec
// file. If the lock was lost while held (see [Lock.Lost]) or the spec file
// was already gone, Unlock returns an error wrapping [ErrLost]; the Lock
// value is released either way and can be locked again.
func (l *Lock) Unlock() error {
	l.mu.Lock()
	e := l.held
	if e == nil {
		l.mu.Unlock()
		return fmt.Errorf("cryolock: unlock %s: %w", l.dir, ErrNotHeld)
	}
	l.held, l.busy = nil, false
	l.mu.Unlock()

	e.stop()
	err := l.cfg.FS.Remove(e.dir, e.name)
	e.dir.Close()
	e.endHold()
	lostErr := e.lostErr()
	switch {
	case lostErr != nil:
		l.cfg.Logger.Warn("cryolock: released a lost lock", "path", e.path, "reason", lostErr)
		return fmt.Errorf("cryolock: unlock: %w", lostErr)
	case errors.Is(err, fs.ErrNotExist):
		l.cfg.Logger.Warn("cryolock: spec file already gone at release", "path", e.path)
		return fmt.Errorf("cryolock: unlock %s: %w: the spec file was already gone (removed by someone else)", e.path, ErrLost)
	case err != nil:
		return fmt.Errorf("cryolock: unlock: removing %s: %w", e.path, err)
	}
	l.cfg.Logger.Debug("cryolock: released", "path", e.path)
	return nil
}

// Lost returns a channel that is closed when the current hold is lost: the
// spec file was removed by someone else, or the heartbeat could not refresh it
// for 0.75 × lease. It returns nil (a channel that never fires) when the
// Lock value does not hold the lock. Releasing with Unlock does not close it.
func (l *Lock) Lost() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		return nil
	}
	return l.held.lost
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

// Name returns the spec-file name of the current hold ("" when not held).
func (l *Lock) Name() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		return ""
	}
	return l.held.name
}

// entry is one spec file of ours, from creation to removal.
type entry struct {
	dir    Dir // the lock directory, open for the entry's life
	name   string
	path   string // for messages
	ticket int32
	cancel context.CancelFunc // stops the heartbeat
	lastOK atomic.Int64       // monotonic start of the last good refresh
	lost   chan struct{}
	once   sync.Once
	why    atomic.Pointer[error]
	token  uint64 // fencing token, 0 if none

	hmu        sync.Mutex
	cancelHold context.CancelCauseFunc // the LockContext context, if any
}

func (e *entry) markLost(err error) {
	e.once.Do(func() {
		e.why.Store(&err)
		close(e.lost)
		e.hmu.Lock()
		if e.cancelHold != nil {
			e.cancelHold(err)
		}
		e.hmu.Unlock()
	})
}

// setHoldCancel registers the cancel function of a LockContext context; it
// is called at once if the hold is already lost.
func (e *entry) setHoldCancel(cancel context.CancelCauseFunc) {
	e.hmu.Lock()
	e.cancelHold = cancel
	e.hmu.Unlock()
	if err := e.lostErr(); err != nil {
		cancel(err)
	}
}

func (e *entry) endHold() {
	e.hmu.Lock()
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

func (e *entry) stop() {
	if e.cancel != nil {
		e.cancel()
	}
}

func (l *Lock) acquire(ctx context.Context, try bool) (bool, error) {
	l.mu.Lock()
	if l.busy {
		l.mu.Unlock()
		return false, fmt.Errorf("cryolock: lock %s: %w", l.dir, ErrAlreadyHeld)
	}
	l.busy = true
	l.mu.Unlock()

	var e *entry
	d, err := l.openDir()
	if err == nil {
		if l.cfg.Rules == RulesLegacy {
			e, err = l.acquireLegacy(ctx, d, try)
		} else {
			e, err = l.acquireV1(ctx, d, try)
			l.lookFirst = err != nil
		}
	}
	if e != nil && l.cfg.Rules == RulesLegacy && l.fences() {
		if e.token, err = l.nextFence(d); err != nil {
			e.stop()
			if rerr := l.cfg.FS.Remove(d, e.name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, fmt.Errorf("releasing %s: %w", e.path, rerr))
			}
			e = nil
		}
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
	return true, nil
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
			judge:  stale.NewJudge(l.cfg.Stale),
			leases: make(map[string]stale.Lease),
			alive:  make(map[string]time.Duration),
			last:   make(map[string]stale.Sighting),
		}
	}
	return &attempt{l: l, dir: d, memory: l.mem}
}

// memory is what a Lock value remembers of other entries between attempts.
type memory struct {
	judge  *stale.Judge
	leases map[string]stale.Lease    // leases read from complete content
	alive  map[string]time.Duration  // when each entry was last judged alive
	last   map[string]stale.Sighting // each entry's latest sighting
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

// classify sorts a listed entry the way the protocol does: ignored
// (subdirectories, client artefacts: F7), foreign (with the reason: F8), or a
// spec file's owner and ticket (F2). Scan and Inspect share it, so the lock
// and `cryolock status` never disagree.
func classify(d DirEntry) (owner string, ticket int32, ignore bool, foreign string) {
	if d.Type.IsDir() || transient(d.Name) {
		return "", 0, true, ""
	}
	owner, ticket, ok := nonce.ParseName(d.Name)
	if !ok {
		return "", 0, false, "the name is not <owner>.<ticket>"
	}
	if !d.Type.IsRegular() {
		return "", 0, false, notRegular(d.Type)
	}
	return owner, ticket, false, ""
}

// goneErr makes an error count as fs.ErrNotExist for the heartbeat: the
// entry is gone for everyone else.
type goneErr struct{ err error }

func (g goneErr) Error() string        { return g.err.Error() }
func (g goneErr) Unwrap() error        { return g.err }
func (g goneErr) Is(target error) bool { return target == fs.ErrNotExist }

func notRegular(t fs.FileMode) string {
	return fmt.Sprintf("a spec-file name on an entry that is not a regular file (%v)", t.Type())
}

// foreignErr is the error of a contender that meets a foreign entry.
func foreignErr(path, reason string) error {
	return &foreignError{path, reason}
}

type foreignError struct{ path, reason string }

func (e *foreignError) Error() string {
	return fmt.Sprintf("%v: %s: %s; it was left untouched, remove it by hand if it is junk", ErrForeign, e.path, e.reason)
}
func (e *foreignError) Unwrap() error { return ErrForeign }

// foreignReason is the reason of a foreignErr.
func foreignReason(err error, path string) string {
	var fe *foreignError
	if errors.As(err, &fe) {
		return fe.reason
	}
	return err.Error()
}

// newEntry draws a fresh owner and ticket (F2): the name of a new entry.
// Env is the nonce source, so the simulator replays the draws.
func (l *Lock) newEntry() *entry {
	host, pid := l.cfg.Env.Process()
	owner := nonce.NewOwner(l.cfg.Env, host, pid)
	if l.role == shared {
		owner = nonce.SharedOwner(owner)
	}
	ticket := nonce.Ticket(l.cfg.Env)
	name := nonce.FormatName(owner, ticket)
	return &entry{name: name, path: l.dir + string(filepath.Separator) + name, ticket: ticket, lost: make(chan struct{})}
}

// enter writes a fresh spec file and starts its heartbeat (rule 2).
func (a *attempt) enter() (*entry, error) {
	l := a.l
	env := l.cfg.Env
	e := l.newEntry()
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
		return nil, fmt.Errorf("cryolock: entering %s: %w", e.path, err)
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
			return nil, fmt.Errorf("cryolock: stamping %s: %w", e.path, err)
		}
	}
	l.cfg.Logger.Debug("cryolock: entered", "path", e.path)
	a.startHeartbeat(e)
	return e, nil
}

// startHeartbeat starts e's keeper. A refresh counts only if it changed the
// mtime observers see (Lemma R), except under the legacy rules, which model
// cryolock 1.x's heartbeat (legacy is set only by acquireLegacy).
func (a *attempt) startHeartbeat(e *entry) { a.startKeeper(e, false) }

func (a *attempt) startKeeper(e *entry, legacy bool) {
	l := a.l
	if l.lease.Forever {
		return
	}
	env := l.cfg.Env
	kctx, cancel := context.WithCancel(context.Background())
	var seen time.Time // the latest mtime the keeper's Stat saw
	k := &stale.Keeper{
		Lease:  l.lease,
		Clock:  env,
		Jitter: func() float64 { return unit(env.Uint64()) },
		LastOK: time.Duration(e.lastOK.Load()),
		Touch: func() error {
			// A lock directory that is no longer at its path (renamed,
			// or swapped for another directory or a symbolic link)
			// holds nothing any more: the entry is gone for the others.
			if err := l.cfg.FS.Verify(e.dir); err != nil {
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
			return l.cfg.FS.Chtimes(e.dir, e.name, now, now)
		},

		OnRefresh: func(start time.Duration) { e.lastOK.Store(int64(start)) },
		Go:        func(f func()) { env.AfterFunc(0, f) },
		OnLost: func(err error) {
			l.cfg.Logger.Warn("cryolock: heartbeat overdue", "path", e.path, "err", err)
			e.markLost(fmt.Errorf("%w: %s: %w", ErrLost, e.path, err))
		},
	}
	if !legacy {
		// A refresh counts only if observers can see it (Lemma R).
		k.Stat = func() (time.Time, error) {
			fi, err := l.cfg.FS.Stat(e.dir, e.name)
			if err == nil && fi.ModTime.After(seen) {
				seen = fi.ModTime
			}
			return fi.ModTime, err
		}
	}
	// The keeper's goroutine starts when the first refresh can fall due
	// (0.4 × lease): a short hold never starts one, and Unlock only stops a
	// timer.
	stop := env.AfterFunc(stale.Period(l.lease.D, 0), func() {
		if err := k.Run(kctx); err != nil {
			l.cfg.Logger.Warn("cryolock: heartbeat failed", "path", e.path, "err", err)
			e.markLost(fmt.Errorf("%w: %s: %w", ErrLost, e.path, err))
		}
	})
	e.cancel = func() {
		stop()
		cancel()
	}
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
		return fmt.Errorf("cryolock: withdrawing %s: %w", e.path, err)
	}
	a.l.cfg.Logger.Debug("cryolock: withdrew", "path", e.path)
	return nil
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

// transient names are client-side artefacts some filesystems create in any
// directory (NFS silly-renames, FUSE hidden files). They are not entries of
// the protocol and are neither counted nor reported.
func transient(name string) bool {
	return strings.HasPrefix(name, ".nfs") || strings.HasPrefix(name, ".fuse_hidden")
}

// scan lists the lock directory, reaps stale spec files and returns the live
// ones other than own (nil if none). If own is not empty and not listed it
// returns errOwnGone.
func (a *attempt) scan(ctx context.Context, own string) ([]competitor, error) {
	l := a.l
	if a.watch != nil {
		a.seen = a.watch.Changes()
	}
	ents, err := l.cfg.FS.ReadDir(a.dir)
	if err != nil {
		return nil, fmt.Errorf("cryolock: listing %s: %w", l.dir, err)
	}
	var live []competitor
	ownSeen := own == ""
	for _, d := range ents {
		if d.Name == own {
			ownSeen = true
			continue
		}
		owner, ticket, ignore, foreign := classify(d)
		if ignore {
			continue
		}
		path := filepath.Join(l.dir, d.Name)
		if foreign != "" {
			return nil, foreignErr(path, foreign)
		}
		alive, err := a.judge1(ctx, d.Name, path)
		if err != nil {
			return nil, err
		}
		if alive {
			live = append(live, competitor{name: d.Name, ticket: ticket, shared: nonce.IsShared(owner)})
		}
	}
	if !ownSeen {
		return nil, errOwnGone
	}
	// Keep the judge's memory bounded by the directory.
	if len(ents) < len(a.leases) || len(ents) < len(a.alive) || len(ents) < len(a.last) {
		names := make(map[string]bool, len(ents))
		for _, d := range ents {
			names[d.Name] = true
		}
		a.judge.Retain(func(n string) bool { return names[n] })
		for n := range a.leases {
			if !names[n] {
				delete(a.leases, n)
			}
		}
		for n := range a.alive {
			if !names[n] {
				delete(a.alive, n)
			}
		}
		for n := range a.last {
			if !names[n] {
				delete(a.last, n)
			}
		}
	}
	return live, nil
}

// judge1 decides whether the spec file name is alive, reaping it if it is
// stale. A file that vanished is not alive.
func (a *attempt) judge1(ctx context.Context, name, path string) (bool, error) {
	l := a.l
	// An entry judged alive a moment ago is still alive: staleness takes a
	// lease to develop, so looking at its mtime every lease/8 only delays
	// reaping by that much, and spares a stat per competitor per poll.
	if t, ok := a.alive[name]; ok {
		lease, known := a.leases[name]
		if known && lease.Forever {
			return true, nil
		}
		if !known {
			lease = l.lease
		}
		if lease.Forever || l.cfg.Env.Mono()-t < lease.D/8 {
			return true, nil
		}
	}
	s, gone, err := a.sight(name, path, false)
	if gone || err != nil {
		return false, err
	}
	if !a.judge.Stale(name, s) {
		a.alive[name] = s.Mono
		return true, nil
	}
	// About to break someone's lock: judge again from a fresh view. Reading
	// the file first makes close-to-open filesystems (NFS) revalidate its
	// attributes, and rereads a lease that may have been half-written.
	s, gone, err = a.sight(name, path, true)
	if gone || err != nil {
		return false, err
	}
	if !a.judge.Stale(name, s) {
		a.alive[name] = s.Mono
		return true, nil
	}
	err = l.cfg.FS.Remove(a.dir, name)
	switch {
	case err == nil:
		l.cfg.Logger.Info("cryolock: reaped stale entry", "path", path, "mtime", s.ModTime, "lease", s.Lease.String(), "rule", l.cfg.Stale.String())
	case errors.Is(err, fs.ErrNotExist):
	default:
		return false, fmt.Errorf("cryolock: removing stale spec file %s: %w", path, err)
	}
	a.judge.Forget(name)
	delete(a.leases, name)
	delete(a.alive, name)
	delete(a.last, name)
	return false, nil
}

// sight describes an entry: it reads the entry (its lease unknown, or
// fresh set) and takes the FileInfo of the opened file, or stats it.
func (a *attempt) sight(name, path string, fresh bool) (s stale.Sighting, gone bool, err error) {
	l := a.l
	lease, known := a.leases[name]
	var fi FileInfo
	if fresh || !known {
		var r readResult
		r, err = readEntry(l.cfg.FS, a.dir, name, path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return s, true, nil
		case err != nil:
			return s, false, err
		case r.kind == stale.Valid:
			lease, known = r.lease, true
			a.leases[name] = r.lease
		default:
			// Present, lease not written yet (or torn by a crash):
			// presume the observer's own lease.
			lease, known = l.lease, false
		}
		fi = r.fi
	} else {
		fi, err = l.cfg.FS.Stat(a.dir, name)
		if errors.Is(err, fs.ErrNotExist) {
			return s, true, nil
		}
		if err != nil {
			return s, false, fmt.Errorf("cryolock: stat %s: %w", path, err)
		}
		if !fi.IsRegular() {
			return s, false, foreignErr(path, notRegular(fi.Mode))
		}
	}
	env := l.cfg.Env
	s = stale.Sighting{ModTime: fi.ModTime, Size: fi.Size, Mono: env.Mono(), Now: env.Now(), Lease: lease}
	a.last[name] = s
	return s, false, nil
}

// readResult is what reading an entry tells.
type readResult struct {
	lease stale.Lease
	kind  stale.Content // Valid or Unknown
	fi    FileInfo      // of the opened file
}

// readEntry reads the entry name in d (F3): its lease if the content is
// complete, stale.Unknown if it is a prefix a contender may still be
// writing. Content no contender could have written, and anything but a
// regular file, is an error wrapping ErrForeign; a vanished entry wraps
// fs.ErrNotExist. Scan and Inspect share it.
func readEntry(fsys FS, d Dir, name, path string) (readResult, error) {
	b, fi, err := fsys.ReadFile(d, name)
	switch {
	case errors.Is(err, ErrNotRegular):
		return readResult{}, foreignErr(path, notRegular(fi.Mode))
	case err != nil:
		return readResult{}, fmt.Errorf("cryolock: reading %s: %w", path, err)
	}
	lease, kind, perr := stale.ParseEntry(b, fi.Size)
	if kind == stale.Garbage {
		return readResult{}, foreignErr(path, perr.Error())
	}
	return readResult{lease: lease, kind: kind, fi: fi}, nil
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
		s, ok := a.last[c.name]
		if !ok || s.Lease.Forever || !s.ModTime.Add(s.Lease.D).Before(now) {
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
// MinBackoff and MaxBackoff.
func (a *attempt) backoff(ctx context.Context) error {
	c := a.l.cfg
	if a.delay == 0 {
		a.delay = c.MinBackoff
	} else {
		a.delay = min(a.delay*2, c.MaxBackoff)
	}
	a.startWatch()
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
