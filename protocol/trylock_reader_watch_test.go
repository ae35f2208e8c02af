package protocol_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/protocol"
)

// TestReaderTryLockWatchesDeadWriter: rule W for a reader. A writer that
// entered beside a long read and then crashed left its entry (lease 1 s,
// its mtime an hour old); the read goes on. The only entry in a new
// reader's way is the dead writer's — a live reader's entry keeps no
// reader out — so a reader's TryLock (one per process, from cron) must
// keep watching, reap the writer's entry after its lease and hold beside
// the live reader. It used to weigh every live entry, the reader's
// included, and return false at once: no TryLock reader cleared the dead
// writer while the read lasted. In jumping time (the TryLock has no lease,
// so no heartbeat moves the clock).
func TestReaderTryLockWatchesDeadWriter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	writer := filepath.Join(dir, "dead_1_aaaaaaaaaaaa.5")
	if err := os.WriteFile(writer, []byte("1"), 0o666); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(writer, old, old); err != nil {
		t.Fatal(err)
	}
	reader := nonce.FormatName(nonce.SharedOwner(nonce.NewOwner(nonce.NewCrypto(), "reader", 7)), 9)
	if err := os.WriteFile(filepath.Join(dir, reader), []byte("None"), 0o666); err != nil {
		t.Fatal(err)
	}
	env := &warpEnv{Env: protocol.OSEnv(), limit: 100 * time.Second, passed: make(chan struct{})}
	l := newLock(t, dir, protocol.WithShared(), protocol.WithoutLease(), protocol.WithEnv(env), protocol.WithFS(plainFS{protocol.OSFS()}))
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		ok, err := l.TryLock(ctx)
		done <- result{ok, err}
	}()
	select {
	case r := <-done:
		if r.err != nil || !r.ok {
			t.Fatalf("reader TryLock beside a live reader and a dead writer: %v, %v; want held (the dead writer reaped)", r.ok, r.err)
		}
		if _, err := os.Stat(writer); !os.IsNotExist(err) {
			t.Fatalf("the dead writer's entry is still there: %v", err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
	case <-env.passed:
		cancel()
		<-done
		t.Fatalf("reader TryLock still watching after %v of virtual time", env.limit)
	}
}
