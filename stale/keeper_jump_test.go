package stale

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// jumpClock is fakeClock safe for the watchdog's goroutine beside Run's:
// sleeps return at once, moving it on by their duration; with one
// goroutine sleeping at a time, virtual time without waiting.
type jumpClock struct{ now atomic.Int64 }

func (c *jumpClock) Mono() time.Duration { return time.Duration(c.now.Load()) }
func (c *jumpClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.now.Add(int64(max(d, 0)))
	return nil
}

// TestKeeperWatchdogStarts is TestKeeperWatchdog without wall-clock time
// (this file sorts before stale_test.go, so with -failfast a keeper without
// a watchdog fails here at once instead of after TestKeeperWatchdog's minute):
// the keeper starts its watchdog before the first refresh (rule H1, A3a),
// and once a refresh is stuck in Touch the watchdog alone reports the
// hold overdue, at 0.75 × lease of the keeper's clock. While Touch is stuck
// the watchdog is the only goroutine that sleeps, so the jumping clock
// moves for it alone. A keeper without a watchdog fails at once: nothing
// was started when Touch is entered.
func TestKeeperWatchdogStarts(t *testing.T) {
	const lease = 10 * time.Second
	c := &jumpClock{}
	stuck, entered := make(chan struct{}), make(chan struct{})
	lost := make(chan error, 1)
	var started atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k := &Keeper{Lease: For(lease), Clock: c, Jitter: func() float64 { return 0 },
		Touch: func() error { close(entered); <-stuck; return nil },
		Go: func(f func()) {
			started.Store(true)
			go f()
		},
		OnLost: func(err error) { lost <- err },
	}
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Run returned %v before its first refresh", err)
	case <-entered:
	}
	if !started.Load() {
		cancel()
		close(stuck)
		t.Fatal("the first refresh began with no watchdog started: a refresh stuck in the filesystem would tell nobody")
	}
	err := <-lost
	if !errors.Is(err, ErrOverdue) {
		t.Fatalf("watchdog: %v, want ErrOverdue", err)
	}
	if now := c.Mono(); now < OverdueAfter(lease) {
		t.Fatalf("reported at %v, before 0.75 × lease", now)
	}
	// Cancel first: a Touch unblocked while ctx is live counts as a
	// refresh, and Run would go on to a second Touch (closing entered
	// again).
	cancel()
	close(stuck)
	<-done
}

// TestKeeperUnchangedMtimeToldFast is the first half of
// TestKeeperUnchangedMtimeDoesNotCount with a bound: a Touch that never
// changes the mtime is no refresh (Invariant M), so the keeper reports the
// hold overdue after a few retries. A keeper that counted such a Touch would
// refresh for ever; this test stops it after 50 touches and fails, where
// the other would spin until go test's time limit.
func TestKeeperUnchangedMtimeToldFast(t *testing.T) {
	c := &jumpClock{}
	mtime := time.Unix(1000, 0) // a filesystem that keeps one mtime
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	touches := 0
	k := &Keeper{Lease: For(16 * time.Second), Clock: c, Jitter: func() float64 { return 0 },
		Touch: func() error {
			if touches++; touches == 50 {
				cancel()
			}
			return nil
		},
		Stat: func() (time.Time, error) { return mtime, nil },
	}
	err := k.Run(ctx)
	if !errors.Is(err, ErrOverdue) || !strings.Contains(err.Error(), ErrUnchanged.Error()) {
		t.Fatalf("a refresh that never changes the mtime: Run returned %v after %d touches and %v, want ErrOverdue naming %v", err, touches, c.Mono(), ErrUnchanged)
	}
}
