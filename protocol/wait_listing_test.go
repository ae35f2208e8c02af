package protocol

import (
	"context"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// virtualEnv is an Env whose clock moves only when the one goroutine that
// uses it sleeps: a sleep returns at once, the clock advanced by its length.
// Events registered with at run when the clock passes their time.
type virtualEnv struct {
	mono   time.Duration
	base   time.Time
	rnd    *rand.Rand
	events []virtualEvent
}

type virtualEvent struct {
	t time.Duration
	f func()
}

func newVirtualEnv(seed uint64) *virtualEnv {
	return &virtualEnv{base: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), rnd: rand.New(rand.NewPCG(seed, seed))}
}

func (e *virtualEnv) at(t time.Duration, f func()) { e.events = append(e.events, virtualEvent{t, f}) }

func (e *virtualEnv) Now() time.Time      { return e.base.Add(e.mono) }
func (e *virtualEnv) Mono() time.Duration { return e.mono }
func (e *virtualEnv) Uint64() uint64      { return e.rnd.Uint64() }
func (e *virtualEnv) Process() (string, int) {
	return "virtual", 1
}

// AfterFunc never runs f: the holds of these tests are shorter than a
// heartbeat period.
func (e *virtualEnv) AfterFunc(time.Duration, func()) func() bool { return func() bool { return true } }

func (e *virtualEnv) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mono += max(d, 0)
	rest := e.events[:0]
	for _, ev := range e.events {
		if ev.t <= e.mono {
			ev.f()
		} else {
			rest = append(rest, ev)
		}
	}
	e.events = rest
	return ctx.Err()
}

// TestUnwatchedListingRate: a waiter on a filesystem that cannot be watched
// (an FS that offers no watch: a network filesystem, or NoWatch) lists the
// lock directory at most twice a second after its first second of waiting,
// and still notices a release within its backoff ceiling: DefaultIdleBackoff
// with the default MaxBackoff, or an explicit MaxBackoff (as the probe may
// recommend) when one is set. Virtual time: no timing in the verdict.
func TestUnwatchedListingRate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      []Option
		maxRate   float64       // listings per second per waiter, after the first second
		maxNotice time.Duration // from the release to the acquisition
	}{
		{"default", nil, 2, DefaultIdleBackoff},
		{"explicit MaxBackoff", []Option{WithBackoff(time.Millisecond, 100*time.Millisecond)}, 30, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const (
				waitFor = 120 * time.Second // the holder holds this long
				first   = time.Second       // listings of the first second are not counted
			)
			path := filepath.Join(t.TempDir(), "u.cryolock")
			if err := os.MkdirAll(path, 0o777); err != nil {
				t.Fatal(err)
			}
			// A holder (of another host, say) whose lease never runs out.
			holder := filepath.Join(path, "holder.5")
			if err := os.WriteFile(holder, []byte("None"), 0o666); err != nil {
				t.Fatal(err)
			}
			env := newVirtualEnv(1)
			cfs := &countingFS{FS: OSFS()} // no watch
			var atFirst int64
			env.at(first, func() { atFirst = cfs.n.Load() })
			var released time.Duration
			var atRelease int64
			env.at(waitFor, func() {
				released, atRelease = waitFor, cfs.n.Load()
				if err := os.Remove(holder); err != nil {
					t.Error(err)
				}
			})
			l, err := New(path, append([]Option{WithFS(cfs), WithEnv(env)}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			env.at(waitFor+time.Hour, cancel) // a waiter that never notices fails, not hangs
			if err := l.Lock(ctx); err != nil {
				t.Fatalf("Lock: %v", err)
			}
			got := env.mono
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}
			rate := float64(atRelease-atFirst) / (released - first).Seconds()
			t.Logf("%.2f listings/s while waiting; release noticed after %v", rate, got-released)
			if rate > tc.maxRate {
				t.Errorf("a waiter on an unwatched filesystem listed %.2f times a second, want ≤ %v", rate, tc.maxRate)
			}
			if got-released > tc.maxNotice {
				t.Errorf("the release was noticed after %v, want ≤ %v", got-released, tc.maxNotice)
			}
		})
	}
}

// listingFS answers ReadDir with the listing the test sets.
type listingFS struct {
	FS
	ents []DirEntry
}

func (f *listingFS) ReadDir(Dir) ([]DirEntry, error) { return f.ents, nil }

// TestWaiterMemoryFollowsListing: what a Lock value remembers of waiters
// (their marks, and when it first listed each waiter: rule Y's patience)
// is what the latest listing shows. A waiter's renewed mark keeps its
// first sighting; a waiter whose marks are gone is forgotten, so the memory
// is bounded by the directory.
func TestWaiterMemoryFollowsListing(t *testing.T) {
	env := newVirtualEnv(1)
	fsys := &listingFS{}
	l := &Lock{}
	l.cfg.FS, l.cfg.Env = fsys, env
	l.cfg.MaxBackoff = time.Second
	a := l.newAttempt(nil)
	mark := func(owner string, n int) DirEntry {
		return DirEntry{Name: wakePrefix + owner + "." + strconv.Itoa(n), Type: fs.ModeDir}
	}
	list := func(ents ...DirEntry) {
		t.Helper()
		fsys.ents = ents
		if _, err := a.scan(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		env.mono += 100 * time.Millisecond
	}
	list(mark("a_1_aaaaaaaaaaaa", 1), mark("b_1_bbbbbbbbbbbb", 1))
	list(mark("a_1_aaaaaaaaaaaa", 2), mark("b_1_bbbbbbbbbbbb", 1))
	if got := a.waitersSince["a_1_aaaaaaaaaaaa"]; got != 0 || len(a.waitersSince) != 2 {
		t.Fatalf("after a's renewal: waiters %v, want a and b, a first listed at 0", a.waitersSince)
	}
	list(mark("b_1_bbbbbbbbbbbb", 2))
	if _, ok := a.waitersSince["a_1_aaaaaaaaaaaa"]; ok || len(a.waitersSince) != 1 || len(a.marks) != 1 {
		t.Fatalf("a's marks gone: waiters %v, marks %v; want only b and its latest mark", a.waitersSince, a.marks)
	}
	list()
	if len(a.waitersSince) != 0 || len(a.marks) != 0 {
		t.Fatalf("no marks listed: waiters %v, marks %v; want none", a.waitersSince, a.marks)
	}
}
