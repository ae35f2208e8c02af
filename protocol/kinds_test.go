package protocol_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

// kindHelper runs the helper modes of this file; it reports false for a mode
// it does not know.
func kindHelper(mode string) (bool, error) {
	path := os.Getenv("CRYOLOCK_LOCK")
	n, _ := strconv.Atoi(os.Getenv("CRYOLOCK_N"))
	hist := os.Getenv("CRYOLOCK_HISTORY")
	ctx := context.Background()
	me := fmt.Sprint("p", os.Getpid())
	switch mode {
	case "rw":
		rw, err := newRW(path)
		if err != nil {
			return true, err
		}
		r := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
		var out []locktest.Interval
		for i := 0; i < n; i++ {
			read := r.IntN(10) < 7
			lock, unlock := rw.Lock, rw.Unlock
			if read {
				lock, unlock = rw.RLock, rw.RUnlock
			}
			if err := lock(ctx); err != nil {
				return true, err
			}
			start := locktest.Now()
			var ierr error
			if read {
				_, ierr = locktest.ReadCounter(os.Getenv("CRYOLOCK_COUNTER"))
				time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond) // let readers meet
			} else {
				ierr = locktest.Increment(os.Getenv("CRYOLOCK_COUNTER"))
			}
			out = append(out, locktest.Interval{Worker: me, Start: start, End: locktest.Now(), Shared: read})
			if err := errors.Join(ierr, unlock()); err != nil {
				return true, err
			}
		}
		return true, locktest.WriteHistory(hist, out)
	case "sem":
		slots, _ := strconv.Atoi(os.Getenv("CRYOLOCK_SLOTS"))
		s, err := newSem(path, slots)
		if err != nil {
			return true, err
		}
		var out []locktest.Interval
		for i := 0; i < n; i++ {
			if err := s.Lock(ctx); err != nil {
				return true, err
			}
			start := locktest.Now()
			time.Sleep(200 * time.Microsecond) // hold a little, so that holders meet
			out = append(out, locktest.Interval{Worker: me, Start: start, End: locktest.Now()})
			if err := s.Unlock(); err != nil {
				return true, err
			}
		}
		return true, locktest.WriteHistory(hist, out)
	case "fence":
		l, err := protocol.New(path, protocol.WithFencing(protocol.FencingSlots))
		if err != nil {
			return true, err
		}
		var out []locktest.Interval
		for i := 0; i < n; i++ {
			if err := l.Lock(ctx); err != nil {
				return true, err
			}
			out = append(out, locktest.Interval{Worker: me, Start: locktest.Now(), Token: l.Token()})
			out[len(out)-1].End = locktest.Now()
			if err := l.Unlock(); err != nil {
				return true, err
			}
		}
		return true, locktest.WriteHistory(hist, out)
	case "fenceloop":
		// Take tokens until killed, printing each once it is issued.
		l, err := protocol.New(path, protocol.WithFencing(protocol.FencingSlots))
		if err != nil {
			return true, err
		}
		w := bufio.NewWriter(os.Stdout)
		for {
			if err := l.Lock(ctx); err != nil {
				return true, err
			}
			fmt.Fprintln(w, l.Token())
			w.Flush()
			if err := l.Unlock(); err != nil {
				return true, err
			}
		}
	case "multi":
		dirs := strings.Split(path, ",")
		r := rand.New(rand.NewPCG(uint64(os.Getpid()), 2))
		for i := 0; i < n; i++ {
			var locks []*protocol.Lock
			for _, d := range dirs {
				if r.IntN(2) == 0 || len(locks) == 0 && d == dirs[len(dirs)-1] {
					l, err := protocol.New(d)
					if err != nil {
						return true, err
					}
					locks = append(locks, l)
				}
			}
			// Shuffle: LockAll must not depend on the order it is given.
			r.Shuffle(len(locks), func(i, j int) { locks[i], locks[j] = locks[j], locks[i] })
			if err := protocol.LockAll(ctx, locks...); err != nil {
				return true, err
			}
			var ierr error
			for _, l := range locks {
				ierr = errors.Join(ierr, locktest.Increment(filepath.Join(filepath.Dir(l.Path()), filepath.Base(l.Path())+".count")))
			}
			if err := errors.Join(ierr, protocol.UnlockAll(locks...)); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	return false, nil
}

func runHelpers(t *testing.T, procs int, mode string, dir string, env ...string) []locktest.Interval {
	t.Helper()
	var cmds []*exec.Cmd
	for i := 0; i < procs; i++ {
		cmd := helperCmd(t, mode, append(env, "CRYOLOCK_HISTORY="+filepath.Join(dir, fmt.Sprint("h", i)))...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	var all []locktest.Interval
	for i := 0; i < procs; i++ {
		iv, err := locktest.ReadHistory(filepath.Join(dir, fmt.Sprint("h", i)))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, iv...)
	}
	return all
}

// TestRWLockProcesses: 6 processes mix reads (70%) and writes on one
// RWLock. A writer never overlaps anyone; the writes' counter is exact.
func TestRWLockProcesses(t *testing.T) {
	procs, each := 6, 100
	if testing.Short() {
		each = 30
	}
	dir := t.TempDir()
	counter := filepath.Join(dir, "counter")
	os.WriteFile(counter, []byte("0"), 0o644)
	all := runHelpers(t, procs, "rw", dir, "CRYOLOCK_LOCK="+filepath.Join(dir, "rw.cryolock"), "CRYOLOCK_COUNTER="+counter, "CRYOLOCK_N="+strconv.Itoa(each))
	writes := 0
	for _, x := range all {
		if !x.Shared {
			writes++
		}
	}
	bad, sharedPairs := locktest.CheckRW(all)
	got, _ := locktest.ReadCounter(counter)
	t.Logf("%d holds (%d writes), %d overlapping reader pairs, counter %d", len(all), writes, sharedPairs, got)
	if len(all) != procs*each || got != writes {
		t.Errorf("holds %d (want %d), counter %d (want %d writes)", len(all), procs*each, got, writes)
	}
	if len(bad) > 0 {
		t.Errorf("%d overlaps involving a writer; first %+v", len(bad), bad[0])
	}
}

// TestRWLockRules checks the reader–writer rules step by step.
func TestRWLockRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rw.cryolock")
	ctx := ctxT(t, 20*time.Second)
	mk := func() *rwPair {
		rw, err := newRW(path, protocol.WithLease(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return rw
	}
	a, b, w, c := mk(), mk(), mk(), mk()
	if err := a.RLock(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryRLock(ctx); !ok || err != nil {
		t.Fatalf("second reader beside a reader: %v %v", ok, err)
	}
	if ok, err := w.TryLock(ctx); ok || err != nil {
		t.Fatalf("writer beside readers: %v %v, want false", ok, err)
	}
	// A waiting writer keeps new readers out.
	werr := make(chan error, 1)
	go func() { werr <- w.Lock(ctx) }()
	waitFor(t, ctx, func() bool {
		snap, err := protocol.Inspect(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range snap.Entries {
			if !strings.HasSuffix(e.Owner, "-r") {
				return true
			}
		}
		return false
	})
	if ok, err := c.TryRLock(ctx); ok || err != nil {
		t.Fatalf("new reader beside a waiting writer: %v %v, want false", ok, err)
	}
	a.RUnlock()
	b.RUnlock()
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.TryRLock(ctx); ok {
		t.Fatal("reader beside a writer")
	}
	if err := w.Unlock(); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.TryRLock(ctx); !ok || err != nil {
		t.Fatalf("reader after the writer left: %v %v", ok, err)
	}
	c.RUnlock()
}

// waitFor polls cond (a condition on the filesystem, not a timer) until it
// holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition never held")
		case <-time.After(time.Millisecond):
		}
	}
}

// TestSemaphoreProcesses: 6 processes share a semaphore of 2; never more
// than 2 hold at once, and 2 do hold together at times.
func TestSemaphoreProcesses(t *testing.T) {
	procs, each := 6, 60
	if testing.Short() {
		each = 20
	}
	dir := t.TempDir()
	all := runHelpers(t, procs, "sem", dir, "CRYOLOCK_LOCK="+filepath.Join(dir, "s.cryolock"), "CRYOLOCK_SLOTS=2", "CRYOLOCK_N="+strconv.Itoa(each))
	m := locktest.MaxConcurrent(all)
	t.Logf("%d holds, at most %d at once", len(all), m)
	if len(all) != procs*each || m > 2 {
		t.Errorf("holds %d (want %d), max concurrent %d (want ≤ 2)", len(all), procs*each, m)
	}
}

func TestSemaphoreSlots(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.cryolock")
	ctx := ctxT(t, 10*time.Second)
	var sems []*protocol.Lock
	for i := 0; i < 4; i++ {
		s, err := newSem(path, 3)
		if err != nil {
			t.Fatal(err)
		}
		sems = append(sems, s)
	}
	for i := 0; i < 3; i++ {
		if ok, err := sems[i].TryLock(ctx); !ok || err != nil {
			t.Fatalf("slot %d: %v %v", i, ok, err)
		}
	}
	if ok, err := sems[3].TryLock(ctx); ok || err != nil {
		t.Fatalf("fourth holder of 3 slots: %v %v", ok, err)
	}
	// A mutex on the same directory sees a full house too.
	m := newLock(t, path)
	if ok, _ := m.TryLock(ctx); ok {
		t.Fatal("mutex beside semaphore holders")
	}
	sems[0].Unlock()
	if err := sems[3].Lock(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range sems[1:] {
		s.Unlock()
	}
	if _, err := newSem(path, 0); !errors.Is(err, protocol.ErrConfig) {
		t.Fatalf("0 slots: %v", err)
	}
}

// TestFencingTokensProcesses: 8 processes × 200 acquisitions with fencing;
// in the order the holds happened, tokens strictly increase, with no gaps.
func TestFencingTokensProcesses(t *testing.T) {
	procs, each := 8, 200
	if testing.Short() {
		each = 30
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "f.cryolock")
	all := runHelpers(t, procs, "fence", dir, "CRYOLOCK_LOCK="+path, "CRYOLOCK_N="+strconv.Itoa(each))
	if len(all) != procs*each {
		t.Fatalf("%d holds, want %d", len(all), procs*each)
	}
	if ov := locktest.Check(all); len(ov) > 0 {
		t.Fatalf("%d overlapping holds", len(ov))
	}
	sortByStart(all)
	for i, x := range all {
		if x.Token != uint64(i+1) {
			t.Fatalf("hold %d (by time) got token %d, want %d", i, x.Token, i+1)
		}
	}
	if got, err := protocol.ReadFence(nil, path); err != nil || got != uint64(len(all)) {
		t.Fatalf("ReadFence = %d, %v; want %d", got, err, len(all))
	}
}

func sortByStart(iv []locktest.Interval) {
	for i := 1; i < len(iv); i++ {
		for j := i; j > 0 && iv[j].Start < iv[j-1].Start; j-- {
			iv[j], iv[j-1] = iv[j-1], iv[j]
		}
	}
}

// TestFencingSurvivesKills SIGKILLs a process that takes tokens in a loop,
// at random moments (so sometimes in the middle of a slot write), again and
// again. Tokens printed across all the runs must strictly increase.
func TestFencingSurvivesKills(t *testing.T) {
	rounds := 12
	if testing.Short() {
		rounds = 8
	}
	path := filepath.Join(t.TempDir(), "k.cryolock")
	r := rand.New(rand.NewPCG(1, 2))
	var last uint64
	total := 0
	for round := 0; round < rounds; round++ {
		cmd := helperCmd(t, "fenceloop", "CRYOLOCK_LOCK="+path)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		stop := 5 + r.IntN(200) // kill after this many tokens, mid-loop
		for i := 0; sc.Scan(); i++ {
			tok, err := strconv.ParseUint(sc.Text(), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			if tok <= last {
				t.Fatalf("round %d: token %d after %d: went backwards", round, tok, last)
			}
			last = tok
			total++
			if i == stop {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		cmd.Wait()
		// The killed process left its entry; remove it as an operator
		// would (waiting a lease would only slow the test down).
		des, _ := os.ReadDir(path)
		for _, d := range des {
			if !d.IsDir() {
				os.Remove(filepath.Join(path, d.Name()))
			}
		}
	}
	t.Logf("%d tokens over %d killed processes, last %d", total, rounds, last)
	if got, _ := protocol.ReadFence(nil, path); got < last {
		t.Fatalf("ReadFence = %d after token %d was handed out", got, last)
	}
}

// TestLockAllProcesses: 4 processes each lock random subsets of 3 lock
// directories 40 times with LockAll; none deadlocks (the test would hang
// until the go test timeout) and every per-directory counter is exact.
func TestLockAllProcesses(t *testing.T) {
	dir := t.TempDir()
	var dirs []string
	for _, n := range []string{"a", "b", "c"} {
		dirs = append(dirs, filepath.Join(dir, n+".cryolock"))
	}
	const procs, each = 4, 40
	runHelpers(t, procs, "multi", dir, "CRYOLOCK_LOCK="+strings.Join(dirs, ","), "CRYOLOCK_N="+strconv.Itoa(each))
	for _, d := range dirs {
		if _, err := locktest.ReadCounter(d + ".count"); err != nil {
			t.Fatal(err)
		}
		if des, _ := os.ReadDir(d); len(des) != 0 {
			t.Errorf("litter in %s", d)
		}
	}
}

func TestLockAllReleasesOnFailure(t *testing.T) {
	dir := t.TempDir()
	a, b := newLock(t, filepath.Join(dir, "a.cryolock")), newLock(t, filepath.Join(dir, "b.cryolock"))
	other := newLock(t, filepath.Join(dir, "b.cryolock"))
	ctx := ctxT(t, 10*time.Second)
	if err := other.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := protocol.LockAll(short, b, a); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockAll: %v", err)
	}
	if a.Held() {
		t.Fatal("LockAll kept a lock after failing")
	}
	other.Unlock()
	if err := protocol.LockAll(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	if err := protocol.UnlockAll(a, b); err != nil {
		t.Fatal(err)
	}
	if err := protocol.LockAll(ctx, a, newLock(t, a.Path())); !errors.Is(err, protocol.ErrConfig) {
		t.Fatalf("same directory twice: %v", err)
	}
}

func TestLockContext(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c.cryolock")
	ctx := ctxT(t, 10*time.Second)
	l := newLock(t, dir, protocol.WithLease(200*time.Millisecond))
	hctx, err := l.LockContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hctx.Err() != nil {
		t.Fatal("hold context done at once")
	}
	os.Remove(filepath.Join(dir, l.Name()))
	<-hctx.Done()
	if cause := context.Cause(hctx); !errors.Is(cause, protocol.ErrLost) {
		t.Fatalf("cause %v, want ErrLost", cause)
	}
	l.Unlock()

	hctx, err = l.LockContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if cause := context.Cause(hctx); !errors.Is(cause, protocol.ErrReleased) {
		t.Fatalf("cause %v, want ErrReleased", cause)
	}
}

func TestDo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d.cryolock")
	ctx := ctxT(t, 10*time.Second)
	boom := errors.New("boom")
	ran := false
	err := protocol.Do(ctx, dir, func(ctx context.Context) error {
		ran = true
		if names := locktest.Names(t, dir); len(names) != 1 {
			t.Errorf("inside Do the lock dir holds %v", names)
		}
		return boom
	})
	if !ran || !errors.Is(err, boom) {
		t.Fatalf("Do: ran %v, err %v", ran, err)
	}
	if names := locktest.Names(t, dir); len(names) != 0 {
		t.Fatalf("Do left %v", names)
	}
	err = protocol.Do(ctx, dir, func(ctx context.Context) error {
		os.Remove(filepath.Join(dir, locktest.Names(t, dir)[0]))
		<-ctx.Done() // the heartbeat notices the loss
		return context.Cause(ctx)
	}, protocol.WithLease(200*time.Millisecond))
	if !errors.Is(err, protocol.ErrLost) {
		t.Fatalf("Do over a lost lock: %v", err)
	}
}

func TestReentrant(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.cryolock")
	ctx := ctxT(t, 10*time.Second)
	r, err := protocol.NewReentrant(path)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := r.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := r.Lock(c1)
	if err != nil || r.Depth() != 2 {
		t.Fatalf("nested Lock: %v, depth %d", err, r.Depth())
	}
	// Another call chain waits in the process.
	other := make(chan error, 1)
	go func() {
		c, err := r.Lock(ctx)
		if err == nil {
			_ = c
			err = r.Unlock()
		}
		other <- err
	}()
	select {
	case err := <-other:
		t.Fatalf("another call chain got in while held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	_ = c2
	if err := r.Unlock(); err != nil || len(locktest.Names(t, path)) != 1 {
		t.Fatalf("inner Unlock released: %v", err)
	}
	if err := r.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-other; err != nil {
		t.Fatal(err)
	}
	if err := r.Unlock(); !errors.Is(err, protocol.ErrNotHeld) {
		t.Fatalf("extra Unlock: %v", err)
	}
}

// rwPair is a reader and a writer on one directory, for the tests written
// against the reader–writer interface.
type rwPair struct{ r, w *protocol.Lock }

func newRW(path string, opts ...protocol.Option) (*rwPair, error) {
	r, err := protocol.New(path, append(opts, protocol.WithShared())...)
	if err != nil {
		return nil, err
	}
	w, err := protocol.New(path, opts...)
	if err != nil {
		return nil, err
	}
	return &rwPair{r, w}, nil
}

func (p *rwPair) RLock(ctx context.Context) error            { return p.r.Lock(ctx) }
func (p *rwPair) TryRLock(ctx context.Context) (bool, error) { return p.r.TryLock(ctx) }
func (p *rwPair) RUnlock() error                             { return p.r.Unlock() }
func (p *rwPair) RLost() <-chan struct{}                     { return p.r.Lost() }
func (p *rwPair) Lock(ctx context.Context) error             { return p.w.Lock(ctx) }
func (p *rwPair) TryLock(ctx context.Context) (bool, error)  { return p.w.TryLock(ctx) }
func (p *rwPair) Unlock() error                              { return p.w.Unlock() }
func (p *rwPair) Lost() <-chan struct{}                      { return p.w.Lost() }
func (p *rwPair) Token() uint64                              { return p.w.Token() }

func newSem(path string, n int, opts ...protocol.Option) (*protocol.Lock, error) {
	return protocol.New(path, append(opts, protocol.WithSlots(n))...)
}
