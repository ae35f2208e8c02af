package protocol_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	l, err := protocol.New(filepath.Join(dir, "jobs.cryolock"))
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Lock(ctx); err != nil {
		panic(err)
	}
	fmt.Println("held:", l.Held())
	if err := l.Unlock(); err != nil {
		panic(err)
	}
	fmt.Println("held:", l.Held())
	// Output:
	// held: true
	// held: false
}

func ExampleDo() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	err := protocol.Do(context.Background(), filepath.Join(dir, "report.cryolock"), func(ctx context.Context) error {
		// ctx is cancelled if the lock is lost: pass it to the work.
		fmt.Println("writing the report")
		return nil
	})
	fmt.Println("err:", err)
	// Output:
	// writing the report
	// err: <nil>
}

func ExampleLock_TryLock() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cron.cryolock")
	ctx := context.Background()

	first, _ := protocol.New(path)
	second, _ := protocol.New(path)
	ok, _ := first.TryLock(ctx)
	fmt.Println("first:", ok)
	ok, _ = second.TryLock(ctx)
	fmt.Println("second:", ok)
	first.Unlock()
	// Output:
	// first: true
	// second: false
}

func ExampleLock_Token() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	l, _ := protocol.New(filepath.Join(dir, "db.cryolock"), protocol.WithFencing(protocol.FencingSlots))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		l.Lock(ctx)
		// Send l.Token() with every write; the resource rejects tokens
		// older than the newest it has seen.
		fmt.Println("token", l.Token())
		l.Unlock()
	}
	// Output:
	// token 1
	// token 2
	// token 3
}

func ExampleNew_errors() {
	_, err := protocol.New("/tmp/not-a-lock")
	fmt.Println(errors.Is(err, protocol.ErrBadPath))
	// Output:
	// true
}

// A reader–writer lock: readers are Locks made WithShared, writers plain
// Locks on the same directory.
func ExampleWithShared() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cache.cryolock")
	ctx := context.Background()

	r1, _ := protocol.New(path, protocol.WithShared())
	r2, _ := protocol.New(path, protocol.WithShared())
	w, _ := protocol.New(path)
	r1.Lock(ctx)
	ok, _ := r2.TryLock(ctx)
	fmt.Println("second reader:", ok)
	ok, _ = w.TryLock(ctx)
	fmt.Println("writer beside readers:", ok)
	r1.Unlock()
	r2.Unlock()
	ok, _ = w.TryLock(ctx)
	fmt.Println("writer alone:", ok)
	w.Unlock()
	// Output:
	// second reader: true
	// writer beside readers: false
	// writer alone: true
}

// A semaphore of 2: Locks made WithSlots(2) on one directory.
func ExampleWithSlots() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "gpu.cryolock")
	ctx := context.Background()

	var got []bool
	for i := 0; i < 3; i++ {
		s, _ := protocol.New(path, protocol.WithSlots(2))
		ok, _ := s.TryLock(ctx)
		got = append(got, ok)
	}
	fmt.Println(got)
	// Output:
	// [true true false]
}
