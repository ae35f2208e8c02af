package protocol

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cryolock-go/cryolock/nonce"
)

func TestInotifyWatch(t *testing.T) {
	dir, d, w := watchTempDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	checkWatchWakes(ctx, t, dir, d, w)

	// Network and FUSE filesystems are never watched.
	if localMagic[0x6969] || localMagic[0x65735546] {
		t.Fatal("NFS or FUSE listed as local")
	}
}

// TestSharedWatch: watches of one directory share one inotify watch (and
// the process one inotify instance), counted by reference; a waiter armed
// for removals wakes only for the names it waits on.
func TestSharedWatch(t *testing.T) {
	dir := t.TempDir()
	var ws []dirWatch
	for i := 0; i < 3; i++ {
		d, err := OSFS().OpenDir(nil, dir, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		w, err := OSFS().(watcher).Watch(d)
		if err != nil {
			t.Fatal(err)
		}
		if w == nil {
			t.Skip("the temp dir is not on a local filesystem inotify can watch")
		}
		ws = append(ws, w)
	}
	sw := ws[0].(*watchRef).w
	for _, w := range ws[1:] {
		if w.(*watchRef).w != sw {
			t.Fatal("two watches of one directory do not share their inotify watch")
		}
	}
	hub.mu.Lock()
	refs := sw.refs
	hub.mu.Unlock()
	if refs != 3 {
		t.Fatalf("refs = %d, want 3", refs)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The directory's own inotify watch is added when first armed, with an
	// unknown change (what came before is not known).
	if ws[0].(*watchRef).w.added {
		t.Fatal("the directory's watch was added before anyone armed it")
	}
	first, doneFirst := ws[0].Arm(ctx, ws[0].Changes())
	if first.Err() == nil {
		t.Fatal("the first Arm did not fire at once")
	}
	doneFirst()
	rw := ws[1].(removalWatch)
	since := ws[1].Changes()
	waitA, doneA := rw.ArmRemovals(ctx, since, []string{"a.1"})
	defer doneA()
	for _, step := range []func() error{
		func() error { return os.WriteFile(filepath.Join(dir, "a.1"), nil, 0o666) },
		func() error { return os.WriteFile(filepath.Join(dir, "b.1"), nil, 0o666) },
		func() error { return os.Remove(filepath.Join(dir, "b.1")) },
	} {
		any, done := ws[2].Arm(ctx, ws[2].Changes())
		if err := step(); err != nil {
			t.Fatal(err)
		}
		<-any.Done() // the event has been dispatched
		done()
		if ctx.Err() != nil {
			t.Fatal("no event for a change in the watched directory")
		}
		if waitA.Err() != nil {
			t.Fatal("a waiter armed for the removal of a.1 woke for another change")
		}
	}
	// A removal that happened after since but before arming fires at once.
	if err := os.Remove(filepath.Join(dir, "a.1")); err != nil {
		t.Fatal(err)
	}
	<-waitA.Done()
	if ctx.Err() != nil {
		t.Fatal("the removal of a.1 did not wake its waiter")
	}
	late, doneLate := rw.ArmRemovals(ctx, since, []string{"a.1"})
	if late.Err() == nil {
		t.Fatal("arming after a removal it waits for did not fire at once")
	}
	doneLate()

	for _, w := range ws {
		w.Close()
	}
	ws[0].Close() // closing twice releases once
	// The watch lingers (watchLinger) for a contender back for more.
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if sw.refs != 0 || sw.linger == nil {
		t.Fatalf("after every Close: refs %d, linger %v", sw.refs, sw.linger != nil)
	}
}

// TestEntryWatch: a waiter armed for given entries wakes when one of them
// is removed (at once if it is gone already), and not when other entries
// come and go.
func TestEntryWatch(t *testing.T) {
	dir, _, dw := watchTempDir(t)
	ew := dw.(entryWatch)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := os.WriteFile(filepath.Join(dir, "a.1"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	waitA, doneA := ew.armEntries(ctx, []string{"a.1"})
	defer doneA()
	// The directory's watch, armed after the entry's, is a barrier: once
	// it has fired for a change, the events before it were dispatched.
	first, doneFirst := dw.Arm(ctx, dw.Changes())
	<-first.Done() // its first arming fires at once
	doneFirst()
	for _, step := range []func() error{
		func() error { return os.WriteFile(filepath.Join(dir, "b.1"), nil, 0o666) },
		func() error { return os.Remove(filepath.Join(dir, "b.1")) },
	} {
		any, done := dw.Arm(ctx, dw.Changes())
		if err := step(); err != nil {
			t.Fatal(err)
		}
		<-any.Done()
		done()
		if ctx.Err() != nil {
			t.Fatal("no event for a change in the watched directory")
		}
		if waitA.Err() != nil {
			t.Fatal("a waiter armed for a.1 woke for another entry")
		}
	}
	if err := os.Remove(filepath.Join(dir, "a.1")); err != nil {
		t.Fatal(err)
	}
	<-waitA.Done()
	if ctx.Err() != nil {
		t.Fatal("the removal of a.1 did not wake its waiter")
	}
	gone, doneGone := ew.armEntries(ctx, []string{"a.1"})
	defer doneGone()
	if gone.Err() == nil {
		t.Fatal("arming for an entry already gone did not fire at once")
	}
	hub.mu.Lock()
	n := len(dw.(*watchRef).w.in.files)
	hub.mu.Unlock()
	doneA()
	doneGone()
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if left := len(dw.(*watchRef).w.in.files); left != 0 {
		t.Fatalf("%d entry watches left after every waiter is done (%d before)", left, n)
	}
}

// TestGate: a gate is granted to one waiter at a time, in order within a
// process, and across open file descriptions (processes) through the
// flock; leaving passes it on.
func TestGate(t *testing.T) {
	dir := t.TempDir()
	d, err := OSFS().OpenDir(nil, dir, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	granted := func(s *gateSeat) {
		t.Helper()
		c, done := s.arm(ctx)
		<-c.Done()
		done()
		if ctx.Err() != nil || !s.held() {
			t.Fatal("a seat was not granted after the one before it left")
		}
	}

	// Within a process: in order of arrival.
	g := openGate(d)
	if g == nil {
		t.Fatal("cannot open the gate")
	}
	defer g.close()
	s1, s2, s3 := g.join(), g.join(), g.join()
	if !s1.held() || s2.held() || s3.held() {
		t.Fatalf("seats held: %v %v %v, want only the first", s1.held(), s2.held(), s3.held())
	}
	s2.leave() // gives up its place before its turn
	s1.leave()
	granted(s3)

	// Across processes (another open file description): the flock.
	other := openGate(d)
	if other == nil {
		t.Fatal("cannot open the gate twice")
	}
	defer other.close()
	o1 := other.join()
	if o1.held() {
		t.Fatal("the gate was granted to two processes at once")
	}
	s3.leave()
	granted(o1)
	s4 := g.join()
	if s4.held() {
		t.Fatal("the gate was granted to two processes at once")
	}
	o1.leave()
	granted(s4)
	s4.leave()
}

// heldElsewhere makes a lock directory held by an entry of another
// process with a ticket above any a newcomer draws, so that a waiter
// withdraws and waits at the gate; it returns the directory and the entry.
func heldElsewhere(t *testing.T, name string) (path, holder string) {
	path = filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(path, 0o777); err != nil {
		t.Fatal(err)
	}
	holder = filepath.Join(path, "holder.2000000000")
	if err := os.WriteFile(holder, []byte("None"), 0o666); err != nil {
		t.Fatal(err)
	}
	return path, holder
}

// TestGateStuck: the gate is only a hint. With the gate held for ever by
// someone else (a stopped process, say), a waiter still acquires the lock
// once its holder releases it: it looks again every gatePoll on its own.
func TestGateStuck(t *testing.T) {
	path, holder := heldElsewhere(t, "g.cryolock")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := OSFS().OpenDir(nil, path, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	stuck := openGate(d)
	if stuck == nil {
		t.Fatal("cannot open the gate")
	}
	defer stuck.close()
	if seat := stuck.join(); !seat.held() {
		t.Fatal("a free gate was not granted")
	}
	waiter, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- waiter.Lock(ctx) }()
	// Release once the waiter waits for the gate.
	awaitState(ctx, t, waitingAtGate, "the waiter never queued at the gate")
	if err := os.Remove(holder); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("a waiter behind a stuck gate: %v", err)
	}
	if err := waiter.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// awaitState polls cond until it holds, failing the test with msg if ctx
// ends first. It waits for a state, not for time: the deadline is only the
// bound on a test that would otherwise hang.
func awaitState(ctx context.Context, t *testing.T, cond func() bool, msg string) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatal(msg)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitingAtGate reports whether some waiter of this process waits for a
// gate held elsewhere.
func waitingAtGate() bool {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if hub.cur == nil {
		return false
	}
	for _, w := range hub.cur.byKey {
		if g := w.gate; g != nil {
			g.mu.Lock()
			waiting := g.running && len(g.queue) > 0
			g.mu.Unlock()
			if waiting {
				return true
			}
		}
	}
	return false
}

// TestWatchOfReusedInode: a lingering watch of a removed directory is not
// reused for a new directory that got its inode number (as happened under
// go test -race -count=5: the hub keys watches by device and inode): the
// new one's watch is added when armed, and a change in it wakes its waiter.
// The reuse is staged: the lingering watch of "old" is filed under the
// key of "fresh", as if fresh had old's inode number.
func TestWatchOfReusedInode(t *testing.T) {
	root := t.TempDir()
	watch := func(path string) dirWatch {
		_, w := watchDir(t, path)
		return w
	}
	old, fresh := filepath.Join(root, "old"), filepath.Join(root, "fresh")
	for _, p := range []string{old, fresh} {
		if err := os.Mkdir(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	w := watch(old)
	_, done := w.Arm(context.Background(), w.Changes()) // adds old's inotify watch
	done()
	sw := w.(*watchRef).w
	w.Close() // lingers
	var st unix.Stat_t
	if err := unix.Stat(fresh, &st); err != nil {
		t.Fatal(err)
	}
	hub.mu.Lock()
	delete(sw.in.byKey, sw.key)
	sw.key = dirKey{dev: uint64(st.Dev), ino: st.Ino}
	sw.in.byKey[sw.key] = sw
	hub.mu.Unlock()

	nw := watch(fresh)
	if nw.(*watchRef).w == sw {
		t.Fatal("the lingering watch of another directory was reused")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first, doneFirst := nw.Arm(ctx, nw.Changes()) // fires at once: an unknown change
	<-first.Done()
	doneFirst()
	woke, doneWoke := nw.Arm(ctx, nw.Changes())
	defer doneWoke()
	if err := os.WriteFile(filepath.Join(fresh, "a.1"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	<-woke.Done()
	if ctx.Err() != nil {
		t.Fatal("a change in the new directory never woke its waiter")
	}
}

// TestHolderKeepsGate: a waiter that acquires through the gate keeps its
// place there for the whole hold (the host's other waiters sleep in the
// gate's flock), and gives it up at Unlock, after its entry is gone.
func TestHolderKeepsGate(t *testing.T) {
	path, holder := heldElsewhere(t, "k.cryolock")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waiter, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- waiter.Lock(ctx) }()
	awaitState(ctx, t, func() bool { return gateOwned(t, path) }, "the waiter never took its place at the gate")
	if err := os.Remove(holder); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// Another open file description of the directory stands for another
	// process's waiter.
	other, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(other)
	if err := unix.Flock(other, unix.LOCK_EX|unix.LOCK_NB); err != unix.EWOULDBLOCK {
		t.Fatalf("the gate while the waiter holds the lock: flock = %v, want EWOULDBLOCK", err)
	}
	if err := waiter.Unlock(); err != nil {
		t.Fatal(err)
	}
	if names, err := os.ReadDir(path); err != nil || len(names) != 0 {
		t.Fatalf("entries after Unlock: %v %v", names, err)
	}
	if err := unix.Flock(other, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("the gate after Unlock: flock = %v, want it free", err)
	}
	if err := unix.Flock(other, unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}

	// Back for more, alone now: the value queues at the (free) gate, but
	// a hold that met nobody does not renew its contention, so that it
	// takes the fast path again once that is old.
	if !waiter.mem.contendedSet {
		t.Fatal("the contended hold was not remembered as such")
	}
	last := waiter.mem.lastSeen()
	for i := 0; i < 2; i++ {
		if err := waiter.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := waiter.Unlock(); err != nil {
			t.Fatal(err)
		}
		if seen := waiter.mem.lastSeen(); seen != last {
			t.Fatalf("a hold that met nobody renewed the value's contention (%v, was %v): it would queue at the gate for ever", seen, last)
		}
	}
}

// gateOwned reports whether a waiter of this process holds the gate of
// the directory path.
func gateOwned(t *testing.T, path string) bool {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if hub.cur == nil {
		return false
	}
	w := hub.cur.byKey[dirKey{dev: uint64(st.Dev), ino: st.Ino}]
	if w == nil || w.gate == nil {
		return false
	}
	w.gate.mu.Lock()
	defer w.gate.mu.Unlock()
	return w.gate.owner != nil
}

// hookEnv is the real environment with a hook run at every sleep of d > 0.
type hookEnv struct {
	Env
	n      int
	onStep func(n int)
}

func (e *hookEnv) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		e.n++
		e.onStep(e.n)
	}
	return e.Env.Sleep(ctx, d)
}

// TestWaitersWatchEntriesNotDirectory: a reader waiting for a writer, and
// a semaphore contender waiting for its holders, watch the entries that
// keep them out (armEntries), never the directory itself. With the
// directory's watch every waiting process of a busy directory handled
// every entry made or removed there: 100 processes on a reader–writer lock
// (`go run ./internal/bench -only hpc -kinds cryolock`) spent 14 CPU-s per
// 1000 acquisitions, against 2.2 with entry watches. Once the entries that
// keep it out are gone, the waiter holds.
func TestWaitersWatchEntriesNotDirectory(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []Option
		blockers int
	}{
		{"reader", []Option{WithShared()}, 1},
		{"semaphore", []Option{WithSlots(2)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a.cryolock")
			if err := os.MkdirAll(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			var blockers []string
			for i := 0; i < tc.blockers; i++ {
				// Never stale (lease None), the highest ticket there is.
				n := nonce.FormatName(nonce.NewOwner(nonce.NewCrypto(), "holder", 100+i), 1<<31-1)
				if err := os.WriteFile(filepath.Join(dir, n), []byte("None"), 0o666); err != nil {
					t.Fatal(err)
				}
				blockers = append(blockers, n)
			}
			var st unix.Stat_t
			if err := unix.Stat(dir, &st); err != nil {
				t.Fatal(err)
			}
			key := dirKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}
			const gone = 4 // the blockers go at the waiter's 4th sleep
			watched, dirWatched := 0, 0
			env := &hookEnv{Env: OSEnv()}
			env.onStep = func(n int) {
				hub.mu.Lock()
				if in := hub.cur; in != nil {
					if w := in.byKey[key]; w != nil {
						watched++
						if w.added {
							dirWatched++
						}
					}
				}
				hub.mu.Unlock()
				if n == gone {
					for _, b := range blockers {
						if err := os.Remove(filepath.Join(dir, b)); err != nil {
							t.Error(err)
						}
					}
				}
			}
			l, err := New(dir, append(tc.opts, WithEnv(env))...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard only
			defer cancel()
			if err := l.Lock(ctx); err != nil {
				t.Fatalf("Lock: %v", err)
			}
			defer l.Unlock()
			if env.n < gone {
				t.Fatalf("the waiter held after %d sleeps, before the entries that kept it out were removed at its %dth", env.n, gone)
			}
			if watched == 0 {
				t.Skip("the temp dir is not on a local filesystem inotify can watch")
			}
			if dirWatched > 0 {
				t.Errorf("at %d of its %d sleeps the waiter had the directory's own inotify watch on: every entry made or removed there would wake its process", dirWatched, env.n)
			}
		})
	}
}
