package protocol_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

// The tests of this file each check one promise of a doc comment of the
// package or of README.md that no other test would catch if it were false.

// TestDoReportsLossWhenFnSucceeds: Do returns fn's error joined with an
// error wrapping ErrLost when the lock was lost while fn ran — also when fn
// itself returns nil, or an error of its own that says nothing of the loss.
func TestDoReportsLossWhenFnSucceeds(t *testing.T) {
	boom := errors.New("boom")
	for _, ret := range []error{nil, boom} {
		dir := filepath.Join(t.TempDir(), "d.cryolock")
		err := protocol.Do(ctxT(t, 30*time.Second), dir, func(ctx context.Context) error {
			if err := os.Remove(filepath.Join(dir, locktest.Names(t, dir)[0])); err != nil {
				t.Error(err)
			}
			<-ctx.Done() // the heartbeat notices the loss
			return ret
		}, protocol.WithLease(200*time.Millisecond))
		if !errors.Is(err, protocol.ErrLost) {
			t.Errorf("fn returned %v after the loss: Do returned %v, want an error wrapping ErrLost", ret, err)
		}
		if ret != nil && !errors.Is(err, ret) {
			t.Errorf("fn returned %v after the loss: Do returned %v, want fn's error too", ret, err)
		}
	}
}

// TestDoReleasesOnGoexit: fn calling runtime.Goexit (t.FailNow in a test
// helper) releases the lock like a panic does.
func TestDoReleasesOnGoexit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	ctx := ctxT(t, 30*time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		protocol.Do(ctx, dir, func(context.Context) error { runtime.Goexit(); return nil })
	}()
	<-done
	if names := locktest.Names(t, dir); len(names) != 0 {
		t.Fatalf("entries left after Goexit in Do: %v", names)
	}
}

// TestLockAllTakesPathOrder: LockAll takes its locks in the order of their
// paths, whatever the order of its arguments: with a.cryolock held
// elsewhere, LockAll(b, a) waits for a before it ever touches b (b's
// directory, created on first use, is never made).
func TestLockAllTakesPathOrder(t *testing.T) {
	root := t.TempDir()
	ap, bp := filepath.Join(root, "a.cryolock"), filepath.Join(root, "b.cryolock")
	other := newLock(t, ap)
	ctx := ctxT(t, 30*time.Second)
	if err := other.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	defer other.Unlock()
	a, b := newLock(t, ap), newLock(t, bp)
	short, cancel := context.WithCancel(ctx)
	cancel()
	if err := protocol.LockAll(short, b, a); !errors.Is(err, context.Canceled) {
		t.Fatalf("LockAll with a held elsewhere and its context done: %v, want context.Canceled", err)
	}
	if _, err := os.Lstat(bp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LockAll(b, a) touched b before a (b's directory: %v)", err)
	}
}

// orderFS records the lock directories of the entries it removes, and
// calls onList (if set) with the base name of every directory it lists.
type orderFS struct {
	protocol.FS
	mu      sync.Mutex
	removed []string
	onList  func(base string)
}

func (f *orderFS) ReadDir(d protocol.Dir) ([]protocol.DirEntry, error) {
	f.mu.Lock()
	on := f.onList
	f.mu.Unlock()
	if on != nil {
		on(filepath.Base(d.Path()))
	}
	return f.FS.ReadDir(d)
}

func (f *orderFS) Remove(d protocol.Dir, name string) error {
	f.mu.Lock()
	f.removed = append(f.removed, filepath.Base(d.Path()))
	f.mu.Unlock()
	return f.FS.Remove(d, name)
}

// TestUnlockAllReverseOrder: UnlockAll releases in the reverse of LockAll's
// order (by path), skips nil locks, and joins the errors of those that
// fail; a LockAll that fails rolls back in reverse order too.
func TestUnlockAllReverseOrder(t *testing.T) {
	root := t.TempDir()
	f := &orderFS{FS: protocol.OSFS()}
	var locks []*protocol.Lock
	for _, n := range []string{"b", "c", "a"} {
		locks = append(locks, newLock(t, filepath.Join(root, n+".cryolock"), protocol.WithFS(f)))
	}
	ctx := ctxT(t, 30*time.Second)
	if err := protocol.LockAll(ctx, locks...); err != nil {
		t.Fatal(err)
	}
	if err := protocol.UnlockAll(locks[0], nil, locks[1], locks[2]); err != nil {
		t.Fatal(err)
	}
	if want := []string{"c.cryolock", "b.cryolock", "a.cryolock"}; !slices.Equal(f.removed, want) {
		t.Fatalf("UnlockAll released %v, want %v", f.removed, want)
	}
	err := protocol.UnlockAll(locks...)
	if !errors.Is(err, protocol.ErrNotHeld) || strings.Count(err.Error(), "not held") != 3 {
		t.Fatalf("UnlockAll of three free locks: %v, want the three ErrNotHeld joined", err)
	}

	// Rollback: d.cryolock is held elsewhere; a, b, c are taken, then
	// released c, b, a.
	other := newLock(t, filepath.Join(root, "d.cryolock"))
	if err := other.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	defer other.Unlock()
	d := newLock(t, other.Path(), protocol.WithFS(f))
	// The context ends when d's acquisition lists its directory, after
	// a, b and c are taken (whatever the time that takes).
	short, cancel := context.WithCancel(ctx)
	defer cancel()
	f.mu.Lock()
	f.removed = nil
	f.onList = func(base string) {
		if base == "d.cryolock" {
			cancel()
		}
	}
	f.mu.Unlock()
	if err := protocol.LockAll(short, d, locks[0], locks[1], locks[2]); !errors.Is(err, context.Canceled) {
		t.Fatalf("LockAll with d held elsewhere: %v", err)
	}
	// d's own entries, withdrawn while it waited, are not the rollback.
	rolled := slices.DeleteFunc(f.removed, func(s string) bool { return s == "d.cryolock" })
	if want := []string{"c.cryolock", "b.cryolock", "a.cryolock"}; !slices.Equal(rolled, want) {
		t.Fatalf("LockAll rolled back %v, want %v", rolled, want)
	}
	for _, l := range locks {
		if l.Held() {
			t.Fatalf("%s still held after LockAll failed", l.Path())
		}
	}
}

// TestLockContextParentCancelKeepsHold: cancelling the ctx given to
// LockContext cancels the returned context but does not release the lock;
// Unlock then releases it as always. A failed LockContext returns a nil
// context.
func TestLockContextParentCancelKeepsHold(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	l := newLock(t, dir)
	parent, cancel := context.WithCancel(ctxT(t, 30*time.Second))
	hctx, err := l.LockContext(parent)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-hctx.Done()
	if !l.Held() || l.Lost() == nil {
		t.Fatal("cancelling LockContext's ctx released the lock")
	}
	if names := locktest.Names(t, dir); !slices.Equal(names, []string{l.Name()}) {
		t.Fatalf("after the cancel the lock directory holds %v, want the holder's %s", names, l.Name())
	}
	other := newLock(t, dir)
	if ok, err := other.TryLock(ctxT(t, 10*time.Second)); ok || err != nil {
		t.Fatalf("another contender after the cancel: TryLock %v, %v; want false, nil", ok, err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Lock(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	c2, err := other.LockContext(parent) // parent is done
	if err == nil || c2 != nil {
		t.Fatalf("failed LockContext: context %v, err %v; want a nil context and an error", c2, err)
	}
}

// TestLostChannelSemantics: Lost is nil while not held; the channel of a
// hold is not closed by Unlock (only a loss closes it), and a new hold gets
// a new channel.
func TestLostChannelSemantics(t *testing.T) {
	l := newLock(t, filepath.Join(t.TempDir(), "a.cryolock"))
	if l.Lost() != nil {
		t.Fatal("Lost() of a value that never held is not nil")
	}
	ctx := ctxT(t, 30*time.Second)
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	lost := l.Lost()
	if lost == nil {
		t.Fatal("Lost() of a held value is nil")
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if l.Lost() != nil {
		t.Fatal("Lost() after Unlock is not nil")
	}
	select {
	case <-lost:
		t.Fatal("Unlock closed the Lost channel")
	default:
	}
	if l.Name() != "" || l.Held() || l.Token() != 0 {
		t.Fatalf("after Unlock: Name %q, Held %v, Token %d; want \"\", false, 0", l.Name(), l.Held(), l.Token())
	}
}

// TestTokenOnlyForExclusiveFencing: Token is 0 without WithFencing, for a
// reader and for a semaphore of more than one slot even with it, and when
// not held; a fencing mutex gets a token greater than the last one issued
// on its directory.
func TestTokenOnlyForExclusiveFencing(t *testing.T) {
	ctx := ctxT(t, 30*time.Second)
	for _, tc := range []struct {
		name string
		opts []protocol.Option
		want bool
	}{
		{"mutex", nil, false},
		{"fencing mutex", []protocol.Option{protocol.WithFencing(protocol.FencingSlots)}, true},
		{"fencing reader", []protocol.Option{protocol.WithFencing(protocol.FencingSlots), protocol.WithShared()}, false},
		{"fencing semaphore of 2", []protocol.Option{protocol.WithFencing(protocol.FencingSlots), protocol.WithSlots(2)}, false},
		{"fencing semaphore of 1", []protocol.Option{protocol.WithFencing(protocol.FencingSlots), protocol.WithSlots(1)}, true},
	} {
		path := filepath.Join(t.TempDir(), "t.cryolock")
		l := newLock(t, path, tc.opts...)
		var last uint64
		for i := 0; i < 2; i++ {
			if err := l.Lock(ctx); err != nil {
				t.Fatal(err)
			}
			tok := l.Token()
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}
			if !tc.want && tok != 0 {
				t.Errorf("%s: token %d, want 0", tc.name, tok)
			}
			if tc.want && tok <= last {
				t.Errorf("%s: token %d after %d, want greater", tc.name, tok, last)
			}
			last = tok
			if l.Token() != 0 {
				t.Errorf("%s: token %d after Unlock, want 0", tc.name, l.Token())
			}
		}
	}
}

// TestDefaultSettings: the defaults the README and the doc comments state.
func TestDefaultSettings(t *testing.T) {
	l := newLock(t, filepath.Join(t.TempDir(), "a.cryolock"))
	want := protocol.Settings{Lease: 10 * time.Second, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Stale: protocol.Observed, Fencing: protocol.FencingOff}
	if got := l.Settings(); got != want {
		t.Fatalf("default settings %+v, want %+v", got, want)
	}
	if protocol.DefaultLease != 10*time.Second || protocol.DefaultMinBackoff != time.Millisecond || protocol.DefaultMaxBackoff != 10*time.Millisecond {
		t.Fatal("the Default constants disagree with the documentation")
	}
}

// TestReentrantInnerUnlockKeepsHold: an inner Unlock keeps the lock held
// (another contender stays out) and the context of the outer Lock alive;
// the last Unlock releases and cancels it; Lost follows the hold.
func TestReentrantInnerUnlockKeepsHold(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.cryolock")
	ctx := ctxT(t, 30*time.Second)
	r, err := protocol.NewReentrant(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Lost() != nil {
		t.Fatal("Lost() of a free Reentrant is not nil")
	}
	outer, err := r.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := r.Lock(outer)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Unlock(); err != nil {
		t.Fatal(err)
	}
	if outer.Err() != nil || inner.Err() != nil {
		t.Fatal("an inner Unlock cancelled the hold's context")
	}
	if ok, err := newLock(t, path).TryLock(ctx); ok || err != nil {
		t.Fatalf("another contender after an inner Unlock: %v, %v; want false, nil", ok, err)
	}
	if r.Lost() == nil {
		t.Fatal("Lost() of a held Reentrant is nil")
	}
	if err := r.Unlock(); err != nil {
		t.Fatal(err)
	}
	if context.Cause(outer) == nil || !errors.Is(context.Cause(outer), protocol.ErrReleased) {
		t.Fatalf("after the last Unlock the context's cause is %v, want ErrReleased", context.Cause(outer))
	}
	if names := locktest.Names(t, path); len(names) != 0 {
		t.Fatalf("after the last Unlock the lock directory holds %v", names)
	}
}

// TestInspectChangesNothing: Inspect of a missing directory does not
// create it, and Inspect of a stale entry does not remove it.
func TestInspectChangesNothing(t *testing.T) {
	root := t.TempDir()
	missing := filepath.Join(root, "m.cryolock")
	snap, err := protocol.Inspect(ctxT(t, 10*time.Second), missing)
	if err != nil || snap.Exists || len(snap.Entries) != 0 {
		t.Fatalf("Inspect of a missing directory: %+v, %v; want a free snapshot", snap, err)
	}
	if _, err := os.Lstat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Inspect created the lock directory: %v", err)
	}
	dir := filepath.Join(root, "s.cryolock")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "deadowner.3")
	if err := os.WriteFile(dead, []byte("1"), 0o666); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(dead, old, old); err != nil {
		t.Fatal(err)
	}
	snap, err = protocol.Inspect(ctxT(t, 10*time.Second), dir)
	if err != nil || len(snap.Stale()) != 1 || len(snap.Holders()) != 0 {
		t.Fatalf("Inspect of a stale entry: %+v, %v; want it stale, no holder", snap, err)
	}
	fi, err := os.Stat(dead)
	if err != nil || !fi.ModTime().Equal(old) {
		t.Fatalf("Inspect changed the stale entry: %v, %v", fi, err)
	}
}

// TestParentNotDirectoryMessage: a lock path under a regular file is
// refused with ErrBadPath by Lock and Inspect, and the message says what is
// wrong (the parent), not that the lock directory "exists" (it does not).
func TestParentNotDirectoryMessage(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "wasip1" {
		t.Skip("the message is the Unix OS filesystem's")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("precious"), 0o666); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(file, "a.cryolock")
	_, ierr := protocol.Inspect(ctxT(t, 10*time.Second), path)
	for _, err := range []error{newLock(t, path).Lock(ctxT(t, 10*time.Second)), ierr} {
		if !errors.Is(err, protocol.ErrBadPath) || !strings.Contains(err.Error(), path) ||
			strings.Contains(err.Error(), "exists") || !strings.Contains(err.Error(), "parent is not a directory") {
			t.Errorf("got %v; want ErrBadPath naming %s and saying its parent is not a directory", err, path)
		}
	}
}

// TestFenceFailureLeavesNothing: a Lock whose fencing token cannot be
// issued (a directory planted at a legacy slot's name) fails and, as Lock's
// doc promises of every failure, leaves no entry of its own behind: the
// lock is free for the next contender.
func TestFenceFailureLeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.cryolock")
	if err := os.MkdirAll(filepath.Join(path, protocol.MetaDir, "fence.a"), 0o777); err != nil {
		t.Fatal(err)
	}
	l := newLock(t, path, protocol.WithFencing(protocol.FencingSlots))
	ctx := ctxT(t, 10*time.Second)
	if err := l.Lock(ctx); !errors.Is(err, protocol.ErrNotRegular) {
		t.Fatalf("Lock with a directory at .meta/fence.a: %v, want ErrNotRegular", err)
	}
	if l.Held() || l.Name() != "" {
		t.Fatal("a failed Lock left the value holding")
	}
	if names := locktest.Names(t, path); !slices.Equal(names, []string{protocol.MetaDir}) {
		t.Fatalf("a failed Lock left %v behind (want only the planted %s)", names, protocol.MetaDir)
	}
	other := newLock(t, path)
	if ok, err := other.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock after the failed fencing Lock: %v, %v; want the lock free", ok, err)
	}
	other.Unlock()
}

// TestUnlockContextReportsLoss: UnlockContext releases "like Unlock": a
// hold lost before it is reported with an error wrapping ErrLost even when
// the removal hangs and ctx ends first (the caller must learn that its work
// may have overlapped another holder's), besides ctx's error.
func TestUnlockContextReportsLoss(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	f := hangFS{protocol.OSFS(), make(chan struct{})}
	defer close(f.release)
	l := newLock(t, dir, protocol.WithFS(f), protocol.WithLease(200*time.Millisecond))
	ctx := ctxT(t, 30*time.Second)
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	lost := l.Lost()
	if err := os.Remove(filepath.Join(dir, l.Name())); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-ctx.Done():
		t.Fatal("the heartbeat never noticed the removed entry")
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	err := l.UnlockContext(done)
	if !errors.Is(err, protocol.ErrLost) || !errors.Is(err, context.Canceled) {
		t.Fatalf("UnlockContext of a lost hold through a hung filesystem: %v, want it to wrap ErrLost and context.Canceled", err)
	}
	// The value is released at once and can be locked again.
	if ok, err := l.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock after UnlockContext (its removal hung): %v, %v; want the lock", ok, err)
	}
	if err := l.UnlockContext(done); !errors.Is(err, context.Canceled) || errors.Is(err, protocol.ErrLost) {
		t.Fatalf("UnlockContext of a hold not lost: %v, want context.Canceled alone", err)
	}
}

// TestLockWhileAcquiringIsAlreadyHeld: while one goroutine waits in Lock on
// a value, a Lock or TryLock of another goroutine on the same value returns
// ErrAlreadyHeld at once (Lock's doc: "holds the lock or is acquiring
// it"), and the waiting Lock goes on and acquires after the release.
func TestLockWhileAcquiringIsAlreadyHeld(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	holder := newLock(t, dir)
	ctx := ctxT(t, 30*time.Second)
	if err := holder.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	f := &countFS{FS: protocol.OSFS(), listed: make(chan struct{}, 1)}
	l := newLock(t, dir, protocol.WithFS(f))
	got := make(chan error, 1)
	go func() { got <- l.Lock(ctx) }()
	<-f.listed // the first goroutine is acquiring
	if err := l.Lock(ctx); !errors.Is(err, protocol.ErrAlreadyHeld) {
		t.Fatalf("Lock on a value that is acquiring: %v, want ErrAlreadyHeld", err)
	}
	if ok, err := l.TryLock(ctx); ok || !errors.Is(err, protocol.ErrAlreadyHeld) {
		t.Fatalf("TryLock on a value that is acquiring: %v, %v; want ErrAlreadyHeld", ok, err)
	}
	if err := holder.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the first Lock: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// countFS signals each listing of the lock directory on listed (without
// blocking).
type countFS struct {
	protocol.FS
	listed chan struct{}
}

func (f *countFS) ReadDir(d protocol.Dir) ([]protocol.DirEntry, error) {
	select {
	case f.listed <- struct{}{}:
	default:
	}
	return f.FS.ReadDir(d)
}

// TestInspectLiveVerdict: Entry.Live is the wall-clock rule at Now (mtime +
// lease ≥ Now) with the entry's own lease, DefaultLease for one whose lease
// is not known yet, and never stale for "None"; Holders, Contenders and
// Stale partition the entries by it, the lowest live ticket holding.
func TestInspectLiveVerdict(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "v.cryolock")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, e := range []struct {
		name, content string
		age           time.Duration
	}{
		{"unknown-old.1", "", 30 * time.Second},   // 10 s default: stale
		{"unknown-young.5", "", 2 * time.Second},  // 10 s default: live
		{"long.3", "60", 30 * time.Second},        // 60 s: live
		{"short.2", "5", 8 * time.Second},         // 5 s: stale
		{"forever.4", "None", 1000 * time.Hour},   // never stale
		{"young-short.6", "20", 10 * time.Second}, // 20 s: live
	} {
		p := filepath.Join(dir, e.name)
		if err := os.WriteFile(p, []byte(e.content), 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-e.age), now.Add(-e.age)); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := protocol.Inspect(ctxT(t, 10*time.Second), dir)
	if err != nil {
		t.Fatal(err)
	}
	names := func(es []protocol.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}
	if got, want := names(snap.Stale()), []string{"unknown-old.1", "short.2"}; !slices.Equal(got, want) {
		t.Errorf("stale %v, want %v", got, want)
	}
	if got, want := names(snap.Holders()), []string{"long.3"}; !slices.Equal(got, want) {
		t.Errorf("holders %v, want %v", got, want)
	}
	if got, want := names(snap.Contenders()), []string{"forever.4", "unknown-young.5", "young-short.6"}; !slices.Equal(got, want) {
		t.Errorf("contenders %v, want %v", got, want)
	}
}

// TestWithoutLeaseHolds: WithoutLease writes the lease "None" and the hold
// never becomes overdue: Held stays true however long the hold, and the
// Lost channel stays open. Unlock releases as always.
func TestWithoutLeaseHolds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n.cryolock")
	env := &monoEnv{Env: protocol.OSEnv()}
	l := newLock(t, dir, protocol.WithoutLease(), protocol.WithEnv(env))
	if err := l.Lock(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, l.Name()))
	if err != nil || string(b) != "None" {
		t.Fatalf("entry content %q, %v; want None", b, err)
	}
	env.skip.Store(int64(1000 * time.Hour))
	if !l.Held() {
		t.Fatal("a WithoutLease hold is not Held after 1000 h")
	}
	select {
	case <-l.Lost():
		t.Fatal("a WithoutLease hold was lost")
	default:
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if names := locktest.Names(t, dir); len(names) != 0 {
		t.Fatalf("after Unlock the lock directory holds %v", names)
	}
}

// TestMethodsSafeConcurrently: a Lock value's methods are safe for
// concurrent use (doc.go, "Concurrency"): readers of its state, Lock and
// TryLock (which return ErrAlreadyHeld while another holds or acquires)
// and Unlock (ErrNotHeld when nothing is held) run from several goroutines
// at once; under -race the race detector checks the rest. Every Lock or
// TryLock that succeeded is matched by exactly one successful Unlock: a
// count of violations.
func TestMethodsSafeConcurrently(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c.cryolock")
	l := newLock(t, dir, protocol.WithFencing(protocol.FencingSlots))
	ctx := ctxT(t, 60*time.Second)
	const workers, rounds = 4, 50
	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		acquired, released int
		bad                []error
	)
	fail := func(err error) {
		mu.Lock()
		bad = append(bad, err)
		mu.Unlock()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _, _, _ = l.Held(), l.Lost(), l.Name(), l.Token()
			_, _ = l.Settings(), l.Path()
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				var ok bool
				var err error
				if i%2 == 0 {
					ok, err = l.TryLock(ctx)
				} else {
					err = l.Lock(ctx)
					ok = err == nil
				}
				switch {
				case ok:
					mu.Lock()
					acquired++
					mu.Unlock()
				case err != nil && !errors.Is(err, protocol.ErrAlreadyHeld):
					fail(err)
				}
				switch err := l.Unlock(); {
				case err == nil:
					mu.Lock()
					released++
					mu.Unlock()
				case !errors.Is(err, protocol.ErrNotHeld):
					fail(err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d unexpected errors, the first: %v", len(bad), bad[0])
	}
	if acquired == 0 || acquired != released {
		t.Fatalf("%d acquisitions, %d releases; want equal and not 0", acquired, released)
	}
	if names := locktest.Names(t, dir); !slices.Equal(names, []string{protocol.MetaDir}) {
		t.Fatalf("the lock directory holds %v after every hold was released", names)
	}
}

// hookCtx runs hook (once, when armed reports true) from Done: the Lock
// of a Reentrant calls it when it derives the hold's context, after the
// underlying lock is held and before the Reentrant counts the hold.
type hookCtx struct {
	context.Context
	armed func() bool
	once  sync.Once
	hook  func()
}

func (c *hookCtx) Done() <-chan struct{} {
	if c.armed() {
		c.once.Do(c.hook)
	}
	return c.Context.Done()
}

// TestReentrantStrayUnlockWhileAcquiring: an Unlock with no Lock of its
// own (a caller's mistake) made while another call chain's Lock has just
// acquired the lock but not yet counted it must report ErrNotHeld, not
// release that chain's hold behind its back: the chain would then go on
// "holding" a lock that another contender can take.
func TestReentrantStrayUnlockWhileAcquiring(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.cryolock")
	r, err := protocol.NewReentrant(path)
	if err != nil {
		t.Fatal(err)
	}
	var stray error
	ctx := &hookCtx{Context: ctxT(t, 30*time.Second),
		armed: func() bool { return r.Lost() != nil }, // the underlying lock is held
		hook:  func() { stray = r.Unlock() },
	}
	hctx, err := r.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(stray, protocol.ErrNotHeld) {
		t.Errorf("a stray Unlock while another chain acquired: %v, want ErrNotHeld", stray)
	}
	if hctx.Err() != nil || r.Depth() != 1 {
		t.Fatalf("after Lock: context %v, depth %d; want a live hold of depth 1", context.Cause(hctx), r.Depth())
	}
	if ok, err := newLock(t, path).TryLock(ctxT(t, 10*time.Second)); ok || err != nil {
		t.Fatalf("another contender while the Reentrant holds: TryLock %v, %v; want false, nil", ok, err)
	}
	if err := r.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// TestOptionBounds: the documented bounds of the options, at their edges.
func TestOptionBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []protocol.Option
		ok   bool
	}{
		{"lease MinLease", []protocol.Option{protocol.WithLease(protocol.MinLease)}, true},
		{"lease below MinLease", []protocol.Option{protocol.WithLease(protocol.MinLease - 1)}, false},
		{"lease MaxLease", []protocol.Option{protocol.WithLease(protocol.MaxLease)}, true},
		{"lease above MaxLease", []protocol.Option{protocol.WithLease(protocol.MaxLease + 1)}, false},
		{"settle just below lease/4", []protocol.Option{protocol.WithSettle(protocol.DefaultLease/4 - 1)}, true},
		{"settle lease/4", []protocol.Option{protocol.WithSettle(protocol.DefaultLease / 4)}, false},
		{"settle with WithoutLease", []protocol.Option{protocol.WithoutLease(), protocol.WithSettle(time.Hour)}, true},
		{"slots 0", []protocol.Option{protocol.WithSlots(0)}, false},
		{"slots -1", []protocol.Option{protocol.WithSlots(-1)}, false},
		{"shared with slots 2", []protocol.Option{protocol.WithShared(), protocol.WithSlots(2)}, false},
		{"shared with slots 1", []protocol.Option{protocol.WithShared(), protocol.WithSlots(1)}, true},
		{"negative min backoff", []protocol.Option{protocol.WithBackoff(-1, time.Second)}, false},
		{"max backoff below min", []protocol.Option{protocol.WithBackoff(time.Second, time.Second-1)}, false},
		{"unknown stale rule", []protocol.Option{protocol.WithStaleRule(protocol.StaleRule(99))}, false},
		{"unknown fencing mode", []protocol.Option{protocol.WithFencing(protocol.Fencing(99))}, false},
	} {
		_, err := protocol.New(filepath.Join(t.TempDir(), "b.cryolock"), tc.opts...)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v, want it accepted", tc.name, err)
		case !tc.ok && !errors.Is(err, protocol.ErrConfig):
			t.Errorf("%s: %v, want ErrConfig", tc.name, err)
		}
	}
}

// failRemoveFS refuses every removal.
type failRemoveFS struct{ protocol.FS }

func (failRemoveFS) Remove(d protocol.Dir, name string) error {
	return &fs.PathError{Op: "remove", Path: filepath.Join(d.Path(), name), Err: syscall.EIO}
}

// createdFS calls created after every successful create.
type createdFS struct {
	protocol.FS
	created func()
}

func (f createdFS) WriteFile(d protocol.Dir, name string, data []byte, perm fs.FileMode) error {
	err := f.FS.WriteFile(d, name, data, perm)
	if err == nil {
		f.created()
	}
	return err
}

// TestFailedWithdrawReported: a Lock that gives up with its entry in the
// directory (its context ends during the settle delay) and cannot remove
// it reports the removal's failure with the context's, naming the entry
// (Lock's doc: "a removal that fails is reported in the error"), as an
// errors.Join of two *Errors (Error's doc).
func TestFailedWithdrawReported(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w.cryolock")
	// The context ends as soon as the entry is created: during the settle.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := newLock(t, dir, protocol.WithFS(createdFS{failRemoveFS{protocol.OSFS()}, cancel}), protocol.WithSettle(2*time.Second))
	err := l.Lock(ctx)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Lock: %v, want it to wrap context.Canceled and the removal's EIO", err)
	}
	names := locktest.Names(t, dir)
	if len(names) != 1 || !strings.Contains(err.Error(), filepath.Join(dir, names[0])) {
		t.Fatalf("Lock: %v; the directory holds %v: want the error to name the entry left behind", err, names)
	}
	if u, ok := err.(interface{ Unwrap() []error }); !ok || len(u.Unwrap()) != 2 {
		t.Fatalf("Lock: %v (%T), want an errors.Join of two", err, err)
	}
	if l.Held() {
		t.Fatal("Held after a failed Lock")
	}
}

// ghostFS lists names that are gone by the time they are looked at.
type ghostFS struct {
	protocol.FS
	ghosts []string
}

func (f ghostFS) ReadDir(d protocol.Dir) ([]protocol.DirEntry, error) {
	ents, err := f.FS.ReadDir(d)
	for _, g := range f.ghosts {
		ents = append(ents, protocol.DirEntry{Name: g})
	}
	return ents, err
}

// TestInspectLeavesOutVanished: an entry that vanishes during the look is
// left out of the snapshot (Inspect's doc) — not reported as foreign, nor
// as a name the protocol ignores — whether or not its name is an entry's.
func TestInspectLeavesOutVanished(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "g.cryolock")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "real.7"), []byte("10"), 0o666); err != nil {
		t.Fatal(err)
	}
	snap, err := protocol.Inspect(ctxT(t, 10*time.Second), dir, protocol.WithFS(ghostFS{protocol.OSFS(), []string{"gone.5", "gone-junk.txt"}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Entries) != 1 || snap.Entries[0].Name != "real.7" || len(snap.Foreign) != 0 || len(snap.Ignored) != 0 {
		t.Fatalf("snapshot entries %+v, foreign %+v, ignored %v; want only real.7", snap.Entries, snap.Foreign, snap.Ignored)
	}
}

// recHandler records the level and message of every record.
type recHandler struct {
	mu   sync.Mutex
	recs []string
}

func (h *recHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Level.String()+" "+r.Message)
	h.mu.Unlock()
	return nil
}
func (h *recHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recHandler) WithGroup(string) slog.Handler      { return h }

func (h *recHandler) has(level slog.Level, substr string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.ContainsFunc(h.recs, func(r string) bool {
		return strings.HasPrefix(r, level.String()+" ") && strings.Contains(r, substr)
	})
}

// TestLoggerLevels: WithLogger's doc — info for reaping a stale entry, warn
// for a lost lock.
func TestLoggerLevels(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "l.cryolock")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "deadowner.3")
	if err := os.WriteFile(dead, []byte("1"), 0o666); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(dead, old, old); err != nil {
		t.Fatal(err)
	}
	h := &recHandler{}
	l := newLock(t, dir, protocol.WithLease(200*time.Millisecond), protocol.WithStaleRule(protocol.WallClock), protocol.WithLogger(slog.New(h)))
	ctx := ctxT(t, 30*time.Second)
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if !h.has(slog.LevelInfo, "reaped stale entry") {
		t.Errorf("no info record of the reaping: %q", h.recs)
	}
	lost := l.Lost()
	if err := os.Remove(filepath.Join(dir, l.Name())); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-ctx.Done():
		t.Fatal("the loss was never noticed")
	}
	if err := l.Unlock(); !errors.Is(err, protocol.ErrLost) {
		t.Fatalf("Unlock: %v, want ErrLost", err)
	}
	// "heartbeat failed" (the entry found gone), or "heartbeat overdue" if
	// a loaded machine starved the heartbeat first.
	if !h.has(slog.LevelWarn, "cryolock: heartbeat") || !h.has(slog.LevelWarn, "released a lost lock") {
		t.Errorf("no warn record of the loss: %q", h.recs)
	}
}
