package protocol_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// lateTimerEnv is the real environment whose timers can never be stopped in
// time: AfterFunc keeps f for the test to call, and the stop function it
// returns says the timer has fired already. Sleep returns at once.
type lateTimerEnv struct {
	protocol.Env
	mu     sync.Mutex
	timers []func()
}

func (e *lateTimerEnv) AfterFunc(_ time.Duration, f func()) func() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.timers = append(e.timers, f)
	return func() bool { return false }
}

func (e *lateTimerEnv) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// heartbeatFS reports, once armed, the first call a heartbeat makes
// (Verify, Chtimes or Stat of an entry).
type heartbeatFS struct {
	protocol.FS
	armed atomic.Bool
	calls chan string
}

func (f *heartbeatFS) note(op string) {
	if f.armed.Load() {
		select {
		case f.calls <- op:
		default:
		}
	}
}

func (f *heartbeatFS) Verify(d protocol.Dir) error {
	f.note("Verify")
	return f.FS.Verify(d)
}

func (f *heartbeatFS) Chtimes(d protocol.Dir, name string, a, m time.Time) error {
	f.note("Chtimes " + name)
	return f.FS.Chtimes(d, name, a, m)
}

func (f *heartbeatFS) Stat(d protocol.Dir, name string) (protocol.FileInfo, error) {
	f.note("Stat " + name)
	return f.FS.Stat(d, name)
}

// TestHeartbeatTimerFiringAtUnlock: a hold arms one timer for its first
// refresh and builds the keeper only when it fires (startHeartbeat). A
// timer that fires while Unlock stops it (too late to stop) must start no
// keeper: the entry is released, and a keeper would refresh or stat it, or
// report the released hold lost.
func TestHeartbeatTimerFiringAtUnlock(t *testing.T) {
	env := &lateTimerEnv{Env: protocol.OSEnv()}
	fsys := &heartbeatFS{FS: protocol.OSFS(), calls: make(chan string, 1)}
	l := newLock(t, filepath.Join(t.TempDir(), "a.cryolock"), protocol.WithEnv(env), protocol.WithFS(fsys))
	if err := l.Lock(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	fsys.armed.Store(true)
	env.mu.Lock()
	timers := env.timers
	env.mu.Unlock()
	if len(timers) != 1 {
		t.Fatalf("an uncontended hold armed %d timers, want 1 (the heartbeat's first refresh)", len(timers))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		timers[0]()
	}()
	select {
	case op := <-fsys.calls:
		t.Fatalf("a heartbeat timer that fired as Unlock stopped it started a keeper: %s after the release", op)
	case <-done:
	}
}

// TestHeartbeatOneTimerPerValue: a Lock value arms one heartbeat timer for
// its holds, not one per hold. A second hold, due later than the armed
// timer, arms none; when the timer (armed for the first hold) fires during
// the second, it is armed again for the second's due time, and that firing
// starts the second hold's keeper.
func TestHeartbeatOneTimerPerValue(t *testing.T) {
	env := &lateTimerEnv{Env: protocol.OSEnv()}
	fsys := &heartbeatFS{FS: protocol.OSFS(), calls: make(chan string, 1)}
	l := newLock(t, filepath.Join(t.TempDir(), "a.cryolock"), protocol.WithEnv(env), protocol.WithFS(fsys))
	ctx := ctxT(t, 30*time.Second)
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	timers := func() []func() {
		env.mu.Lock()
		defer env.mu.Unlock()
		return append([]func(){}, env.timers...)
	}
	if n := len(timers()); n != 1 {
		t.Fatalf("two holds armed %d timers, want 1", n)
	}
	fsys.armed.Store(true)
	timers()[0]() // the first hold's due time: too early for the second
	select {
	case op := <-fsys.calls:
		t.Fatalf("the timer armed for the first hold started the second's keeper early: %s", op)
	default:
	}
	ts := timers()
	if len(ts) != 2 {
		t.Fatalf("after the early firing %d timers were armed, want 2 (the second hold's)", len(ts))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ts[1]() // runs the keeper until Unlock stops it
	}()
	select {
	case op := <-fsys.calls:
		if !strings.HasPrefix(op, "Verify") && !strings.Contains(op, l.Name()) {
			t.Fatalf("the keeper's first call was %s, not of the held entry %s", op, l.Name())
		}
	case <-ctx.Done():
		t.Fatal("the timer armed for the second hold never started its keeper")
	}
	if err := l.Unlock(); err != nil && !errors.Is(err, protocol.ErrLost) {
		t.Fatal(err)
	}
	<-done
}
