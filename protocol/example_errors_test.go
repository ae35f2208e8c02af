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

// Every error about a path is a *protocol.Error: errors.As gives the
// operation and the path, errors.Is the sentinel it wraps.
func ExampleError() {
	_, err := protocol.New("jobs") // the name must end in ".cryolock"
	var pe *protocol.Error
	if errors.As(err, &pe) {
		fmt.Println(pe.Op, pe.Path, errors.Is(err, protocol.ErrBadPath))
	}
	fmt.Println(err)

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
	os.Remove(filepath.Join(l.Path(), l.Name())) // someone removes our entry
	err = l.Unlock()
	if errors.As(err, &pe) {
		fmt.Println(pe.Op, filepath.Base(filepath.Dir(pe.Path)), errors.Is(err, protocol.ErrLost))
	}
	// Output:
	// new jobs true
	// cryolock: new jobs: bad lock path: the lock directory's name must end in ".cryolock"
	// unlock jobs.cryolock true
}
