package protocol_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/cryolock-go/cryolock/protocol"
)

// The README's pattern: run the work under the hold's context, which is
// cancelled (with a cause wrapping ErrLost) if the lock is ever lost, and
// with ErrReleased at Unlock.
func ExampleLock_LockContext() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	l, err := protocol.New(filepath.Join(dir, "nightly.cryolock"))
	if err != nil {
		panic(err)
	}
	ctx, err := l.LockContext(context.Background())
	if err != nil {
		panic(err)
	}
	rebuild := func(ctx context.Context) error { return ctx.Err() } // the protected work
	fmt.Println("work:", rebuild(ctx))
	if err := l.Unlock(); err != nil {
		panic(err)
	}
	fmt.Println("after Unlock:", context.Cause(ctx))
	// Output:
	// work: <nil>
	// after Unlock: lock released
}

// Lost tells a holder that another contender may now hold the lock: here the
// entry is removed by hand, as a contender that judged it stale would.
func ExampleLock_Lost() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "job.cryolock")

	l, _ := protocol.New(path, protocol.WithLease(protocol.MinLease*10))
	if err := l.Lock(context.Background()); err != nil {
		panic(err)
	}
	os.Remove(filepath.Join(path, l.Name()))
	<-l.Lost() // the next heartbeat finds the entry gone
	fmt.Println("held:", l.Held())
	err := l.Unlock()
	fmt.Println("unlock reports the loss:", errors.Is(err, protocol.ErrLost))
	// Output:
	// held: false
	// unlock reports the loss: true
}

// A reentrant lock: the call chain that holds it takes it again through the
// context it got, one level deeper.
func ExampleReentrant() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	r, _ := protocol.NewReentrant(filepath.Join(dir, "cache.cryolock"))
	ctx, err := r.Lock(context.Background())
	if err != nil {
		panic(err)
	}
	inner, err := r.Lock(ctx) // the same chain: one level deeper
	if err != nil {
		panic(err)
	}
	_ = inner
	fmt.Println("depth:", r.Depth())
	r.Unlock()
	r.Unlock()
	fmt.Println("depth:", r.Depth())
	// Output:
	// depth: 2
	// depth: 0
}

// LockAll takes several locks all or nothing, in one global order, so that
// processes locking overlapping sets cannot deadlock.
func ExampleLockAll() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	a, _ := protocol.New(filepath.Join(dir, "accounts.cryolock"))
	b, _ := protocol.New(filepath.Join(dir, "ledger.cryolock"))
	if err := protocol.LockAll(context.Background(), b, a); err != nil {
		panic(err)
	}
	fmt.Println("both held:", a.Held() && b.Held())
	fmt.Println("release:", protocol.UnlockAll(a, b))
	// Output:
	// both held: true
	// release: <nil>
}

// Inspect answers "who holds it?" without touching anything.
func ExampleInspect() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "deploy.cryolock")

	l, _ := protocol.New(path)
	l.Lock(context.Background())
	defer l.Unlock()

	snap, err := protocol.Inspect(context.Background(), path)
	if err != nil {
		panic(err)
	}
	for _, e := range snap.Entries {
		fmt.Println("entry is ours:", e.Name == l.Name(), "lease:", e.Lease)
	}
	fmt.Println("foreign entries:", len(snap.Foreign))
	// Output:
	// entry is ours: true lease: 10
	// foreign entries: 0
}

// WithLogger sends the protocol's events to a log/slog logger: debug for
// enter, withdraw, held and released; info for reaping a stale entry; warn
// for a lost lock.
func ExampleWithLogger() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	var buf strings.Builder
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l, _ := protocol.New(filepath.Join(dir, "x.cryolock"), protocol.WithLogger(logger))
	l.Lock(context.Background())
	l.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		_, msg, _ := strings.Cut(line, "msg=")
		msg, _, _ = strings.Cut(msg, " path=")
		fmt.Println(msg)
	}
	// Output:
	// "cryolock: entered"
	// "cryolock: held"
	// "cryolock: released"
}
