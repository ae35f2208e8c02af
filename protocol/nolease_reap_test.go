package protocol_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// plainFS hides the directory watch of the FS it wraps, so that a waiting
// contender polls through Env.Sleep.
type plainFS struct{ protocol.FS }

// hookWarpEnv is warpEnv with a hook run before every sleep that moves the
// clock on.
type hookWarpEnv struct {
	*warpEnv
	onSleep func()
}

func (e *hookWarpEnv) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 && e.onSleep != nil {
		e.onSleep()
	}
	return e.warpEnv.Sleep(ctx, d)
}

// lockInWarp runs l.Lock in jumping time (env) and reports whether it
// acquired before env's limit of virtual time passed.
func lockInWarp(t *testing.T, l *protocol.Lock, env *warpEnv) bool {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Lock(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		return true
	case <-env.passed:
		cancel()
		<-done
		return false
	}
}

// TestNoLeaseObserverReapsDeadEntry: a contender whose own entry has no
// lease (WithoutLease) waits in Lock behind the entry of a crashed
// contender that declares a lease of 1 s (written by another version, or a
// 1.x contender). Rule J0 lets Lock's first sighting of an entry skip the
// read and presume the observer's own lease only because "it is read at
// the next judging (a lease/8 later)"; with the observer's own lease None
// that next judging must still come, or the dead entry, whose lease says it
// may be broken after 1 s, is never reaped and the waiter waits for ever.
// In jumping time: the test fails if 100 s of virtual time pass first.
func TestNoLeaseObserverReapsDeadEntry(t *testing.T) {
	for _, name := range []string{"dead_1_aaaaaaaaaaaa.5", "140234-140235.5"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a.cryolock")
			if err := os.MkdirAll(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte("1"), 0o666); err != nil {
				t.Fatal(err)
			}
			env := &warpEnv{Env: protocol.OSEnv(), limit: 100 * time.Second, passed: make(chan struct{})}
			l := newLock(t, dir, protocol.WithoutLease(), protocol.WithEnv(env), protocol.WithFS(plainFS{protocol.OSFS()}))
			if !lockInWarp(t, l, env) {
				t.Fatalf("a WithoutLease Lock did not reap the dead entry %s (lease 1 s) in %v of virtual time", name, env.limit)
			}
		})
	}
}

// TestNoLeaseObserverReadsCompletedLease: the same waiter first sees the
// dead contender's entry empty (its write of "1" not landed yet, F5: the
// observer presumes its own lease, None, until the content is complete);
// the write then completes. The waiter must read the entry again and judge
// it by its declared lease of 1 s, not by its own None for ever.
func TestNoLeaseObserverReadsCompletedLease(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	entry := filepath.Join(dir, "dead_1_aaaaaaaaaaaa.5")
	if err := os.WriteFile(entry, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	w := &warpEnv{Env: protocol.OSEnv(), limit: 100 * time.Second, passed: make(chan struct{})}
	written := false
	env := &hookWarpEnv{warpEnv: w, onSleep: func() {
		if !written {
			written = true
			if err := os.WriteFile(entry, []byte("1"), 0o666); err != nil {
				t.Error(err)
			}
		}
	}}
	l := newLock(t, dir, protocol.WithoutLease(), protocol.WithEnv(env), protocol.WithFS(plainFS{protocol.OSFS()}))
	if !lockInWarp(t, l, w) {
		t.Fatalf("a WithoutLease Lock never judged by its completed lease (1 s) an entry it first saw empty (%v of virtual time)", w.limit)
	}
}

// TestFutureMtimeDeadEntry pins down what rule W's wall-clock hint costs
// (docs/PROTOCOL.md T2, W): the entry of a crashed contender whose wall
// clock ran an hour ahead carries an mtime an hour in this host's future,
// so it does not look dead by this host's clock, and a TryLock of a fresh
// value returns false at once instead of watching it; a blocking Lock,
// under the Observed rule, which compares no clocks, reaps it after one
// lease of watching. In jumping time.
func TestFutureMtimeDeadEntry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "dead_1_aaaaaaaaaaaa.5")
	if err := os.WriteFile(dead, []byte("1"), 0o666); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(dead, future, future); err != nil {
		t.Fatal(err)
	}
	env := &warpEnv{Env: protocol.OSEnv(), limit: 100 * time.Second, passed: make(chan struct{})}
	opts := []protocol.Option{protocol.WithoutLease(), protocol.WithEnv(env), protocol.WithFS(plainFS{protocol.OSFS()})}
	for i := 0; i < 3; i++ {
		if ok, err := newLock(t, dir, opts...).TryLock(context.Background()); ok || err != nil {
			t.Fatalf("TryLock beside a dead entry with a future mtime: %v, %v; want false (it does not look dead by this clock)", ok, err)
		}
	}
	if !lockInWarp(t, newLock(t, dir, opts...), env) {
		t.Fatalf("Lock did not reap a dead entry with a future mtime in %v of virtual time", env.limit)
	}
}
