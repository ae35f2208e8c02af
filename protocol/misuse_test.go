package protocol_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

// TestReentrantOldContextDoesNotReenter: a context from an earlier hold,
// already released, must not count as a level of a later hold by another
// call chain (before, Lock checked only the depth, and both chains held).
func TestReentrantOldContextDoesNotReenter(t *testing.T) {
	r, err := protocol.NewReentrant(filepath.Join(t.TempDir(), "a.cryolock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 30*time.Second)
	old, err := r.Lock(ctx) // chain A
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock(ctx); err != nil { // chain B holds now
		t.Fatal(err)
	}
	// Chain A again, with its old context (cancelled at the release), and
	// with the old hold's values carried into a live context.
	if _, err := r.Lock(old); err == nil {
		t.Fatal("Lock with a released hold's context re-entered another chain's hold")
	}
	short, cancel := context.WithTimeout(context.WithoutCancel(old), 200*time.Millisecond)
	defer cancel()
	if _, err := r.Lock(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock with a released hold's values while another chain holds: %v, want to wait (deadline exceeded)", err)
	}
	if d := r.Depth(); d != 1 {
		t.Fatalf("depth %d, want 1", d)
	}
	if err := r.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// TestDoReleasesOnPanic: a panicking fn must not leave the lock held (a
// server that recovers handler panics would otherwise block every later
// request for ever).
func TestDoReleasesOnPanic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	ctx := ctxT(t, 30*time.Second)
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Fatalf("recovered %v, want the panic to go on", p)
			}
		}()
		protocol.Do(ctx, dir, func(context.Context) error { panic("boom") })
	}()
	if names := locktest.Names(t, dir); len(names) != 0 {
		t.Fatalf("entries left after a panic in Do: %v", names)
	}
	l := newLock(t, dir)
	if ok, err := l.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock after a panic in Do: %v, %v", ok, err)
	}
	l.Unlock()
}

// TestLockAllMisuse: a nil lock is an error, not a panic; one directory
// spelled relative and absolute is the same directory.
func TestLockAllMisuse(t *testing.T) {
	ctx := ctxT(t, 30*time.Second)
	dir := t.TempDir()
	a := newLock(t, filepath.Join(dir, "a.cryolock"))
	if err := protocol.LockAll(ctx, a, nil); !errors.Is(err, protocol.ErrConfig) {
		t.Fatalf("LockAll with a nil lock: %v, want ErrConfig", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, filepath.Join(dir, "a.cryolock"))
	if err != nil {
		t.Skip(err)
	}
	b := newLock(t, rel)
	if err := protocol.LockAll(ctx, a, b); !errors.Is(err, protocol.ErrConfig) || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("LockAll with one directory spelled two ways: %v, want ErrConfig (given twice)", err)
	}
	if a.Held() || b.Held() {
		t.Fatal("LockAll failed but left a lock held")
	}
}

// TestLeaseBounds: a lease too short to keep alive, or too long for other
// contenders to parse, is refused with a clear error.
func TestLeaseBounds(t *testing.T) {
	for _, d := range []time.Duration{time.Millisecond, 2000000 * time.Hour} {
		_, err := protocol.New(filepath.Join(t.TempDir(), "a.cryolock"), protocol.WithLease(d))
		if !errors.Is(err, protocol.ErrConfig) || !strings.Contains(err.Error(), "outside") {
			t.Errorf("lease %v: %v, want ErrConfig naming the range", d, err)
		}
	}
}

// monoEnv shifts the monotonic clock by skip.
type monoEnv struct {
	protocol.Env
	skip atomic.Int64
}

func (e *monoEnv) Mono() time.Duration { return e.Env.Mono() + time.Duration(e.skip.Load()) }

// TestHeldChecksHeartbeatAge: Held is false as soon as the hold is overdue,
// even before the heartbeat's watchdog has run (a starved process).
func TestHeldChecksHeartbeatAge(t *testing.T) {
	env := &monoEnv{Env: protocol.OSEnv()}
	l := newLock(t, filepath.Join(t.TempDir(), "a.cryolock"), protocol.WithLease(time.Hour), protocol.WithEnv(env))
	if err := l.Lock(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if !l.Held() {
		t.Fatal("not Held right after Lock")
	}
	env.skip.Store(int64(45 * time.Minute)) // 0.75 × lease without a refresh
	if l.Held() {
		t.Fatal("Held although the last heartbeat is 0.75 × lease old")
	}
}

// failCreateFS refuses every create without creating anything.
type failCreateFS struct{ protocol.FS }

func (failCreateFS) WriteFile(d protocol.Dir, name string, _ []byte, _ fs.FileMode) error {
	return &fs.PathError{Op: "open", Path: d.Path() + "/" + name, Err: syscall.EACCES}
}

// TestFailedCreateMessage: a create that never succeeded does not claim that
// removing the entry failed.
func TestFailedCreateMessage(t *testing.T) {
	l := newLock(t, filepath.Join(t.TempDir(), "a.cryolock"), protocol.WithFS(failCreateFS{protocol.OSFS()}))
	err := l.Lock(ctxT(t, 30*time.Second))
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("Lock: %v, want EACCES", err)
	}
	if strings.Contains(err.Error(), "remov") {
		t.Fatalf("error mentions a removal that never was needed: %v", err)
	}
}

// TestDroppedHeldLockStaysHeld: a held Lock value that becomes unreachable
// without Unlock (as a variable not used after Lock does) is not released
// by the garbage collector — that would let a second process in while the
// first may still be working — but the collection is logged.
func TestDroppedHeldLockStaysHeld(t *testing.T) {
	// Not t.TempDir: the dropped hold lasts until the process exits, and
	// on Windows its open directory handle keeps the directory from being
	// removed by the test's cleanup.
	root, err := os.MkdirTemp("", "cryolock-dropped-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) }) // best effort (see above)
	dir := filepath.Join(root, "a.cryolock")
	logged := make(chan string, 1)
	log := slog.New(slog.NewTextHandler(chanWriter(logged), nil))
	func() {
		l := newLock(t, dir, protocol.WithLease(time.Hour), protocol.WithLogger(log))
		if err := l.Lock(ctxT(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	var line string
	for line == "" {
		if time.Now().After(deadline) {
			t.Fatal("the garbage collector never reported the dropped held Lock")
		}
		runtime.GC()
		select {
		case line = <-logged:
		case <-time.After(10 * time.Millisecond):
		}
	}
	if !strings.Contains(line, "stays held") {
		t.Errorf("log: %q, want it to say the hold stays", line)
	}
	if names := locktest.Names(t, dir); len(names) != 1 {
		t.Fatalf("after the collection the lock directory holds %v, want the dropped hold's entry", names)
	}
	ok, err := newLock(t, dir, protocol.WithLease(time.Hour)).TryLock(ctxT(t, 30*time.Second))
	if ok || err != nil {
		t.Fatalf("TryLock beside a dropped hold: %v, %v; want false, nil", ok, err)
	}
}

// chanWriter sends each write, as a string, to a channel that has room.
type chanWriter chan string

func (c chanWriter) Write(p []byte) (int, error) {
	select {
	case c <- string(p):
	default:
	}
	return len(p), nil
}

// hangFS hangs every Remove until release is closed.
type hangFS struct {
	protocol.FS
	release chan struct{}
}

func (f hangFS) Remove(d protocol.Dir, name string) error {
	<-f.release
	return f.FS.Remove(d, name)
}

// TestUnlockContextBounded: a release through a hung filesystem returns when
// its context is done; the value can be locked again; the removal completes
// in the background once the filesystem answers.
func TestUnlockContextBounded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	f := hangFS{protocol.OSFS(), make(chan struct{})}
	l := newLock(t, dir, protocol.WithFS(f))
	if err := l.Lock(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.UnlockContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("UnlockContext through a hung filesystem: %v, want context.Canceled", err)
	}
	if l.Held() {
		t.Fatal("still Held after UnlockContext")
	}
	close(f.release)
	deadline := time.Now().Add(60 * time.Second)
	for len(locktest.Names(t, dir)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the background removal never completed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdRemoveFS records, at each Remove, whether the hold context was done
// then and with what cause, and blocks the Remove until release is closed
// (when release is non-nil).
type holdRemoveFS struct {
	protocol.FS
	release chan struct{}
	hold    atomic.Pointer[context.Context]
	cause   chan error // the hold's cause at each Remove (nil: not done)
}

func (f *holdRemoveFS) Remove(d protocol.Dir, name string) error {
	if p := f.hold.Load(); p != nil {
		var cause error
		if (*p).Err() != nil {
			cause = context.Cause(*p)
		}
		f.cause <- cause
	}
	if f.release != nil {
		<-f.release
	}
	return f.FS.Remove(d, name)
}

// TestUnlockContextEndsHoldAtOnce: UnlockContext through a hung filesystem
// cancels the LockContext context (cause ErrReleased) before it returns,
// not after the removal (which may never complete, while another contender
// takes the lock after the lease); the removal itself goes on.
func TestUnlockContextEndsHoldAtOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	f := &holdRemoveFS{FS: protocol.OSFS(), release: make(chan struct{}), cause: make(chan error, 1)}
	l := newLock(t, dir, protocol.WithFS(f), protocol.WithLease(time.Minute))
	hctx, err := l.LockContext(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	f.hold.Store(&hctx)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.UnlockContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("UnlockContext through a hung filesystem: %v, want context.DeadlineExceeded", err)
	}
	if hctx.Err() == nil {
		t.Fatal("the hold context is not cancelled when UnlockContext returns (its entry's removal hangs)")
	}
	if cause := context.Cause(hctx); !errors.Is(cause, protocol.ErrReleased) {
		t.Fatalf("cause %v, want ErrReleased", cause)
	}
	close(f.release)
	if cause := <-f.cause; !errors.Is(cause, protocol.ErrReleased) {
		t.Errorf("at the Remove the hold's cause was %v, want ErrReleased", cause)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(locktest.Names(t, dir)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the background removal never completed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUnlockEndsHoldBeforeRemove: Unlock cancels the LockContext context
// (cause ErrReleased) before it removes the entry; a hold lost before Unlock
// keeps ErrLost as its context's cause and Unlock reports ErrLost, and
// Lost's channel stays open for a hold that was released, not lost.
func TestUnlockEndsHoldBeforeRemove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	f := &holdRemoveFS{FS: protocol.OSFS(), cause: make(chan error, 1)}
	l := newLock(t, dir, protocol.WithFS(f), protocol.WithLease(time.Minute))
	hctx, err := l.LockContext(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	lost := l.Lost()
	f.hold.Store(&hctx)
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if cause := <-f.cause; !errors.Is(cause, protocol.ErrReleased) {
		t.Errorf("at the Remove the hold's cause was %v, want ErrReleased (cancelled before the removal)", cause)
	}
	select {
	case <-lost:
		t.Error("Lost's channel closed by Unlock")
	default:
	}

	// Lost before Unlock: the cause stays ErrLost, and Unlock says so.
	f.hold.Store(nil)
	l2 := newLock(t, dir, protocol.WithFS(f), protocol.WithLease(200*time.Millisecond))
	hctx, err = l2.LockContext(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, l2.Name())); err != nil {
		t.Fatal(err)
	}
	<-hctx.Done()
	<-l2.Lost()
	if err := l2.Unlock(); !errors.Is(err, protocol.ErrLost) {
		t.Errorf("Unlock of a lost hold: %v, want ErrLost", err)
	}
	if cause := context.Cause(hctx); !errors.Is(cause, protocol.ErrLost) || errors.Is(cause, protocol.ErrReleased) {
		t.Errorf("cause %v, want ErrLost", cause)
	}
}

// TestWithOptionsAppliesInOrder: a bundle of options applies its options in
// order, keeps what earlier options set for the others, and later options
// override it; Settings reports the result with defaults filled in.
func TestWithOptionsAppliesInOrder(t *testing.T) {
	bundle := protocol.WithOptions(protocol.WithLease(20*time.Second), nil, protocol.WithBackoff(time.Millisecond, 5*time.Millisecond), protocol.WithLease(30*time.Second))
	l := newLock(t, filepath.Join(t.TempDir(), "a.cryolock"),
		protocol.WithSettle(time.Second), bundle, protocol.WithBackoff(2*time.Millisecond, 4*time.Millisecond))
	want := protocol.Settings{Lease: 30 * time.Second, Settle: time.Second, MinBackoff: 2 * time.Millisecond, MaxBackoff: 4 * time.Millisecond, Stale: protocol.Observed}
	if got := l.Settings(); got != want {
		t.Fatalf("settings %+v, want %+v", got, want)
	}
}

// TestLeaseOptionValidated: WithLease(0) is an error, not silently the
// default (as WithSlots(0) is); a negative lease is an error even with
// WithoutLease (Settings reported it); leaving WithLease out is the default.
func TestLeaseOptionValidated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.cryolock")
	for _, tc := range []struct {
		name string
		opts []protocol.Option
		want string // in the message
	}{
		{"WithLease(0)", []protocol.Option{protocol.WithLease(0)}, "lease 0s"},
		{"WithLease(0), WithoutLease", []protocol.Option{protocol.WithLease(0), protocol.WithoutLease()}, "lease 0s"},
		{"WithLease(-1s), WithoutLease", []protocol.Option{protocol.WithLease(-time.Second), protocol.WithoutLease()}, "lease -1s"},
		{"WithoutLease, WithLease(-1s)", []protocol.Option{protocol.WithoutLease(), protocol.WithLease(-time.Second)}, "lease -1s"},
	} {
		if _, err := protocol.New(path, tc.opts...); !errors.Is(err, protocol.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrConfig naming %q", tc.name, err, tc.want)
		}
		if _, err := protocol.NewReentrant(path, tc.opts...); !errors.Is(err, protocol.ErrConfig) {
			t.Errorf("NewReentrant, %s: %v, want ErrConfig", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name string
		opts []protocol.Option
		want protocol.Settings
	}{
		{"no WithLease", nil, protocol.Settings{Lease: protocol.DefaultLease}},
		{"WithLease(0), WithLease(5s)", []protocol.Option{protocol.WithLease(0), protocol.WithLease(5 * time.Second)}, protocol.Settings{Lease: 5 * time.Second}},
		{"WithoutLease", []protocol.Option{protocol.WithoutLease()}, protocol.Settings{Lease: protocol.DefaultLease, NoLease: true}},
	} {
		l, err := protocol.New(path, tc.opts...)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := l.Settings(); got.Lease != tc.want.Lease || got.NoLease != tc.want.NoLease {
			t.Errorf("%s: lease %v (none %v), want %v (none %v)", tc.name, got.Lease, got.NoLease, tc.want.Lease, tc.want.NoLease)
		}
	}
}

// TestNilOptionSkipped: New and NewReentrant skip a nil Option, as
// WithOptions does, instead of panicking.
func TestNilOptionSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.cryolock")
	l, err := protocol.New(path, nil, protocol.WithLease(time.Minute), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Settings().Lease; got != time.Minute {
		t.Errorf("lease %v, want 1m0s", got)
	}
	if _, err := protocol.NewReentrant(path, nil); err != nil {
		t.Fatal(err)
	}
}
