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

// TestSemaphoreTryLockWatchesDeadHolder: rule W for a semaphore of 2. One
// slot is held by a live contender (lease None), the other by a crashed
// one's entry (lease 1 s, its mtime an hour old). Reaping the dead entry
// alone would let a new contender in, so the dead entry is what stands in
// its way: a TryLock (one per process, from cron) must keep watching, reap
// it after its lease and hold. It used to require every live entry to look
// dead, and returned false at once for as long as the live slot was held:
// a crashed holder's slot was lost to TryLock users. In jumping time.
func TestSemaphoreTryLockWatchesDeadHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	dead := filepath.Join(dir, "dead_1_aaaaaaaaaaaa.5")
	for name, content := range map[string]string{dead: "1", filepath.Join(dir, "live_1_bbbbbbbbbbbb.6"): "None"} {
		if err := os.WriteFile(name, []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(name, old, old); err != nil {
			t.Fatal(err)
		}
	}
	env := &warpEnv{Env: protocol.OSEnv(), limit: 100 * time.Second, passed: make(chan struct{})}
	l, err := newSem(dir, 2, protocol.WithoutLease(), protocol.WithEnv(env), protocol.WithFS(plainFS{protocol.OSFS()}))
	if err != nil {
		t.Fatal(err)
	}
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
			t.Fatalf("semaphore TryLock beside a live holder and a dead one (2 slots): %v, %v; want held (the dead one reaped)", r.ok, r.err)
		}
		if _, err := os.Stat(dead); !os.IsNotExist(err) {
			t.Fatalf("the dead holder's entry is still there: %v", err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
	case <-env.passed:
		cancel()
		<-done
		t.Fatalf("semaphore TryLock still watching after %v of virtual time", env.limit)
	}
}
