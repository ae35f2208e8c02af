package protocol_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

// fenceWriteHook runs hook once, just before the first write of a fencing
// file.
type fenceWriteHook struct {
	protocol.FS
	once sync.Once
	hook func()
}

func (f *fenceWriteHook) WriteFile(d protocol.Dir, name string, b []byte, perm os.FileMode) error {
	if strings.HasPrefix(name, "fence") {
		f.once.Do(f.hook)
	}
	return f.FS.WriteFile(d, name, b, perm)
}

// TestFencingPausedWriter: a contender paused after reading the counter and
// before writing its token, reaped meanwhile, while three others hold one
// after another, writes its (now low) token when it resumes. That write must
// not take the counter back: the next holder's token is greater than all
// three, and ReadFence never decreases. (With two overwritten slots it
// wrote over the greatest, and the next holder got the third's token again.)
func TestFencingPausedWriter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p.cryolock")
	ctx := ctxT(t, time.Minute)
	fence := protocol.WithFencing(protocol.FencingSlots)
	var tokens []uint64
	var before uint64
	f := &fenceWriteHook{FS: protocol.OSFS()}
	f.hook = func() {
		// The paused contender's entry is reaped (as a stale one would
		// be, a lease later), and three holders take their turns.
		for _, n := range locktest.Names(t, dir) {
			if n != protocol.MetaDir {
				os.Remove(filepath.Join(dir, n))
			}
		}
		for range 3 {
			x := newLock(t, dir, fence)
			if err := x.Lock(ctx); err != nil {
				t.Error(err)
				return
			}
			tokens = append(tokens, x.Token())
			if err := x.Unlock(); err != nil {
				t.Error(err)
			}
		}
		before, _ = protocol.ReadFence(nil, dir)
	}
	a := newLock(t, dir, fence, protocol.WithFS(f))
	if ok, err := a.TryLock(ctx); ok {
		a.Unlock()
		t.Error("the paused contender's hold was confirmed though its entry was reaped")
	} else if err != nil {
		t.Fatal(err)
	}
	after, err := protocol.ReadFence(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	if after < before {
		t.Errorf("ReadFence went back from %d to %d after the paused contender's write", before, after)
	}
	e := newLock(t, dir, fence)
	if err := e.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	tokens = append(tokens, e.Token())
	e.Unlock()
	for i := 1; i < len(tokens); i++ {
		if tokens[i] <= tokens[i-1] {
			t.Errorf("tokens of successive holders %v: the %d-th is not greater than the one before", tokens, i+1)
		}
	}
}
