package protocol_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

// jumpEnv is the real environment whose monotonic clock can be moved
// forward by the test (a holder frozen for that long, as far as the
// protocol can tell), and which runs onSleep once, at the first sleep that
// is not a mere scheduling point.
type jumpEnv struct {
	protocol.Env
	jump    atomic.Int64
	once    sync.Once
	onSleep func()
}

func (e *jumpEnv) Mono() time.Duration { return e.Env.Mono() + time.Duration(e.jump.Load()) }

func (e *jumpEnv) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		e.once.Do(e.onSleep)
	}
	return e.Env.Sleep(ctx, d)
}

// verifyFS runs hook once, at the first Verify (which an attempt that
// waited calls between the check's "held" and success). Wrapping the FS in
// an interface also hides the OS filesystem's directory watch, so the
// waiter polls through Env.Sleep.
type verifyFS struct {
	protocol.FS
	once  sync.Once
	hook  func()
	calls atomic.Int32
}

func (f *verifyFS) Verify(d protocol.Dir) error {
	f.calls.Add(1)
	f.once.Do(f.hook)
	return f.FS.Verify(d)
}

// TestConfirmRefusesLostHold: a contender whose check decided "held" and
// whose hold is already known to be lost before Lock returns (here: its
// heartbeat became overdue between the check and the confirmation, as if
// it were frozen there for a lease) must not report success with Held()
// false — rule T's promise that Lock never returns nil for a hold already
// lost (docs/PROTOCOL.md). It withdraws and starts over, and the Lock that
// eventually returns nil holds. No wall-clock timing: the contender waits
// behind B's hold until its first backoff sleep releases B, and the jump of
// its monotonic clock is made inside the confirmation's Verify.
func TestConfirmRefusesLostHold(t *testing.T) {
	for _, fencing := range []bool{false, true} {
		name := "nofencing"
		if fencing {
			name = "fencing"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a.cryolock")
			ctx := ctxT(t, 30*time.Second)
			lease := 10 * time.Second
			var opts []protocol.Option
			if fencing {
				opts = append(opts, protocol.WithFencing(protocol.FencingSlots))
			}
			b := newLock(t, dir, append([]protocol.Option{protocol.WithLease(lease)}, opts...)...)
			if err := b.Lock(ctx); err != nil {
				t.Fatal(err)
			}
			released := false
			env := &jumpEnv{Env: protocol.OSEnv()}
			env.onSleep = func() {
				// A has entered (or looked), seen B's live entry and
				// backs off: B releases, so A's next check holds.
				if err := b.Unlock(); err != nil {
					t.Error(err)
				}
				released = true
			}
			jumped := false
			fsys := &verifyFS{FS: protocol.OSFS()}
			fsys.hook = func() {
				// Between "held" and success: A's heartbeat is now a
				// whole lease old (overdue at 0.75 × lease), so A's hold
				// is known lost.
				env.jump.Add(int64(lease))
				jumped = true
			}
			a := newLock(t, dir, append([]protocol.Option{protocol.WithLease(lease), protocol.WithEnv(env), protocol.WithFS(fsys),
				protocol.WithBackoff(time.Millisecond, 2*time.Millisecond)}, opts...)...)
			err := a.Lock(ctx)
			if !released || !jumped {
				t.Fatalf("the scenario did not happen: B released %v, A's clock jumped in Verify %v (Lock: %v)", released, jumped, err)
			}
			if err != nil {
				// Refusing with an error is allowed; success on a lost hold is not.
				if a.Held() {
					t.Fatalf("Lock failed (%v) but Held() is true", err)
				}
				return
			}
			defer a.Unlock()
			if !a.Held() {
				t.Fatalf("Lock returned nil for a hold already known lost: Held() false (token %d)", a.Token())
			}
			if n := fsys.calls.Load(); n < 2 {
				t.Fatalf("Verify called %d times: A did not start over after the lost hold", n)
			}
			select {
			case <-a.Lost():
				t.Fatal("Lock returned nil and Lost() is closed")
			default:
			}
			if names := entryNames(t, dir); len(names) != 1 || names[0] != a.Name() {
				t.Fatalf("entries after A's Lock: %v, want A's %s alone", names, a.Name())
			}
		})
	}
}

// entryNames are the names in dir other than the metadata directory and
// waiters' marks.
func entryNames(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, n := range locktest.Names(t, dir) {
		// Neither the metadata directory nor a waiter's mark is an entry.
		if n != protocol.MetaDir && !strings.HasPrefix(n, ".cryolock-wake-") {
			names = append(names, n)
		}
	}
	return names
}
