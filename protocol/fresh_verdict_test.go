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

// frozenStatFS answers Stat of every name with the answer of its first
// Stat, as an attribute cache that is never revalidated would; ReadFile
// (which opens the file, and so revalidates on NFS) describes the file as
// it is.
type frozenStatFS struct {
	FS
	mu     sync.Mutex
	frozen map[string]FileInfo
}

func (f *frozenStatFS) Stat(d Dir, name string) (FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fi, ok := f.frozen[name]; ok {
		return fi, nil
	}
	fi, err := f.FS.Stat(d, name)
	if err == nil {
		f.frozen[name] = fi
	}
	return fi, err
}

// TestReapHeedsFreshVerdict (rule J4, T4): an entry whose stat says it has
// not changed for its whole lease is judged once more from a fresh read
// and its own stat before it is reaped, and that verdict is the one that
// counts. The holder here refreshes its entry every 250 ms, but the
// waiter's stats come from a cache that never revalidates: its first
// verdict is "stale" a lease after its first stat; the fresh sighting shows
// the refreshed mtime. The waiter must keep waiting, never reap the live
// holder. Virtual time, one goroutine: no timing in the verdict. It is the
// unit check of the mutants second-verdict-ignored and
// no-fresh-revalidation (docs/MUTANTS.md).
func TestReapHeedsFreshVerdict(t *testing.T) {
	for _, rule := range []stale.Rule{stale.Observed, stale.WallClock} {
		t.Run(rule.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.cryolock")
			if err := os.Mkdir(path, 0o777); err != nil {
				t.Fatal(err)
			}
			env := newVirtualEnv(1)
			holder := filepath.Join(path, "holder_1_aaaaaaaaaaaa.5")
			if err := os.WriteFile(holder, []byte("2"), 0o666); err != nil { // a 2 s lease
				t.Fatal(err)
			}
			refresh := func() {
				if err := os.Chtimes(holder, env.Now(), env.Now()); err != nil {
					t.Error(err)
				}
			}
			refresh()
			const (
				period = 250 * time.Millisecond
				until  = 30 * time.Second // 15 leases
			)
			for at := period; at < until; at += period {
				env.at(at, refresh)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			env.at(until, cancel)
			fsys := &frozenStatFS{FS: OSFS(), frozen: make(map[string]FileInfo)}
			l, err := New(path, WithFS(fsys), WithEnv(env), WithStaleRule(rule), WithLease(2*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			err = l.Lock(ctx)
			if err == nil {
				l.Unlock()
			}
			if _, serr := os.Stat(holder); serr != nil {
				t.Fatalf("the live holder's entry was reaped (its stats were cached; a fresh read showed its refreshes): %v; Lock: %v", serr, err)
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Lock beside a live holder: %v, want it to wait until cancelled", err)
			}
			fsys.mu.Lock()
			_, stated := fsys.frozen[filepath.Base(holder)]
			fsys.mu.Unlock()
			if !stated {
				t.Fatal("the waiter never stat'ed the holder's entry: the test does not exercise a cached stat")
			}
		})
	}
}
