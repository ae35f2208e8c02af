package protocol_test

// Rules checked without wall-clock timing: each test drives one contender
// against a scripted directory through hooks of Env and FS, and fails at
// once when a rule is broken. The real-process tests (kinds_test.go,
// safety_test.go) see the same bugs only as a hang until their time limit;
// this file sorts before them, so `go test -failfast` reports the broken
// rule in well under a second instead (docs/MUTANTS.md: sem-look-off-by-one,
// withdraw-on-greater, keeper-stat-off, keeper-equal-mtime-counts).

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/protocol"
)

// sleepEnv is the real environment with a hook run at every sleep that is
// not a mere scheduling point (d > 0), before it sleeps.
type sleepEnv struct {
	protocol.Env
	onSleep func(n int) // n counts such sleeps from 1
	n       int
}

func (e *sleepEnv) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		e.n++
		e.onSleep(e.n)
	}
	return e.Env.Sleep(ctx, d)
}

// writeCountFS counts the entries created in the lock directory. Wrapping
// the FS in an interface also hides the directory watch, so the contender
// polls through Env.Sleep.
type writeCountFS struct {
	protocol.FS
	writes atomic.Int32
}

func (f *writeCountFS) WriteFile(d protocol.Dir, name string, data []byte, perm os.FileMode) error {
	f.writes.Add(1)
	return f.FS.WriteFile(d, name, data, perm)
}

// blockerName is a live entry that never goes stale (lease None) with the
// highest ticket there is: every contender's entry must withdraw before it
// (rule C4.5), and no contender that has looked may enter beside it (C1).
const blockerName = "blocker.2147483647"

// besideRun is one contender's Lock in a directory that holds the
// never-stale entries blockers, cancelled at its sleeps-th backoff sleep.
type besideRun struct {
	dir    string
	env    *sleepEnv
	fsys   *writeCountFS
	ctx    context.Context
	atStep func(n int) // also run at every sleep, before the cancel check
}

// besideLock prepares such a run; mk makes the contender from the options
// that plug in the run's Env and FS.
func besideLock(t *testing.T, blockers []string, sleeps int, mk func(dir string, opts ...protocol.Option) *protocol.Lock) (*besideRun, *protocol.Lock) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, n := range blockers {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("None"), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &besideRun{dir: dir, ctx: ctx, fsys: &writeCountFS{FS: protocol.OSFS()}}
	r.env = &sleepEnv{Env: protocol.OSEnv(), onSleep: func(n int) {
		if r.atStep != nil {
			r.atStep(n)
		}
		if n == sleeps {
			cancel()
		}
	}}
	l := mk(dir, protocol.WithEnv(r.env), protocol.WithFS(r.fsys), protocol.WithBackoff(time.Millisecond, 2*time.Millisecond))
	return r, l
}

// lockUntilCancelled runs l.Lock and requires it to wait until cancelled.
func (r *besideRun) lockUntilCancelled(t *testing.T, l *protocol.Lock, what string) {
	t.Helper()
	if err := l.Lock(r.ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("%s: Lock returned %v, want to wait until cancelled", what, err)
	}
}

func mkMutex(t *testing.T) func(string, ...protocol.Option) *protocol.Lock {
	return func(dir string, opts ...protocol.Option) *protocol.Lock { return newLock(t, dir, opts...) }
}

// TestWaiterBesideHigherTicket: a mutex contender meets a live entry with a
// higher ticket. Its blind first entry must withdraw (C4.5: a live
// competitor with a ticket ≥ mine), and from then on, looking before it
// enters, it must keep out while the entry is live (C1) — one entry made
// in all, none of its own left in the directory at any sleep.
func TestWaiterBesideHigherTicket(t *testing.T) {
	const sleeps = 8
	r, l := besideLock(t, []string{blockerName}, sleeps, mkMutex(t))
	var bad []string
	r.atStep = func(int) {
		if names := entryNames(t, r.dir); len(names) != 1 {
			bad = append(bad, strings.Join(names, " "))
		}
	}
	r.lockUntilCancelled(t, l, "a mutex beside a live entry")
	if r.env.n < sleeps {
		t.Fatalf("only %d sleeps before Lock returned", r.env.n)
	}
	if len(bad) > 0 {
		t.Errorf("rule C4.5: at %d of %d sleeps the contender's entry stayed beside a higher live ticket: the directory held %q", len(bad), r.env.n, bad[0])
	}
	if n := r.fsys.writes.Load(); n != 1 {
		t.Errorf("rule C1: the contender made %d entries in %d sleeps beside a live entry, want 1 (its blind first one)", n, sleeps)
	}
	if names := entryNames(t, r.dir); len(names) != 1 || names[0] != blockerName {
		t.Errorf("entries after the cancelled Lock: %v, want only %s", names, blockerName)
	}
}

// TestSemaphoreWaiterKeepsOut: rule C1 for a semaphore of 2 with two live
// entries (lease None): a contender that has looked does not enter.
func TestSemaphoreWaiterKeepsOut(t *testing.T) {
	const sleeps = 8
	r, l := besideLock(t, []string{blockerName, "blocker2.2147483646"}, sleeps, func(dir string, opts ...protocol.Option) *protocol.Lock {
		l, err := newSem(dir, 2, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
	r.lockUntilCancelled(t, l, "a semaphore of 2 beside 2 live entries")
	if n := r.fsys.writes.Load(); n > 1 {
		t.Errorf("rule C1: the semaphore contender made %d entries in %d sleeps beside 2 live entries, want at most 1", n, sleeps)
	}
}

// TestReaderKeepsOutBesideWriter: rule C1 for readers (§7): while a writer's
// entry is live, a reader that has looked does not enter — a waiting writer
// keeps new readers out, so a stream of readers cannot starve it. Its blind
// first entry withdraws before the writer's (C4 for readers), and it makes
// no other.
func TestReaderKeepsOutBesideWriter(t *testing.T) {
	const sleeps = 8
	r, l := besideLock(t, []string{blockerName}, sleeps, func(dir string, opts ...protocol.Option) *protocol.Lock {
		return newLock(t, dir, append(opts, protocol.WithShared())...)
	})
	r.lockUntilCancelled(t, l, "a reader beside a live writer")
	if n := r.fsys.writes.Load(); n != 1 {
		t.Errorf("rule C1 (readers): the reader made %d entries in %d sleeps beside a live writer, want 1 (its blind first one)", n, sleeps)
	}
}

// TestWriterEntersBesideReaders: rule C1 for a writer (§7) on a directory
// it cannot watch. Its blind first entry withdraws before a higher writer's
// entry; while that entry is live it keeps out. Once only a reader's entry
// is left, it enters beside the reader at its next look and waits there
// (its entry keeps new readers out), so a stream of overlapping reads
// cannot keep it out for ever: two entries made in all, the second still
// in the directory when Lock is cancelled.
func TestWriterEntersBesideReaders(t *testing.T) {
	const sleeps, gone = 10, 4 // the writer's entry goes at the 4th sleep
	owner := nonce.SharedOwner(nonce.NewOwner(nonce.NewCrypto(), "reader", 7))
	reader := nonce.FormatName(owner, 5)
	r, l := besideLock(t, []string{blockerName, reader}, sleeps, mkMutex(t))
	var last []string
	r.atStep = func(n int) {
		if n == gone {
			if err := os.Remove(filepath.Join(r.dir, blockerName)); err != nil {
				t.Error(err)
			}
		}
		last = entryNames(t, r.dir)
	}
	r.lockUntilCancelled(t, l, "a writer beside a live reader")
	if n := r.fsys.writes.Load(); n != 2 {
		t.Errorf("rule C1 (writers): the writer made %d entries in %d sleeps, want 2 (its blind first one, then one beside the reader once the other writer had gone)", n, r.env.n)
	}
	if len(last) != 2 {
		t.Errorf("rule C1 (writers): at the last sleep the directory held %q, want the reader's entry and the waiting writer's", last)
	}
}

// warpEnv is the real environment with time that jumps: every sleep
// returns at once and moves both clocks on by its duration, and goroutines
// started for later (the heartbeat) start at once. Only one goroutine may
// sleep at a time for the clock to mean anything, so goroutines asked to
// start at once (the heartbeat's watchdog, which sleeps alongside the
// keeper) are not started: the keeper must notice on its own. passed is
// closed once the clock has moved on by limit.
type warpEnv struct {
	protocol.Env
	off    atomic.Int64
	limit  time.Duration
	passed chan struct{}
	once   sync.Once
}

func (e *warpEnv) Now() time.Time      { return e.Env.Now().Add(time.Duration(e.off.Load())) }
func (e *warpEnv) Mono() time.Duration { return e.Env.Mono() + time.Duration(e.off.Load()) }

func (e *warpEnv) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if time.Duration(e.off.Add(int64(max(d, 0)))) >= e.limit {
		e.once.Do(func() { close(e.passed) })
		<-ctx.Done() // park: the test has seen enough
		return ctx.Err()
	}
	return nil
}

func (e *warpEnv) AfterFunc(d time.Duration, f func()) func() bool {
	if d <= 0 {
		return func() bool { return true }
	}
	var stopped atomic.Bool
	go func() {
		if !stopped.Load() {
			f()
		}
	}()
	return func() bool { return !stopped.Swap(true) }
}

// TestInvisibleHeartbeatToldFast is TestInvisibleHeartbeatIsLost in jumping
// time: on a filesystem that accepts set-times but never changes the mtime,
// no refresh counts (rule H1, Invariant M), so the keeper itself reports
// the hold lost once 0.75 × lease passes without a counted refresh. A
// keeper that counts a refresh whose mtime it did not see advance would
// refresh for ever; the test gives up after 20 leases of virtual time.
func TestInvisibleHeartbeatToldFast(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	lease := 2 * time.Second
	env := &warpEnv{Env: protocol.OSEnv(), limit: 20 * lease, passed: make(chan struct{})}
	l := newLock(t, dir, protocol.WithLease(lease), protocol.WithEnv(env),
		protocol.WithFS(stampFS{FS: protocol.OSFS(), ignoreChtimes: true}))
	if err := l.Lock(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-env.passed:
		t.Fatalf("a heartbeat that never changes the mtime was not reported lost in %v of virtual time (lease %v)", env.limit, lease)
	}
	if err := l.Unlock(); !errors.Is(err, protocol.ErrLost) {
		t.Fatalf("Unlock after an invisible heartbeat: %v, want ErrLost", err)
	}
}
