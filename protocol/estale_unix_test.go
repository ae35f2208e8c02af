//go:build unix

package protocol

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// estaleFS answers ESTALE (as the OS filesystem maps it) for every read and
// stat of an entry: a server failover. (The contender never reads its own.)
type estaleFS struct{ FS }

func (f estaleFS) ReadFile(d Dir, name string) ([]byte, FileInfo, error) {
	return nil, FileInfo{}, mapErr(&fs.PathError{Op: "open", Path: name, Err: syscall.ESTALE})
}

func (f estaleFS) Stat(d Dir, name string) (FileInfo, error) {
	return FileInfo{}, mapErr(&fs.PathError{Op: "lstat", Path: name, Err: syscall.ESTALE})
}

// lockedByOther returns a lock directory and the Lock that holds it.
func lockedByOther(ctx context.Context, t *testing.T) (string, *Lock) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	a, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	return dir, a
}

// TestESTALEIsNotGoneWhileJudging: a listed entry that answers ESTALE must
// not be judged gone — on a failover a live holder's entry can — so a
// contender fails its attempt instead of holding beside the holder (A0c).
func TestESTALEIsNotGoneWhileJudging(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, a := lockedByOther(ctx, t)
	defer a.Unlock()
	b, err := New(dir, WithFS(estaleFS{OSFS()}))
	if err != nil {
		t.Fatal(err)
	}
	ok, err := b.TryLock(ctx)
	if ok {
		b.Unlock()
		t.Fatal("TryLock held beside a live holder whose entry answered ESTALE")
	}
	if err == nil || !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("TryLock: %v, want an error wrapping ESTALE", err)
	}
}

// estaleOnceFS answers ESTALE for reads and stats of others' entries while
// on is set, and counts them.
type estaleOnceFS struct {
	FS
	on    *atomic.Bool
	count *atomic.Int64
}

func (f estaleOnceFS) ReadFile(d Dir, name string) ([]byte, FileInfo, error) {
	if f.on.Load() {
		f.count.Add(1)
		return estaleFS{f.FS}.ReadFile(d, name)
	}
	return f.FS.ReadFile(d, name)
}

func (f estaleOnceFS) Stat(d Dir, name string) (FileInfo, error) {
	if f.on.Load() {
		f.count.Add(1)
		return estaleFS{f.FS}.Stat(d, name)
	}
	return f.FS.Stat(d, name)
}

// TestLockWaitsOutESTALE: a blocking Lock whose look meets a holder's entry
// answering ESTALE does not fail (as TryLock does) nor hold beside it: it
// waits and looks again, and acquires once the holder has released.
func TestLockWaitsOutESTALE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir, a := lockedByOther(ctx, t)
	var on atomic.Bool
	var count atomic.Int64
	on.Store(true)
	b, err := New(dir, WithFS(estaleOnceFS{OSFS(), &on, &count}))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx) }()
	for count.Load() < 3 { // three looks met ESTALE: b went on waiting
		select {
		case err := <-got:
			t.Fatalf("Lock returned %v while the holder's entry answered ESTALE", err)
		case <-ctx.Done():
			t.Fatal("the waiter never looked at the holder's entry")
		case <-time.After(time.Millisecond):
		}
	}
	if !a.Held() {
		t.Fatal("the holder lost its lock")
	}
	on.Store(false)
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Lock after the holder released: %v", err)
	}
	b.Unlock()
}

// TestLockGivingUpOverESTALEIsOneError: a blocking Lock that waits out an
// entry answering ESTALE until its context ends returns one *Error (as
// Error's doc promises: never an *Error inside another) wrapping the
// context's error and the ESTALE, its text with the package's prefix once.
func TestLockGivingUpOverESTALEIsOneError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, a := lockedByOther(ctx, t)
	defer a.Unlock()
	// The context ends at the first ESTALE: Lock gives up while it waits.
	short, cancelShort := context.WithCancel(ctx)
	defer cancelShort()
	b, err := New(dir, WithFS(cancelingESTALEFS{estaleFS{OSFS()}, cancelShort}))
	if err != nil {
		t.Fatal(err)
	}
	err = b.Lock(short)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("Lock: %v, want it to wrap context.Canceled and ESTALE", err)
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Op != "lock" || pe.Path != dir {
		t.Fatalf("Lock: %v, want a *Error of op lock on %s", err, dir)
	}
	if inner := (*Error)(nil); errors.As(pe.Err, &inner) {
		t.Errorf("an *Error inside an *Error: %q", err)
	}
	// (".cryolock: " ends a lock directory's path, not a prefix.)
	if n := strings.Count(err.Error(), "cryolock: ") - strings.Count(err.Error(), ".cryolock: "); n != 1 {
		t.Errorf("message %q has the prefix %d times, want once", err, n)
	}
}

// cancelingESTALEFS is estaleFS that calls cancel at every ESTALE it
// answers.
type cancelingESTALEFS struct {
	estaleFS
	cancel func()
}

func (f cancelingESTALEFS) ReadFile(d Dir, name string) ([]byte, FileInfo, error) {
	defer f.cancel()
	return f.estaleFS.ReadFile(d, name)
}

func (f cancelingESTALEFS) Stat(d Dir, name string) (FileInfo, error) {
	defer f.cancel()
	return f.estaleFS.Stat(d, name)
}
