package protocol

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
)

// Env is every other source of nondeterminism the protocol uses: time,
// randomness, the identity of the process and the starting of goroutines.
// [OSEnv] is the real one; the simulator (package sim) supplies its own, so
// the very same protocol code runs on the OS and in the simulator.
//
// The protocol never blocks except inside Env.Sleep or an FS method, and
// never holds a mutex across either; a simulator may therefore treat every
// call of Env and FS as a scheduling point.
type Env interface {
	// Now returns the wall-clock time (written as mtimes and used by the
	// WallClock staleness rule).
	Now() time.Time
	// Mono returns a monotonic reading: the time elapsed since an arbitrary
	// origin fixed for the Env's life.
	Mono() time.Duration
	// Sleep pauses for d, or until ctx is done, in which case it returns
	// ctx.Err(). A d ≤ 0 returns at once (but is still a scheduling point).
	Sleep(ctx context.Context, d time.Duration) error
	// Uint64 returns 64 random bits (tickets, owner ids, jitter).
	Uint64() uint64
	// AfterFunc runs f in a new goroutine once d has passed (at once if
	// d ≤ 0) unless stop is called first; stop reports whether it kept f
	// from starting. The heartbeat starts this way, so that a hold shorter
	// than a heartbeat period never starts a goroutine at all.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
	// Process names this process for humans reading `cryolock status`.
	Process() (host string, pid int)
}

type osEnv struct {
	start time.Time
	src   nonce.Source
	host  string
	pid   int
}

// OSEnv returns the real environment (one per process, shared): time from the time package, randomness
// from [nonce.NewCrypto], goroutines from time.AfterFunc.
func OSEnv() Env { return defaultEnv() }

var defaultEnv = sync.OnceValue(newOSEnv)

func newOSEnv() Env {
	host, _ := os.Hostname()
	return &osEnv{start: time.Now(), src: nonce.NewCrypto(), host: host, pid: os.Getpid()}
}

func (e *osEnv) Now() time.Time                  { return time.Now() }
func (e *osEnv) Mono() time.Duration             { return time.Since(e.start) }
func (e *osEnv) Uint64() uint64                  { return e.src.Uint64() }
func (e *osEnv) Process() (host string, pid int) { return e.host, e.pid }

func (e *osEnv) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

func (e *osEnv) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
