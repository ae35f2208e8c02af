package protocol_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
// none behind; with settle 0 it makes none.
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
		waiter, err := protocol.New(dir, protocol.WithLease(10*time.Second), protocol.WithSettle(settle),
			protocol.WithBackoff(time.Millisecond, 5*time.Millisecond), protocol.WithFS(w),
			protocol.WithoutWatch())
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
