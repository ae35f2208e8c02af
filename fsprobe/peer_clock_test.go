package fsprobe

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// virtualClock is a peerClock shared by the parties of a test: its time
// stands still while any party is working and moves only when every party
// still running sleeps, then straight to the earliest wake-up. Filesystem
// operations thus take no time, and a party that the machine stalls holds
// the clock back instead of seeing the other's lag shrink: what a run
// measures depends on what the parties do, not on how loaded the machine
// is.
type virtualClock struct {
	mu       sync.Mutex
	now      time.Time
	running  int // parties that have not left
	sleepers []*sleeper
}

type sleeper struct {
	at   time.Time
	wake chan struct{}
}

func newVirtualClock(parties int) *virtualClock {
	return &virtualClock{now: time.Unix(1_700_000_000, 0), running: parties}
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *virtualClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	s := &sleeper{at: c.now.Add(d), wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.advance()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		defer c.mu.Unlock()
		if i := slices.Index(c.sleepers, s); i >= 0 {
			c.sleepers = slices.Delete(c.sleepers, i, i+1)
		}
		return ctx.Err()
	}
}

// leave is called by a party that is done: the others no longer wait for it
// to sleep.
func (c *virtualClock) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running--
	c.advance()
}

// advance, with c.mu held: if every running party sleeps, move to the
// earliest wake-up and wake those due.
func (c *virtualClock) advance() {
	if len(c.sleepers) == 0 || len(c.sleepers) < c.running {
		return
	}
	next := c.sleepers[0].at
	for _, s := range c.sleepers {
		if s.at.Before(next) {
			next = s.at
		}
	}
	if next.After(c.now) {
		c.now = next
	}
	c.sleepers = slices.DeleteFunc(c.sleepers, func(s *sleeper) bool {
		if s.at.After(c.now) {
			return false
		}
		close(s.wake)
		return true
	})
}

// runVirtualPeers runs both sides of Peer on one virtual clock, which the
// options' FS (a lagFS pair) must share.
func runVirtualPeers(t *testing.T, dirs [2]string, opts [2]Options, c *virtualClock) [2]PeerReport {
	t.Helper()
	reps, errs := both(func(i int) (PeerReport, error) {
		defer c.leave()
		o := opts[i]
		o.clock = c
		return Peer(context.Background(), dirs[i], o)
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("side %d: %v", i, err)
		}
	}
	return reps
}

// TestVirtualClock: time moves only when every running party sleeps, to the
// earliest wake-up; a party that leaves no longer holds it back.
func TestVirtualClock(t *testing.T) {
	c := newVirtualClock(2)
	t0 := c.Now()
	done := make(chan struct{})
	go func() {
		c.Sleep(context.Background(), time.Second)
		close(done)
	}()
	// The other party has not slept: the sleeper waits, and time stands.
	select {
	case <-done:
		t.Fatal("a sleep ended while the other party was running")
	case <-time.After(20 * time.Millisecond):
	}
	if !c.Now().Equal(t0) {
		t.Fatalf("time moved to %v while a party was running", c.Now())
	}
	if err := c.Sleep(context.Background(), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := c.Now().Sub(t0); got != 300*time.Millisecond {
		t.Fatalf("after both slept, time moved by %v, want the earliest wake-up 300ms", got)
	}
	c.leave()
	<-done
	if got := c.Now().Sub(t0); got != time.Second {
		t.Fatalf("after one party left, time moved by %v, want 1s", got)
	}
}
