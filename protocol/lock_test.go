package protocol_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
	"github.com/cryolock-go/cryolock/stale"
)

func newLock(t testing.TB, path string, opts ...protocol.Option) *protocol.Lock {
	t.Helper()
	l, err := protocol.New(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestLockUnlockLeavesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	l := newLock(t, dir)
	ctx := ctxT(t, 10*time.Second)
	for i := 0; i < 3; i++ {
		if err := l.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if !l.Held() || l.Name() == "" {
			t.Fatalf("Held() = %v, Name() = %q after Lock", l.Held(), l.Name())
		}
		names := locktest.Names(t, dir)
		if len(names) != 1 || names[0] != l.Name() {
			t.Fatalf("lock dir holds %v, want just %s", names, l.Name())
		}
		b, _ := os.ReadFile(filepath.Join(dir, l.Name()))
		if string(b) != "10" {
			t.Fatalf("spec content %q, want the lease %q", b, "10")
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
		if names := locktest.Names(t, dir); len(names) != 0 {
			t.Fatalf("after Unlock the lock dir holds %v", names)
		}
	}
	if err := l.Unlock(); !errors.Is(err, protocol.ErrNotHeld) {
		t.Fatalf("second Unlock: %v, want ErrNotHeld", err)
	}
}

func TestLockTwiceOnOneValue(t *testing.T) {
	l := newLock(t, filepath.Join(t.TempDir(), "a.cryolock"))
	ctx := ctxT(t, 10*time.Second)
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if err := l.Lock(ctx); !errors.Is(err, protocol.ErrAlreadyHeld) {
		t.Fatalf("Lock on a held value: %v, want ErrAlreadyHeld", err)
	}
	if ok, err := l.TryLock(ctx); ok || !errors.Is(err, protocol.ErrAlreadyHeld) {
		t.Fatalf("TryLock on a held value: %v %v, want ErrAlreadyHeld", ok, err)
	}
}

func TestTryLockAndContextDeadline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	a, b := newLock(t, dir), newLock(t, dir)
	ctx := ctxT(t, 10*time.Second)
	if ok, err := a.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock on a free lock: %v %v", ok, err)
	}
	if ok, err := b.TryLock(ctx); ok || err != nil {
		t.Fatalf("TryLock on a held lock: %v %v, want false, nil", ok, err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := b.Lock(short)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Lock past its deadline: %v, want DeadlineExceeded naming %s", err, dir)
	}
	if names := locktest.Names(t, dir); len(names) != 1 || names[0] != a.Name() {
		t.Fatalf("a failed Lock left %v behind", names)
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx); !ok || err != nil {
		t.Fatalf("TryLock after release: %v %v", ok, err)
	}
	b.Unlock()
}

// TestWaiterWakesOnRelease checks that a waiter gets the lock once the
// holder releases it, and never before.
func TestWaiterWakesOnRelease(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	a, b := newLock(t, dir), newLock(t, dir)
	ctx := ctxT(t, 10*time.Second)
	if err := a.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	var released sync.WaitGroup
	released.Add(1)
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx) }()
	// The waiter must not get in while a holds: give it many polls.
	select {
	case err := <-got:
		t.Fatalf("waiter returned %v while the lock was held", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	b.Unlock()
}

func TestGoroutinesExclude(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "g.cryolock")
	counter := filepath.Join(dir, "counter")
	const workers, each = 8, 60
	ctx := ctxT(t, 2*time.Minute)
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		all []locktest.Interval
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := newLock(t, path)
			iv, err := locktest.Run(ctx, l, locktest.Options{N: each, Counter: counter, Worker: fmt.Sprint("g", w)})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			all = append(all, iv...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	got, err := locktest.ReadCounter(counter)
	if err != nil {
		t.Fatal(err)
	}
	if got != workers*each || len(all) != workers*each {
		t.Errorf("counter = %d, holds = %d; want %d", got, len(all), workers*each)
	}
	if ov := locktest.Check(all); len(ov) > 0 {
		t.Errorf("%d overlapping holds, first %+v", len(ov), ov[0])
	}
	if names := locktest.Names(t, path); len(names) != 0 {
		t.Errorf("litter after all released: %v", names)
	}
}

func TestLostWhenSpecRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	l := newLock(t, dir, protocol.WithLease(200*time.Millisecond))
	ctx := ctxT(t, 10*time.Second)
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
		t.Fatal("Lost() never fired after the entry was removed")
	}
	if l.Held() {
		t.Error("Held() after loss")
	}
	if err := l.Unlock(); !errors.Is(err, protocol.ErrLost) {
		t.Fatalf("Unlock after loss: %v, want ErrLost", err)
	}
}

// TestHeartbeatKeepsHolderAlive: a holder whose heartbeat runs is not reaped
// by a waiter that waits two and a half leases (three refreshes). On a loaded
// machine a goroutine starved for 3/4 of the lease loses the lock, rightly:
// the test then checks that the holder was told, and why, and skips. The
// timing property itself is sim's TestHeartbeatKeepsHolderAlive.
func TestHeartbeatKeepsHolderAlive(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	const lease = time.Second
	a := newLock(t, dir, protocol.WithLease(lease))
	b := newLock(t, dir, protocol.WithLease(lease))
	ctx := ctxT(t, 30*time.Second)
	hold, err := a.LockContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 2*lease+lease/2)
	err = b.Lock(wait)
	cancel()
	switch {
	case err == nil:
		defer b.Unlock()
		starvedOrFail(t, hold, lease, "the waiter got in")
	case !errors.Is(err, context.DeadlineExceeded):
		t.Fatalf("waiter: %v; want to still be waiting after 2.5 leases", err)
	case hold.Err() != nil:
		starvedOrFail(t, hold, lease, "the holder lost its lock")
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// starvedOrFail is called when a hold (the context of LockContext) was, or
// may have been, broken by another contender: exclusion allows that only if
// the holder's heartbeat missed its deadline (a goroutine starved on a
// loaded machine), and then the holder is told so within a lease. It skips
// the test in that case and fails it otherwise: a holder whose entry was
// removed while its heartbeat ran, or that is never told.
func starvedOrFail(t *testing.T, hold context.Context, lease time.Duration, what string) {
	t.Helper()
	select {
	case <-hold.Done():
	case <-time.After(lease + 10*time.Second):
		t.Fatalf("%s, and the holder was never told it lost the lock", what)
	}
	cause := context.Cause(hold)
	if !errors.Is(cause, stale.ErrOverdue) {
		t.Fatalf("%s while the holder's heartbeat ran: %v", what, cause)
	}
	t.Skipf("%s: the holder's heartbeat was starved for 3/4 of its %v lease on this loaded machine (%v); the timing property is checked in virtual time by package sim", what, lease, cause)
}

func TestStaleEntryReaped(t *testing.T) {
	for _, rule := range []stale.Rule{stale.Observed, stale.WallClock} {
		t.Run(rule.String(), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "a.cryolock")
			if err := os.Mkdir(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			dead := filepath.Join(dir, "deadowner.42")
			if err := os.WriteFile(dead, []byte("1"), 0o666); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour)
			os.Chtimes(dead, old, old)
			l := newLock(t, dir, protocol.WithLease(time.Second), protocol.WithStaleRule(rule))
			if err := l.Lock(ctxT(t, 30*time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("stale entry not reaped: %v", err)
			}
			l.Unlock()
		})
	}
}

func TestNoLeaseNeverStale(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	os.Mkdir(dir, 0o777)
	p := filepath.Join(dir, "py-owner.7")
	os.WriteFile(p, []byte("None"), 0o666)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	l := newLock(t, dir, protocol.WithLease(50*time.Millisecond), protocol.WithStaleRule(stale.WallClock))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := l.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock over a None-lease holder: %v, want to wait", err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("a None-lease entry was removed: %v", err)
	}
}

func TestEmptyContentIsPresent(t *testing.T) {
	// An entry caught between create and write is a live contender: empty,
	// or (on an rclone mount, whose file grew before its data landed) NULs.
	for _, content := range []string{"", "\x00\x00", "1\x00"} {
		dir := filepath.Join(t.TempDir(), "a.cryolock")
		os.Mkdir(dir, 0o777)
		p := filepath.Join(dir, "writer.2147483647")
		os.WriteFile(p, []byte(content), 0o666)
		l := newLock(t, dir, protocol.WithLease(time.Second))
		if ok, err := l.TryLock(ctxT(t, 5*time.Second)); ok || err != nil {
			t.Fatalf("TryLock beside an entry holding %q: %v, %v; want false, nil", content, ok, err)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBadInput(t *testing.T) {
	root := t.TempDir()
	ctx := func() context.Context { return ctxT(t, 5*time.Second) }

	t.Run("suffix", func(t *testing.T) {
		_, err := protocol.New(filepath.Join(root, "nope"))
		if !errors.Is(err, protocol.ErrBadPath) || !strings.Contains(err.Error(), "nope") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("regular file", func(t *testing.T) {
		p := filepath.Join(root, "file.cryolock")
		os.WriteFile(p, []byte("precious"), 0o666)
		err := newLock(t, p).Lock(ctx())
		if !errors.Is(err, protocol.ErrBadPath) || !strings.Contains(err.Error(), p) {
			t.Fatalf("got %v", err)
		}
		if b, _ := os.ReadFile(p); string(b) != "precious" {
			t.Fatal("the regular file was changed")
		}
	})
	t.Run("symlinked dir", func(t *testing.T) {
		real := filepath.Join(root, "real.cryolock")
		os.Mkdir(real, 0o777)
		p := filepath.Join(root, "link.cryolock")
		os.Symlink(real, p)
		skipUnlessSymlink(t, p)
		if err := newLock(t, p).Lock(ctx()); !errors.Is(err, protocol.ErrBadPath) {
			t.Fatalf("got %v", err)
		}
	})
	for _, c := range []struct{ name, file, content string }{
		{"foreign name", "notes.txt", "hello"},
		{"garbage content", "owner.5", "hello world"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(root, strings.ReplaceAll(c.name, " ", "-")+".cryolock")
			os.Mkdir(dir, 0o777)
			p := filepath.Join(dir, c.file)
			os.WriteFile(p, []byte(c.content), 0o666)
			old := time.Now().Add(-time.Hour)
			os.Chtimes(p, old, old)
			err := newLock(t, dir, protocol.WithLease(50*time.Millisecond), protocol.WithStaleRule(stale.WallClock)).Lock(ctx())
			if !errors.Is(err, protocol.ErrForeign) || !strings.Contains(err.Error(), p) {
				t.Fatalf("got %v, want ErrForeign naming %s", err, p)
			}
			if b, _ := os.ReadFile(p); string(b) != c.content {
				t.Fatal("the foreign file was changed or removed")
			}
			if names := locktest.Names(t, dir); len(names) != 1 {
				t.Fatalf("left %v behind", names)
			}
		})
	}
	t.Run("symlink at an entry name", func(t *testing.T) {
		dir := filepath.Join(root, "sym.cryolock")
		os.Mkdir(dir, 0o777)
		target := filepath.Join(root, "target")
		os.WriteFile(target, []byte("keep"), 0o666)
		p := filepath.Join(dir, "owner.9")
		os.Symlink(target, p)
		skipUnlessSymlink(t, p)
		err := newLock(t, dir).Lock(ctx())
		if !errors.Is(err, protocol.ErrForeign) || !strings.Contains(err.Error(), p) {
			t.Fatalf("got %v", err)
		}
		if b, _ := os.ReadFile(target); string(b) != "keep" {
			t.Fatal("the symlink's target was changed")
		}
		if _, err := os.Lstat(p); err != nil {
			t.Fatal("the symlink was removed")
		}
	})
	t.Run("read-only dir", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("Windows ignores a directory's read-only attribute when files are created in it")
		}
		if os.Geteuid() == 0 {
			// root ignores directory permissions; use a read-only bind
			// mount where we can, else say what is missing.
			t.Skip("running as root: permission bits do not stop root (the read-only case is covered by TestReadOnlyMount)")
		}
		dir := filepath.Join(root, "ro.cryolock")
		os.Mkdir(dir, 0o555)
		err := newLock(t, dir).Lock(ctx())
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestConfigValidation(t *testing.T) {
	bad := [][]protocol.Option{
		{protocol.WithLease(time.Microsecond)},
		{protocol.WithSettle(-1)},
		{protocol.WithSettle(5 * time.Second)},
		{protocol.WithBackoff(time.Second, time.Millisecond)},
	}
	for i, opts := range bad {
		if _, err := protocol.New("x.cryolock", opts...); !errors.Is(err, protocol.ErrConfig) {
			t.Errorf("case %d: %v, want ErrConfig", i, err)
		}
	}
}

// TestTryLockClearsDeadEntry: a crashed holder's entry must not block
// TryLock forever under the Observed rule (cron's `cryolock run --nonblock`
// is one TryLock per process): TryLock watches an entry that looks dead by
// the wall clock for a lease, reaps it, and takes the lock.
func TestTryLockClearsDeadEntry(t *testing.T) {
	t.Parallel()
	const lease = time.Second
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	os.Mkdir(dir, 0o777)
	dead := filepath.Join(dir, "crashed.5")
	os.WriteFile(dead, []byte("1"), 0o666)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(dead, old, old)
	l := newLock(t, dir, protocol.WithLease(lease))
	start := time.Now()
	ok, err := l.TryLock(ctxT(t, 30*time.Second))
	if !ok || err != nil {
		t.Fatalf("TryLock over a dead entry: %v %v", ok, err)
	}
	if took := time.Since(start); took < lease {
		t.Errorf("took over after %v, before a whole lease of watching", took)
	}
	if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dead entry still there: %v", err)
	}
	l.Unlock()

	// A live holder (fresh mtime) still makes TryLock return false.
	h := newLock(t, dir, protocol.WithLease(lease))
	hold, err := h.LockContext(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unlock()
	ok, err = l.TryLock(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		defer l.Unlock()
		starvedOrFail(t, hold, lease, "TryLock got in beside a live holder")
	}
}

// skewedEnv is the OS environment with a wall clock an hour ahead.
type skewedEnv struct{ protocol.Env }

func (e skewedEnv) Now() time.Time { return e.Env.Now().Add(time.Hour) }

// TestEntryStampedFromOwnClock: an entry's mtime comes from the contender's
// clock from the start (rule C2), not from the file server's create, so that
// every mtime of an entry comes from one clock (PROOF.md, A6).
func TestEntryStampedFromOwnClock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	l := newLock(t, dir, protocol.WithEnv(skewedEnv{protocol.OSEnv()}))
	if err := l.Lock(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	fi, err := os.Stat(filepath.Join(dir, l.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if ahead := time.Until(fi.ModTime()); ahead < 50*time.Minute {
		t.Fatalf("entry mtime is %v ahead of the machine's clock; want the contender's clock (an hour ahead)", ahead)
	}
}

// recFS records the primitives called, and fails the first listings.
type recFS struct {
	protocol.FS
	mu       sync.Mutex
	ops      []string
	failList int
}

func (f *recFS) log(op string) {
	f.mu.Lock()
	f.ops = append(f.ops, op)
	f.mu.Unlock()
}

func (f *recFS) ReadDir(p protocol.Dir) ([]protocol.DirEntry, error) {
	f.log("list")
	f.mu.Lock()
	fail := f.failList > 0
	f.failList--
	f.mu.Unlock()
	if fail {
		return nil, &fs.PathError{Op: "readdirent", Path: p.Path(), Err: syscall.EIO}
	}
	return f.FS.ReadDir(p)
}

func (f *recFS) WriteFile(d protocol.Dir, p string, b []byte, perm fs.FileMode) error {
	f.log("create")
	return f.FS.WriteFile(d, p, b, perm)
}

// TestLooksFirstAfterError: an uncontended Lock enters at once (create, then
// list), but after a failed attempt the next one lists first, so callers
// that retry transient errors at once do not keep re-entering (livelock).
func TestLooksFirstAfterError(t *testing.T) {
	f := &recFS{FS: protocol.OSFS(), failList: 1}
	l := newLock(t, filepath.Join(t.TempDir(), "a.cryolock"), protocol.WithFS(f))
	ctx := ctxT(t, 10*time.Second)
	if err := l.Lock(ctx); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Lock with a failing listing: %v, want EIO", err)
	}
	f.ops = nil
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.ops) < 2 || f.ops[0] != "list" || f.ops[1] != "create" {
		t.Fatalf("after an error: %v, want a listing before the create", f.ops)
	}
	l.Unlock()
	f.ops = nil
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.ops) < 2 || f.ops[0] != "create" {
		t.Fatalf("after a success: %v, want the create first", f.ops)
	}
	l.Unlock()
}

// skipUnlessSymlink skips a test of how symbolic links are refused where
// the system does not show the one at path as a link (Wine 8 makes a host
// symbolic link transparent, or hides it if it dangles).
func skipUnlessSymlink(t *testing.T, path string) {
	t.Helper()
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Skipf("%s is not a symbolic link to this system (%v): nothing to refuse", path, err)
	}
}
