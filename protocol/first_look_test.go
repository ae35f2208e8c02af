package protocol

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/stale"
)

// opLogFS records, for one entry name, which of Stat, ReadFile and Remove
// touched it, in order, with the virtual time of each. Wrapping the FS
// hides the directory watch, so the contender polls through Env.Sleep.
type opLogFS struct {
	FS
	name string // the entry's name
	path string // and its path
	env  *virtualEnv
	mu   sync.Mutex
	ops  []string
	at   []time.Duration
}

func (f *opLogFS) log(name, op string) {
	if name != f.name {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
	f.at = append(f.at, f.env.Mono())
}

func (f *opLogFS) Stat(d Dir, name string) (FileInfo, error) {
	f.log(name, "stat")
	return f.FS.Stat(d, name)
}

func (f *opLogFS) ReadFile(d Dir, name string) ([]byte, FileInfo, error) {
	f.log(name, "read")
	return f.FS.ReadFile(d, name)
}

func (f *opLogFS) Remove(d Dir, name string) error {
	f.log(name, "remove")
	return f.FS.Remove(d, name)
}

// first returns the first op on the entry and when op first happened (-1
// if never).
func (f *opLogFS) first(op string) (string, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at := time.Duration(-1)
	for i, o := range f.ops {
		if o == op {
			at = f.at[i]
			break
		}
	}
	if len(f.ops) == 0 {
		return "", at
	}
	return f.ops[0], at
}

// firstLookRun is one contender (lease 2 s, the given rule) in a directory
// holding one other entry, name with content, whose mtime never changes;
// Lock (or TryLock, with try) runs in virtual time until cancelled at until.
func firstLookRun(t *testing.T, rule stale.Rule, name, content string, try bool, until time.Duration) (*opLogFS, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "j.cryolock")
	if err := os.Mkdir(path, 0o777); err != nil {
		t.Fatal(err)
	}
	env := newVirtualEnv(1)
	p := filepath.Join(path, name)
	if err := os.WriteFile(p, []byte(content), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, env.Now(), env.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env.at(until, cancel)
	fsys := &opLogFS{FS: OSFS(), name: name, path: p, env: env}
	l, err := New(path, WithFS(fsys), WithEnv(env), WithStaleRule(rule), WithLease(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if try {
		var ok bool
		ok, err = l.TryLock(ctx)
		if ok {
			l.Unlock()
			t.Fatalf("TryLock beside %s (%q) held at once", name, content)
		}
	} else if err = l.Lock(ctx); err == nil {
		l.Unlock()
	}
	return fsys, err
}

// TestFirstLookStats (rule J0): a waiter's first sighting of another's
// entry under Observed is a stat, not a read — it cannot be stale, whatever
// the lease — and the lease is read at a later judging, before any verdict
// could count it: a holder whose entry says 20 s is not reaped by a waiter
// whose own lease is 2 s until it has watched it unchanged for 20 s. TryLock
// and WallClock (where a first sighting can be stale) read at once. Content
// no contender wrote is ErrForeign for Lock too, at its later read.
// Virtual time, one goroutine: no timing in the verdicts.
func TestFirstLookStats(t *testing.T) {
	const holder = "holder_1_aaaaaaaaaaaa.5"
	t.Run("Lock under Observed", func(t *testing.T) {
		fsys, err := firstLookRun(t, stale.Observed, holder, "20", false, 60*time.Second)
		if err != nil {
			t.Fatalf("Lock beside a holder that stopped refreshing: %v; want it reaped after its 20 s lease", err)
		}
		first, readAt := fsys.first("read")
		_, removedAt := fsys.first("remove")
		if first != "stat" {
			t.Errorf("the first look at the holder's entry was a %s, want a stat (J0); ops %v", first, fsys.ops)
		}
		if readAt < 0 || removedAt < 0 || readAt > time.Second {
			t.Errorf("the entry was read at %v and reaped at %v; want it read within half the contender's lease (1 s; J1 looks again after 250 ms), then reaped", readAt, removedAt)
		}
		if removedAt < 20*time.Second {
			t.Errorf("the holder's entry (lease 20 s) was reaped after %v of watching: its own lease was not heeded", removedAt)
		}
	})
	for _, tc := range []struct {
		name string
		rule stale.Rule
		try  bool
	}{{"TryLock", stale.Observed, true}, {"WallClock", stale.WallClock, false}} {
		t.Run(tc.name+" reads at once", func(t *testing.T) {
			fsys, _ := firstLookRun(t, tc.rule, holder, "20", tc.try, 10*time.Second)
			if first, _ := fsys.first("read"); first != "read" {
				t.Errorf("the first look at the holder's entry was a %s, want a read; ops %v", first, fsys.ops)
			}
		})
	}
	for _, try := range []bool{false, true} {
		t.Run("foreign content", func(t *testing.T) {
			const junk = "junk_1_aaaaaaaaaaaa.5"
			fsys, err := firstLookRun(t, stale.Observed, junk, "not a lease", try, time.Minute)
			if !errors.Is(err, ErrForeign) {
				t.Fatalf("try=%v: beside an entry holding junk: %v; want ErrForeign", try, err)
			}
			if _, at := fsys.first("read"); at > time.Second {
				t.Errorf("try=%v: the junk was read only after %v; want within half the contender's lease (1 s)", try, at)
			}
			if _, err := os.Stat(fsys.path); err != nil {
				t.Errorf("try=%v: the junk entry is gone (the library never removes what it did not prove stale): %v", try, err)
			}
		})
	}
}
