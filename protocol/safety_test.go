package protocol_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

// stampFS fails every set-times call (failChtimes) or silently ignores it
// (ignoreChtimes: a FUSE or object-store filesystem that drops utime).
type stampFS struct {
	protocol.FS
	failChtimes, ignoreChtimes bool
}

func (f stampFS) Chtimes(d protocol.Dir, p string, a, m time.Time) error {
	switch {
	case f.failChtimes:
		return &fs.PathError{Op: "chtimes", Path: p, Err: syscall.EIO}
	case f.ignoreChtimes:
		return nil
	}
	return f.FS.Chtimes(d, p, a, m)
}

// TestFailedStampFailsEntry: the stamp after create (rule C2) is not best
// effort. An entry whose stamp failed keeps the file server's mtime, and with
// coarse mtimes its first refresh can write that very value, so observers see
// no heartbeat while the holder believes in one (Lemma R). Lock must fail and
// take the entry back.
func TestFailedStampFailsEntry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	l := newLock(t, dir, protocol.WithFS(stampFS{FS: protocol.OSFS(), failChtimes: true}))
	err := l.Lock(ctxT(t, 10*time.Second))
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Lock with a failing stamp: %v, want an EIO error naming %s", err, dir)
	}
	if l.Held() {
		t.Fatal("Held after a failed stamp")
	}
	if names := locktest.Names(t, dir); len(names) != 0 {
		t.Fatalf("entries left after a failed stamp: %v", names)
	}
}

// TestInvisibleHeartbeatIsLost: on a filesystem that accepts set-times but
// never changes the mtime, no observer can see the heartbeat, so the holder
// must be told it lost the lock (at 0.75 × lease) rather than hold for ever
// while others judge its entry dead.
func TestInvisibleHeartbeatIsLost(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	l := newLock(t, dir, protocol.WithLease(2*time.Second),
		protocol.WithFS(stampFS{FS: protocol.OSFS(), ignoreChtimes: true}))
	if err := l.Lock(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-time.After(2 * time.Minute):
		t.Fatal("a heartbeat that never changes the mtime was never reported lost")
	}
	if err := l.Unlock(); !errors.Is(err, protocol.ErrLost) {
		t.Fatalf("Unlock after an invisible heartbeat: %v, want ErrLost", err)
	}
}

// hookFS runs hook once, just before the first opening of the lock
// directory's .meta (where the fencing counter is read).
type hookFS struct {
	protocol.FS
	once sync.Once
	hook func()
}

func (f *hookFS) OpenDir(parent protocol.Dir, name string, create bool, perm fs.FileMode) (protocol.Dir, error) {
	if parent != nil && name == protocol.MetaDir {
		f.once.Do(f.hook)
	}
	return f.FS.OpenDir(parent, name, create, perm)
}

// TestFencingPausedHolder: A decides "held" and is paused before it reads
// and writes its fencing token; meanwhile its entry is reaped and B acquires
// with token 1. When A resumes it must not return success (its token would
// be 2, greater than that of the holder that replaced it): it re-validates
// after writing the token and starts over (rule T).
func TestFencingPausedHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	ctx := ctxT(t, 30*time.Second)
	var b *protocol.Lock
	var a *protocol.Lock
	f := &hookFS{FS: protocol.OSFS()}
	f.hook = func() {
		// A is between "held" and its token: reap its entry (as a
		// contender that judged it stale would) and let B take the lock.
		var names []string
		for _, n := range locktest.Names(t, dir) {
			if n != protocol.MetaDir {
				names = append(names, n)
			}
		}
		if len(names) != 1 {
			t.Errorf("entries while A confirms: %v, want A's alone", names)
			return
		}
		if err := os.Remove(filepath.Join(dir, names[0])); err != nil {
			t.Error(err)
		}
		b = newLock(t, dir, protocol.WithFencing(protocol.FencingSlots))
		if err := b.Lock(ctx); err != nil {
			t.Error(err)
		}
	}
	a = newLock(t, dir, protocol.WithFencing(protocol.FencingSlots), protocol.WithFS(f))
	ok, err := a.TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b == nil || !b.Held() {
		t.Fatal("the hook did not run: B does not hold")
	}
	defer b.Unlock()
	if ok {
		t.Fatalf("A's TryLock succeeded with token %d after being replaced by B (token %d)", a.Token(), b.Token())
	}
	if b.Token() != 1 {
		t.Fatalf("B's token %d, want 1", b.Token())
	}
	if n, _ := protocol.ReadFence(nil, dir); n < b.Token() {
		t.Fatalf("fence %d below B's token %d", n, b.Token())
	}
}

// TestMixedKindsOnOneDirectory pins down what mixing a mutex and a semaphore
// on one directory does (docs/PROTOCOL.md §7): the semaphore's bound counts
// the mutex holder as one of its n, so at most n hold in all, but the mutex
// does not exclude a semaphore contender that enters after it.
func TestMixedKindsOnOneDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	ctx := ctxT(t, 30*time.Second)
	m := newLock(t, dir)
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Unlock()
	var sems []*protocol.Lock
	for range 3 {
		s, err := newSem(dir, 2)
		if err != nil {
			t.Fatal(err)
		}
		sems = append(sems, s)
	}
	ok, err := sems[0].TryLock(ctx)
	if err != nil || !ok {
		t.Fatalf("semaphore of 2 beside a mutex holder: %v, %v; want held (the mutex counts as one of 2)", ok, err)
	}
	defer sems[0].Unlock()
	if ok, err := sems[1].TryLock(ctx); err != nil || ok {
		t.Fatalf("a third holder beside a mutex and a semaphore of 2: %v, %v; want refused", ok, err)
	}
	if !m.Held() {
		t.Fatal("the mutex lost its hold")
	}
	// And a second mutex is kept out by both.
	m2 := newLock(t, dir)
	if ok, err := m2.TryLock(ctx); err != nil || ok {
		t.Fatalf("a second mutex: %v, %v; want refused", ok, err)
	}
}
