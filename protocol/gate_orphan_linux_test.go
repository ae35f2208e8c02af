package protocol

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// blockedGateWaits counts the goroutines blocked in a gate's flock.
func blockedGateWaits() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "protocol.(*gate).wait(")
}

// descriptorsOf counts this process's descriptors open on path.
func descriptorsOf(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if p, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && p == path {
			n++
		}
	}
	return n
}

// gateHeldElsewhere makes a lock directory held by another process's entry
// (heldElsewhere) whose gate that process holds too: other is its
// descriptor with the flock taken (closed at the end of the test), key the
// directory's identity.
func gateHeldElsewhere(t *testing.T, name string) (path, holder string, other int, key dirKey) {
	t.Helper()
	path, holder = heldElsewhere(t, name)
	other, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(other) })
	if err := unix.Flock(other, unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return path, holder, other, dirKey{dev: uint64(st.Dev), ino: st.Ino}
}

// cancelWaitAtGate starts l.Lock, waits until it queues at the gate, and
// cancels it.
func cancelWaitAtGate(guard context.Context, t *testing.T, l *Lock) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { got <- l.Lock(ctx) }()
	awaitState(guard, t, waitingAtGate, "the waiter never queued at the gate")
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock: %v, want context.Canceled", err)
	}
}

// TestGateWaitNotLeaked: a waiter at a gate that another process holds
// has a goroutine blocked in flock(2), which nothing interrupts. Waits
// cancelled one after another, each outliving its watch, must not leave one
// such goroutine (and thread, and descriptor) each: the directory's next
// watch takes the blocked gate over, and when the other process lets the
// gate go the last one ends.
func TestGateWaitNotLeaked(t *testing.T) {
	path, _, other, key := gateHeldElsewhere(t, "leak.cryolock")
	watchGone := func() bool {
		hub.mu.Lock()
		defer hub.mu.Unlock()
		return hub.cur == nil || hub.cur.byKey[key] == nil
	}
	guard, stop := context.WithTimeout(context.Background(), 2*time.Minute) // against a hang only
	defer stop()
	baseWaits, baseFDs := blockedGateWaits(), descriptorsOf(t, path)
	const rounds = 3
	for i := 0; i < rounds; i++ {
		l, err := New(path)
		if err != nil {
			t.Fatal(err)
		}
		cancelWaitAtGate(guard, t, l)
		awaitState(guard, t, watchGone, "the watch never ended")
	}
	waits, fds := blockedGateWaits()-baseWaits, descriptorsOf(t, path)-baseFDs
	t.Logf("after %d cancelled waits: %d goroutines in gate.wait, %d more descriptors of the lock directory", rounds, waits, fds)
	if waits > 1 || fds > 1 {
		t.Errorf("after %d cancelled waits: %d goroutines blocked in the gate's flock and %d more descriptors of the lock directory, want at most one of each", rounds, waits, fds)
	}
	// The other process lets the gate go: the orphan takes it, finds
	// nobody, and ends.
	if err := unix.Flock(other, unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	awaitState(guard, t, func() bool { return blockedGateWaits() == baseWaits }, "the orphaned gate's goroutine never ended")
	awaitState(guard, t, func() bool { return descriptorsOf(t, path) == baseFDs }, "the orphaned gate's descriptor was never closed")
	hub.mu.Lock()
	left := len(hub.orphans)
	hub.mu.Unlock()
	if left != 0 {
		t.Errorf("%d orphaned gates left registered", left)
	}
}

// TestOrphanedGateAdopted: a gate taken over from an earlier watch still
// grants its flock to the new watch's waiter, which then holds the lock.
func TestOrphanedGateAdopted(t *testing.T) {
	path, holder, other, key := gateHeldElsewhere(t, "adopt.cryolock")
	guard, stop := context.WithTimeout(context.Background(), 2*time.Minute)
	defer stop()
	orphaned := func() bool {
		hub.mu.Lock()
		defer hub.mu.Unlock()
		return hub.orphans[key] != nil
	}
	l, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	cancelWaitAtGate(guard, t, l)
	awaitState(guard, t, orphaned, "the gate was not kept as an orphan")
	got := make(chan error, 1)

	// A new waiter takes the orphan over; the holder leaves and the other
	// process lets the gate go: the waiter holds.
	go func() { got <- l.Lock(guard) }()
	awaitState(guard, t, waitingAtGate, "the second waiter never queued at the gate")
	if orphaned() {
		t.Error("the second waiter opened a new gate instead of taking the orphan over")
	}
	if err := os.Remove(holder); err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(other, unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Lock after the gate came free: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
}
