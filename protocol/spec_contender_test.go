package protocol_test

// An independent contender, written from docs/PROTOCOL.md alone (rules C0-C4,
// S, J, B, H1, U1, T2 and the format F1-F8), with plain os calls and nothing
// from the protocol, stale or nonce packages. The tests run it against the
// library on one lock directory: if the specification is complete and right,
// they exclude each other.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

type specContender struct {
	dir   string
	lease time.Duration
	rng   *rand.Rand

	path   string        // own entry while entered
	start  time.Time     // monotonic origin
	lastOK atomic.Int64  // ns since start: begin of the last good refresh (H1)
	lost   atomic.Bool   // H2
	late   atomic.Bool   // the loss was H1's overdue check (a starved heartbeat)
	stop   chan struct{} // stops the heartbeat
	hbDone chan struct{}
}

func newSpecContender(dir string, lease time.Duration, seed uint64) *specContender {
	return &specContender{dir: dir, lease: lease, rng: rand.New(rand.NewPCG(seed, uint64(os.Getpid()))), start: time.Now()}
}

func (c *specContender) mono() time.Duration { return time.Since(c.start) }

var errSpecForeign = errors.New("foreign entry")

// parseName is F2.
func parseName(name string) (ticket int32, ok bool) {
	i := strings.IndexByte(name, '.')
	if i < 1 || i > 64 {
		return 0, false
	}
	for _, r := range name[:i] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return 0, false
		}
	}
	t := name[i+1:]
	v, err := strconv.ParseInt(t, 10, 32)
	if err != nil || strconv.FormatInt(v, 10) != t {
		return 0, false
	}
	return int32(v), true
}

// parseContent is F3/F5/F6: lease (forever for None), known, foreign.
func parseContent(b []byte) (lease time.Duration, forever, known bool, err error) {
	if head := strings.TrimRight(string(b), "\x00"); len(head) < len(b) {
		// F5: NULs at the end are bytes not written yet.
		if _, _, _, err := parseContent([]byte(head)); err != nil {
			return 0, false, false, err
		}
		return 0, false, false, nil
	}
	s := strings.TrimSpace(string(b))
	if s == "None" {
		return 0, true, true, nil
	}
	if s == "" || strings.HasPrefix("None", s) {
		return 0, false, false, nil // F5: being written
	}
	digits, dots := 0, 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.':
			dots++
		default:
			return 0, false, false, errSpecForeign
		}
	}
	if dots > 1 {
		return 0, false, false, errSpecForeign
	}
	if strings.HasSuffix(s, ".") { // "1." or ".": a prefix of valid content
		return 0, false, false, nil
	}
	f, perr := strconv.ParseFloat(s, 64)
	if perr != nil || digits == 0 || f > 4e9 {
		return 0, false, false, errSpecForeign
	}
	return time.Duration(f * float64(time.Second)), false, true, nil
}

// sighting is what T2 remembers of one entry.
type sighting struct {
	mtime time.Time
	size  int64
	first time.Duration
}

type specScan struct {
	c    *specContender
	seen map[string]sighting // T2 memory, for the whole attempt
}

// staleNow is J2/J3 (and J4 when called again): read, stat, judge by T2.
func (s *specScan) staleNow(name string) (stale, gone bool, err error) {
	p := filepath.Join(s.c.dir, name)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, true, nil
	}
	if err != nil {
		return false, false, err
	}
	lease, forever, known, err := parseContent(b)
	if err != nil {
		return false, false, fmt.Errorf("%w: %s", err, p)
	}
	if !known {
		lease = s.c.lease
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, true, nil
	}
	if err != nil {
		return false, false, err
	}
	if !fi.Mode().IsRegular() {
		return false, false, fmt.Errorf("%w: %s is not a regular file", errSpecForeign, p)
	}
	now := s.c.mono()
	r, ok := s.seen[name]
	if !ok || !r.mtime.Equal(fi.ModTime()) || r.size != fi.Size() {
		r = sighting{fi.ModTime(), fi.Size(), now}
		s.seen[name] = r
	}
	if forever {
		return false, false, nil
	}
	return now-r.first >= lease, false, nil
}

// scan is rule S: the tickets of the live entries other than own, and
// whether own was listed.
func (s *specScan) scan(own string) (live []int32, ownSeen bool, err error) {
	ents, err := os.ReadDir(s.c.dir)
	if err != nil {
		return nil, false, err
	}
	for _, d := range ents {
		name := d.Name()
		switch {
		case name == own:
			ownSeen = true
			continue
		case d.IsDir(), strings.HasPrefix(name, ".nfs"), strings.HasPrefix(name, ".fuse_hidden"):
			continue
		}
		ticket, ok := parseName(name)
		if !ok || !d.Type().IsRegular() {
			return nil, false, fmt.Errorf("%w: %s", errSpecForeign, name)
		}
		stale, gone, err := s.staleNow(name)
		if err == nil && stale { // J4: fresh revalidation, then J5
			stale, gone, err = s.staleNow(name)
			if err == nil && stale {
				if rerr := os.Remove(filepath.Join(s.c.dir, name)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
					return nil, false, rerr
				}
				delete(s.seen, name)
				continue
			}
		}
		if err != nil {
			return nil, false, err
		}
		if !gone {
			live = append(live, ticket)
		}
	}
	return live, ownSeen, nil
}

// heartbeat is H1.
func (c *specContender) heartbeat() {
	defer close(c.hbDone)
	overdue := c.lease * 3 / 4
	next := time.Duration((0.4 + 0.1*c.rngFloat()) * float64(c.lease))
	for {
		last := time.Duration(c.lastOK.Load())
		select {
		case <-c.stop:
			return
		case <-time.After(max(last+next-c.mono(), 0)):
		}
		start := c.mono()
		if start-last >= overdue {
			c.late.Store(true)
			c.lost.Store(true)
			return
		}
		now := time.Now()
		err := os.Chtimes(c.path, now, now)
		switch {
		case err == nil:
			c.lastOK.Store(int64(start))
			next = time.Duration((0.4 + 0.1*c.rngFloat()) * float64(c.lease))
		case errors.Is(err, fs.ErrNotExist):
			c.lost.Store(true)
			return
		default: // retry lease/16 later, never past the overdue point
			next = min(start-last+c.lease/16, overdue)
		}
	}
}

var rngMu sync.Mutex

func (c *specContender) rngFloat() float64 { return float64(c.rand64()>>11) / (1 << 53) }

func (c *specContender) rand64() uint64 {
	rngMu.Lock()
	defer rngMu.Unlock()
	return c.rng.Uint64()
}

func (c *specContender) stopHeartbeat() {
	close(c.stop)
	<-c.hbDone
}

// Lock is rules C0-C4.
func (c *specContender) Lock(ctx context.Context) error {
	if err := os.MkdirAll(c.dir, 0o777); err != nil { // C0
		return err
	}
	s := &specScan{c: c, seen: map[string]sighting{}}
	delay := time.Duration(0)
	backoff := func() error { // B
		delay = min(max(2*delay, time.Millisecond), 10*time.Millisecond)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay/2 + time.Duration(c.rngFloat()*float64(delay/2))):
			return nil
		}
	}
	for round := 0; ; round++ {
		if round > 0 { // C1
			live, _, err := s.scan("")
			if err != nil {
				return err
			}
			if len(live) > 0 {
				if err := backoff(); err != nil {
					return err
				}
				continue
			}
		}
		// C2
		ticket := int32(uint32(c.rand64() >> 32))
		name := fmt.Sprintf("spec_%d_%016x.%d", os.Getpid(), c.rand64(), ticket)
		c.path = filepath.Join(c.dir, name)
		c.lastOK.Store(int64(c.mono()))
		c.lost.Store(false)
		c.late.Store(false)
		content := strconv.FormatFloat(c.lease.Seconds(), 'f', -1, 64)
		if err := os.WriteFile(c.path, []byte(content), 0o666); err != nil {
			os.Remove(c.path)
			return err
		}
		c.stop, c.hbDone = make(chan struct{}), make(chan struct{})
		go c.heartbeat()
		withdraw := func() error {
			c.stopHeartbeat()
			if err := os.Remove(c.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		}
		// C3: settle 0 on a local filesystem. C4:
	check:
		for {
			live, ownSeen, err := s.scan(name)
			switch {
			case err != nil:
				return errors.Join(err, withdraw())
			case !ownSeen:
				c.stopHeartbeat()
				break check
			case c.lost.Load() || c.mono()-time.Duration(c.lastOK.Load()) >= c.lease*3/4:
				if err := withdraw(); err != nil {
					return err
				}
				break check
			case len(live) == 0:
				return nil // held
			}
			for _, t := range live {
				if t >= ticket {
					if err := withdraw(); err != nil {
						return err
					}
					break check
				}
			}
			if err := backoff(); err != nil {
				return errors.Join(err, withdraw())
			}
		}
		if err := backoff(); err != nil {
			return err
		}
	}
}

// Unlock is U1.
func (c *specContender) Unlock() error {
	c.stopHeartbeat()
	err := os.Remove(c.path)
	if c.lost.Load() {
		return errors.Join(errors.New("lock was lost"), err)
	}
	return err
}

// skipSpecOnWindows: the independent contender uses the os package, whose
// Windows opens share neither deletion (os.ReadFile, os.Remove) nor, in
// os.Chtimes, reading: it and the library refuse each other's opens while
// they overlap (ERROR_SHARING_VIOLATION), which it takes as fatal, as
// cryolock 1.x on Windows would. Interoperation with it is not claimed
// there.
func skipSpecOnWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the os-package contender's Windows opens do not share deletion or reading with the library's (see skipSpecOnWindows)")
	}
}

// TestSpecContenderExcludesLibrary: contenders written from PROTOCOL.md and
// library Locks take turns on one directory, each incrementing a counter
// non-atomically inside the lock; no hold may overlap and no update be lost.
func TestSpecContenderExcludesLibrary(t *testing.T) {
	skipSpecOnWindows(t)
	dir := filepath.Join(t.TempDir(), "mixed.cryolock")
	counter := filepath.Join(t.TempDir(), "counter")
	const each, per = 100, 3
	lease := 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var (
		mu  sync.Mutex
		all []locktest.Interval
		wg  sync.WaitGroup
	)
	run := func(name string, lk locktest.Locker) {
		defer wg.Done()
		iv, err := locktest.Run(ctx, lk, locktest.Options{N: each, Counter: counter, Worker: name})
		mu.Lock()
		all = append(all, iv...)
		mu.Unlock()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for i := 0; i < per; i++ {
		l, err := protocol.New(dir, protocol.WithLease(lease))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go run(fmt.Sprintf("lib%d", i), l)
		go run(fmt.Sprintf("spec%d", i), newSpecContender(dir, lease, uint64(i)))
	}
	wg.Wait()
	if ov := locktest.Check(all); len(ov) > 0 {
		t.Fatalf("%d overlapping holds, first: %+v", len(ov), ov[0])
	}
	n, err := locktest.ReadCounter(counter)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * per * each; n != want || len(all) != want {
		t.Fatalf("counter %d, holds %d, want %d", n, len(all), want)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("entries left behind: %v", ents)
	}
}

// TestSpecContenderReapsAndIsReaped: each side breaks the other's stale entry
// (a crashed contender: an entry nobody refreshes) and neither touches a
// live one or a foreign file. A side that gets in beside a holder is a
// violation unless the holder's heartbeat was starved past its deadline on a
// loaded machine (then the test skips; package sim checks the timing).
func TestSpecContenderReapsAndIsReaped(t *testing.T) {
	t.Parallel()
	skipSpecOnWindows(t)
	const lease = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// A dead library-made entry is reaped by the spec contender.
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "host_1_aaaaaaaaaaaa.-7")
	if err := os.WriteFile(dead, []byte("1"), 0o666); err != nil {
		t.Fatal(err)
	}
	sc := newSpecContender(dir, lease, 1)
	begin := time.Now()
	if err := sc.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("dead entry not reaped: %v", err)
	}
	if d := time.Since(begin); d < lease {
		t.Fatalf("reaped after %v, before a whole lease", d)
	}
	// While the spec contender holds, the library must not get in: it
	// tries for two leases, long enough to reap an entry nobody refreshes.
	l, err := protocol.New(dir, protocol.WithLease(lease))
	if err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 2*lease)
	err = l.Lock(tctx)
	tcancel()
	if err == nil {
		l.Unlock()
		specStarvedOrFail(t, sc, lease, "the library got in while the spec contender held")
	}
	if err := sc.Unlock(); err != nil {
		specStarvedOrFail(t, sc, lease, fmt.Sprintf("the spec contender's Unlock failed (%v)", err))
	}

	// A dead spec-made entry is reaped by the library.
	dir2 := filepath.Join(t.TempDir(), "b.cryolock")
	sc2 := newSpecContender(dir2, lease, 2)
	if err := sc2.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	sc2.stopHeartbeat() // "crash": the entry stays, nobody refreshes it
	l2, err := protocol.New(dir2, protocol.WithLease(lease))
	if err != nil {
		t.Fatal(err)
	}
	hold, err := l2.LockContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Unlock()
	if _, err := os.Stat(sc2.path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("crashed spec entry not reaped: %v", err)
	}
	// The spec contender must not get in while the library holds, and must
	// leave a foreign file alone.
	foreign := filepath.Join(dir2, "notes.txt")
	if err := os.WriteFile(foreign, []byte("3"), 0o666); err != nil {
		t.Fatal(err)
	}
	sc3 := newSpecContender(dir2, lease, 3)
	if err := sc3.Lock(ctx); !errors.Is(err, errSpecForeign) {
		t.Fatalf("spec contender with a foreign file present: %v, want a foreign-entry error", err)
	}
	if err := os.Remove(foreign); err != nil {
		t.Fatal(err)
	}
	tctx, tcancel = context.WithTimeout(ctx, 2*lease)
	err = sc3.Lock(tctx)
	tcancel()
	if err == nil {
		sc3.Unlock()
		starvedOrFail(t, hold, lease, "the spec contender got in while the library held")
	}
	if hold.Err() != nil {
		starvedOrFail(t, hold, lease, "the library lost its lock")
	}
}

// specStarvedOrFail is starvedOrFail for a spec contender that held: being
// broken is allowed only if its heartbeat found itself overdue (H1) first.
func specStarvedOrFail(t *testing.T, c *specContender, lease time.Duration, what string) {
	t.Helper()
	select {
	case <-c.hbDone:
	case <-time.After(lease + 10*time.Second):
		t.Fatalf("%s, and the spec contender's heartbeat never noticed", what)
	}
	if !c.late.Load() {
		t.Fatalf("%s while the spec contender's heartbeat ran (lost: %v)", what, c.lost.Load())
	}
	t.Skipf("%s: the spec contender's heartbeat was starved for 3/4 of its %v lease on this loaded machine; the timing property is checked in virtual time by package sim", what, lease)
}
