package protocol_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"

	"github.com/cryolock-go/cryolock/protocol"
)

// wakeFS records the directories made and removed in the lock directory.
type wakeFS struct {
	protocol.FS
	mu           sync.Mutex
	made, gone   []string
	listsAfterRm int // listings that followed a removal of a wake directory
	lists        int
	pending      bool
}

func (w *wakeFS) OpenDir(parent protocol.Dir, name string, create bool, perm os.FileMode) (protocol.Dir, error) {
	if parent != nil && create {
		w.mu.Lock()
		w.made = append(w.made, name)
		w.mu.Unlock()
	}
	return w.FS.OpenDir(parent, name, create, perm)
}

func (w *wakeFS) Remove(d protocol.Dir, name string) error {
	err := w.FS.Remove(d, name)
	if strings.HasPrefix(name, ".cryolock-wake-") && err == nil {
		w.mu.Lock()
		w.gone = append(w.gone, name)
		w.pending = true
		w.mu.Unlock()
	}
	return err
}

func (w *wakeFS) ReadDir(d protocol.Dir) ([]protocol.DirEntry, error) {
	w.mu.Lock()
	w.lists++
	if w.pending {
		w.listsAfterRm++
		w.pending = false
	}
	w.mu.Unlock()
	return w.FS.ReadDir(d)
}

// TestWaiterRefreshesView: where listings are cached (a settle) and nothing
// is watched, a waiter makes and removes a wake subdirectory after each
// backoff, before it lists again (docs/PROOF.md §4, hand-off), and leaves
// none behind; with settle 0 a reader makes none (a mutex waiter keeps its
// mark there too: TestWaiterMark).
func TestWaiterRefreshesView(t *testing.T) {
	for _, settle := range []time.Duration{10 * time.Millisecond, 0} {
		dir := filepath.Join(t.TempDir(), "x.cryolock")
		holder, err := protocol.New(dir, protocol.WithLease(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := holder.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		w := &wakeFS{FS: protocol.OSFS()}
		opts := []protocol.Option{protocol.WithLease(10 * time.Second), protocol.WithSettle(settle),
			protocol.WithBackoff(time.Millisecond, 5*time.Millisecond), protocol.WithFS(w),
			protocol.WithoutWatch()}
		if settle == 0 {
			opts = append(opts, protocol.WithShared())
		}
		waiter, err := protocol.New(dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		// The waiter waits until it has refreshed and listed after it, or
		// (with settle 0, where it must not) for 20 backoffs' worth of
		// listings.
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			defer cancel()
			for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				w.mu.Lock()
				enough := w.listsAfterRm > 0 || w.lists >= 20
				w.mu.Unlock()
				if enough {
					return
				}
			}
		}()
		err = waiter.Lock(ctx)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("settle %v: Lock while held: %v, want it cancelled", settle, err)
		}
		if err := holder.Unlock(); err != nil {
			t.Fatal(err)
		}
		w.mu.Lock()
		made, gone, after := len(w.made), len(w.gone), w.listsAfterRm
		w.mu.Unlock()
		if settle > 0 && (made == 0 || gone != made || after == 0) {
			t.Errorf("settle %v: %d wake directories made, %d removed, %d listings after one; want some, all removed, each followed by a listing", settle, made, gone, after)
		}
		if settle == 0 && made != 0 {
			t.Errorf("settle 0: %d wake directories made; want none (listings are not cached)", made)
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".cryolock-wake-") {
				t.Errorf("left behind: %s", e.Name())
			}
		}
	}
}

// TestWaiterMark: a mutex waiter of a directory that cannot be watched keeps
// one mark (a .cryolock-wake- subdirectory) in the lock directory while it
// polls without an entry — a new one after each sleep, the previous
// removed — even where listings are not cached (settle 0), and none is left
// when its Lock ends.
func TestWaiterMark(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m.cryolock")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	// A live holder with the highest ticket: the waiter's blind first entry
	// withdraws (C4.5) and it polls without an entry, as a waiter does.
	if err := os.WriteFile(filepath.Join(dir, blockerName), []byte("None"), 0o666); err != nil {
		t.Fatal(err)
	}
	marks := func() []string {
		var out []string
		for _, n := range locktest.Names(t, dir) {
			if strings.HasPrefix(n, ".cryolock-wake-") {
				out = append(out, n)
			}
		}
		return out
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []int
	names := map[string]bool{}
	env := &sleepEnv{Env: protocol.OSEnv(), onSleep: func(n int) {
		m := marks()
		seen = append(seen, len(m))
		for _, x := range m {
			names[x] = true
		}
		if n == 12 {
			cancel()
		}
	}}
	waiter, err := protocol.New(dir, protocol.WithEnv(env), protocol.WithoutWatch(),
		protocol.WithBackoff(time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := waiter.Lock(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock while held: %v, want it cancelled", err)
	}
	// The first sleeps come before the first mark (the blind entry's
	// withdrawal); from the first mark on, exactly one at every sleep.
	first := -1
	for i, n := range seen {
		if n > 0 && first < 0 {
			first = i
		}
		if first >= 0 && n != 1 {
			t.Errorf("sleep %d: %d marks in the lock directory, want 1 (%v)", i+1, n, seen)
		}
	}
	if first < 0 || len(names) < 3 {
		t.Errorf("marks at the sleeps: %v, %d names in all; want one at each sleep after the first ones, renewed", seen, len(names))
	}
	if m := marks(); len(m) != 0 {
		t.Errorf("left behind after Lock ended: %v", m)
	}
}

// TestUnwatchedReleaserStandsAside: on a directory that cannot be watched a
// waiter polls, so a process that takes the lock again the moment it
// releases it would always find it free (bench kind cryolock-unwatched: one
// process took nearly every acquisition). A value whose acquisition listed
// a waiter's fresh mark stands aside for a poll (its backoff ceiling plus
// the settle) before it takes the lock again; a mark it has listed for
// longer than two polls of the default ceiling is a crashed waiter's and
// is ignored. The mark here is planted (a waiter that never comes back);
// time is the Env's, moved by hand.
func TestUnwatchedReleaserStandsAside(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s.cryolock")
	if err := os.MkdirAll(filepath.Join(dir, ".cryolock-wake-planted"), 0o777); err != nil {
		t.Fatal(err)
	}
	env := &shiftEnv{Env: protocol.OSEnv()}
	l, err := protocol.New(dir, protocol.WithEnv(env), protocol.WithoutWatch(),
		protocol.WithBackoff(time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	cycle := func() []time.Duration {
		t.Helper()
		env.sleeps = nil
		if err := l.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
		return env.sleeps
	}
	if s := cycle(); len(s) != 0 {
		t.Fatalf("first acquisition slept %v; want none (it had seen no mark before)", s)
	}
	// The mark stays fresh and no entry appears: it stands aside for the
	// whole poll (its ceiling), listing now and then; then its look finds
	// the lock free, and the waiter, listed for a poll already, came
	// first: rule Y lets it go first for another poll (a waiter that
	// stopped polling costs a contender this much while its mark is fresh).
	s := cycle()
	var aside time.Duration
	i := 0
	for ; i < len(s) && aside < 20*time.Millisecond; i++ {
		aside += s[i]
	}
	if aside != 20*time.Millisecond || i < 2 || sum(s[i:]) < 20*time.Millisecond || sum(s[i:]) > 40*time.Millisecond {
		t.Fatalf("after an acquisition that listed a fresh mark: slept %v; want 20ms in several sleeps standing aside, then 20-40ms yielding (rule Y)", s)
	}
	// Two polls of the default ceiling (1 s) later the mark, unchanged,
	// is a crashed waiter's.
	env.shift(2*time.Second + time.Millisecond)
	if s := cycle(); len(s) != 1 {
		t.Fatalf("with the mark gone stale: slept %v, want one sleep (its first look shows no fresh mark)", s)
	}
	if s := cycle(); len(s) != 0 {
		t.Fatalf("with only a stale mark listed: slept %v, want none", s)
	}
	if _, err := os.Stat(filepath.Join(dir, ".cryolock-wake-planted")); err != nil {
		t.Errorf("the planted mark: %v; a mark is never removed by anyone but its maker", err)
	}
	// Standing aside it showed itself as a waiter with marks of its own,
	// and removed the last one when it entered.
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 1 {
		t.Errorf("left in the lock directory: %v (%v), want only the planted mark", ents, err)
	}
}

// shiftEnv is the OS's Env with a virtual monotonic clock: it moves only by
// the sleeps (which are recorded, and return at once) and by hand.
type shiftEnv struct {
	protocol.Env
	mono   time.Duration
	sleeps []time.Duration
}

func (e *shiftEnv) shift(d time.Duration) { e.mono += d }
func (e *shiftEnv) Mono() time.Duration   { return e.mono }
func (e *shiftEnv) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		e.sleeps = append(e.sleeps, d)
		e.mono += d
	}
	return ctx.Err()
}

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

// hookEnv is shiftEnv with a function run after every sleep: the test's
// other parties act there, between two looks of the contender.
type hookEnv struct {
	shiftEnv
	onSleep func()
}

func (e *hookEnv) Sleep(ctx context.Context, d time.Duration) error {
	err := e.shiftEnv.Sleep(ctx, d)
	if e.onSleep != nil && d > 0 {
		e.onSleep()
	}
	return err
}

// virtualWaiter is a Lock value on dir that cannot watch it, backing off
// from 1 ms to ceiling in the virtual time of its hookEnv, whose next Lock
// looks before entering, as a contended one would (a call with a cancelled
// context leaves it so), and polls with a mark instead of entering blind.
func virtualWaiter(t *testing.T, dir string, ceiling time.Duration) (*protocol.Lock, *hookEnv) {
	t.Helper()
	env := &hookEnv{shiftEnv: shiftEnv{Env: protocol.OSEnv()}}
	w, err := protocol.New(dir, protocol.WithEnv(env), protocol.WithoutWatch(), protocol.WithBackoff(time.Millisecond, ceiling))
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Lock(cancelled); err == nil {
		t.Fatal("Lock with a cancelled context succeeded")
	}
	return w, env
}

// plantedWaiter plays a polling waiter of another process in dir: its
// marks, one at a time (renew makes the next and removes the previous).
type plantedWaiter struct {
	dir, owner string
	n          int
}

func (p *plantedWaiter) mark(n int) string {
	return filepath.Join(p.dir, fmt.Sprintf(".cryolock-wake-%s.%d", p.owner, n))
}

func (p *plantedWaiter) renew() {
	p.n++
	os.Mkdir(p.mark(p.n), 0o700)
	os.Remove(p.mark(p.n - 1))
}

// leave removes its mark (it took the lock, or stopped waiting).
func (p *plantedWaiter) leave() { os.Remove(p.mark(p.n)) }

// TestYieldToOlder (rule Y): on a directory that cannot be watched, a
// contender whose look finds the lock free but lists the fresh mark of a
// waiter that came first, and has been listing it for a poll (its backoff
// ceiling plus the settle) or more, lets that waiter go first — for up to
// that long again while the waiter keeps polling (renewing its mark), then
// it goes on; and when the waiter does take the lock meanwhile, the
// contender waits for its release instead of entering beside it. A waiter
// it has listed for less than a poll has lost nothing yet: the contender
// enters at once. The other parties are played by the test (a holder, a
// planted mark renewed at each of the contender's sleeps, and a Lock value
// for the waiter); time is the Env's, moved by the sleeps only.
func TestYieldToOlder(t *testing.T) {
	const ceiling = 20 * time.Millisecond
	for _, c := range []struct {
		name        string
		holdFor     int // the holder releases after this many sleeps of the contender (0: no holder)
		takeAt      int // the waiter takes the lock after this many (0: never), and releases 4 later
		wantMinWait time.Duration
	}{
		{"waiter keeps polling", 6, 0, ceiling},
		{"waiter takes its turn", 6, 8, 0},
		{"waiter listed for less than a poll", 0, 0, 0},
	} {
		dir := filepath.Join(t.TempDir(), "y.cryolock")
		if err := os.MkdirAll(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		older := &plantedWaiter{dir: dir, owner: "older_1_aaaaaaaaaaaa"}
		older.renew()
		if _, err := os.Stat(older.mark(1)); err != nil {
			t.Fatal(err)
		}
		h, err := protocol.New(dir, protocol.WithoutWatch())
		if err != nil {
			t.Fatal(err)
		}
		o, err := protocol.New(dir, protocol.WithoutWatch())
		if err != nil {
			t.Fatal(err)
		}
		if c.holdFor > 0 {
			if err := h.Lock(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		w, env := virtualWaiter(t, dir, ceiling)
		sleeps := 0
		var freed, oHeld, oReleased time.Duration
		env.onSleep = func() {
			sleeps++
			switch {
			case sleeps == c.holdFor:
				if err := h.Unlock(); err != nil {
					t.Fatal(err)
				}
				freed = env.Mono()
			case sleeps == c.takeAt:
				// The waiter that came first looks, finds the lock free
				// and takes it (its mark goes as it enters).
				if ok, err := o.TryLock(context.Background()); err != nil || !ok {
					t.Fatalf("%s: the waiter's TryLock: %v, %v", c.name, ok, err)
				}
				older.leave()
				oHeld = env.Mono()
				return
			case c.takeAt > 0 && sleeps == c.takeAt+4:
				if err := o.Unlock(); err != nil {
					t.Fatal(err)
				}
				oReleased = env.Mono()
				return
			}
			if oHeld == 0 {
				older.renew() // still polling
			}
		}
		if err := w.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		entered := env.Mono()
		if err := w.Unlock(); err != nil {
			t.Fatal(err)
		}
		switch {
		case c.takeAt > 0:
			if oHeld == 0 || entered < oReleased {
				t.Errorf("%s: the contender entered at %v; the waiter held from %v to %v: it must wait for that release", c.name, entered, oHeld, oReleased)
			}
		case c.holdFor > 0:
			if entered-freed < c.wantMinWait || entered-freed > 2*ceiling+5*time.Millisecond {
				t.Errorf("%s: entered %v after the release: want after a poll (%v) and within a poll more (sleeps %v)", c.name, entered-freed, ceiling, env.sleeps)
			}
		default:
			if entered != 0 || sleeps != 0 {
				t.Errorf("%s: entered at %v after %d sleeps, want at once", c.name, entered, sleeps)
			}
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".cryolock-wake-") && !strings.Contains(e.Name(), "older") {
				t.Errorf("%s: the contender's mark %s left behind", c.name, e.Name())
			}
		}
	}
}

// TestFirstInLineLooksOften (rule Y, rule B): on a directory that cannot be
// watched, a waiter that has waited a poll (its backoff ceiling plus the
// settle) with nobody ahead of it, while a waiter that came after it is
// listed, is first in line: the others wait for its look when the lock
// comes free, so it backs off at most an eighth of its ceiling. Alone it
// keeps the ceiling (the idle waiter's listing rate). So it does beside a
// rival that it lists only after its own first mark, as waiters that began
// at the same moment do, but whose place in line comes first (the same
// ticket in its marks, and a lower name): only one of such waiters is
// first in line (without that, 200 waiters started at once listed 1.6–2.0
// times a second each instead of 1.3). A holder keeps the lock throughout;
// the other waiter is a planted mark, first made after this one's and
// renewed at each sleep; time is the Env's, moved by the sleeps only.
func TestFirstInLineLooksOften(t *testing.T) {
	const ceiling = 40 * time.Millisecond
	for _, c := range []struct {
		name    string
		other   int  // the other waiter: 0 none, 1 behind (the next ticket), 2 a rival ahead (the same ticket, a lower name)
		looksUp bool // this one is first in line
	}{
		{"alone", 0, false},
		{"a waiter behind", 1, true},
		{"a rival ahead", 2, false},
	} {
		dir := filepath.Join(t.TempDir(), "f.cryolock")
		h, err := protocol.New(dir, protocol.WithoutWatch())
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		// (A blind entry could instead wait in its check, behind the
		// holder's lower ticket: virtualWaiter polls with a mark.)
		w, env := virtualWaiter(t, dir, ceiling)
		var other *plantedWaiter
		ctx, cancel := context.WithCancel(context.Background())
		env.onSleep = func() {
			if len(env.sleeps) >= 40 {
				cancel()
			}
			if c.other == 0 {
				return
			}
			if other == nil {
				// The other waiter's first mark comes after this one's:
				// its name is this one's (owner.ticket) with the next
				// ticket (behind), or with the owner one byte shorter
				// (ahead: a proper prefix sorts first).
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					if id, ok := strings.CutPrefix(e.Name(), ".cryolock-wake-"); ok {
						id = id[:strings.LastIndexByte(id, '.')] // the renewal's number
						i := strings.LastIndexByte(id, '.')
						owner, ticket := id[:i], id[i+1:]
						if c.other == 1 {
							n, err := strconv.Atoi(ticket)
							if err != nil {
								t.Fatalf("the mark %s has no ticket", e.Name())
							}
							other = &plantedWaiter{dir: dir, owner: fmt.Sprintf("other_1_bbbbbbbbbbbb.%d", n+1)}
						} else {
							other = &plantedWaiter{dir: dir, owner: owner[:len(owner)-1] + "." + ticket}
						}
					}
				}
				if other == nil {
					return
				}
			}
			other.renew()
		}
		if err := w.Lock(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: Lock while held: %v, want it cancelled", c.name, err)
		}
		// The sleeps after the first poll of waiting (and one more, for
		// the look that first lists the other waiter as such).
		var waited time.Duration
		var late []time.Duration
		for i, d := range env.sleeps {
			waited += d
			if waited >= ceiling+ceiling && i+1 < len(env.sleeps) {
				late = append(late, env.sleeps[i+1])
			}
		}
		if len(late) < 5 {
			t.Fatalf("%s: only %d sleeps after two polls (%v)", c.name, len(late), env.sleeps)
		}
		longest := slices.Max(late)
		if c.looksUp && longest >= ceiling/8 {
			t.Errorf("%s: first in line: slept up to %v after a poll, want under %v (%v)", c.name, longest, ceiling/8, env.sleeps)
		}
		if !c.looksUp && longest < ceiling/2 {
			t.Errorf("%s: not first in line: slept at most %v after a poll, want its ceiling's sleeps (≥ %v) (%v)", c.name, longest, ceiling/2, env.sleeps)
		}
		if err := h.Unlock(); err != nil {
			t.Fatal(err)
		}
	}
}
