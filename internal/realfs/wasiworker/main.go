// Command wasiworker is the lock's counter worker compiled for WASI
// (GOOS=wasip1 GOARCH=wasm): it takes a lock N times with locktest.Run and
// writes its hold intervals (wall clock: WASI has no machine-wide monotonic
// clock that several runtimes share; all workers run on one machine) to a
// history file. It is run under wazero by internal/realfs's TestWASICounter:
//
//	wazero run -mount HOSTDIR:/work -env CRYOLOCK_LOCK=/work/w.cryolock ... wasiworker.wasm
//
// Environment: CRYOLOCK_LOCK, CRYOLOCK_COUNTER, CRYOLOCK_N, CRYOLOCK_HISTORY,
// CRYOLOCK_WORKER, and optionally CRYOLOCK_LEASE and CRYOLOCK_SETTLE
// (durations such as 2s).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wasiworker:", err)
		os.Exit(1)
	}
}

func run() error {
	env := os.Getenv
	n, err := strconv.Atoi(env("CRYOLOCK_N"))
	if err != nil {
		return fmt.Errorf("CRYOLOCK_N: %w", err)
	}
	var opts []protocol.Option
	if d, err := time.ParseDuration(env("CRYOLOCK_LEASE")); err == nil {
		opts = append(opts, protocol.WithLease(d))
	}
	if d, err := time.ParseDuration(env("CRYOLOCK_SETTLE")); err == nil {
		opts = append(opts, protocol.WithSettle(d))
	}
	l, err := protocol.New(env("CRYOLOCK_LOCK"), opts...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	iv, err := locktest.Run(ctx, l, locktest.Options{N: n, Counter: env("CRYOLOCK_COUNTER"), Worker: env("CRYOLOCK_WORKER")})
	werr := locktest.WriteHistory(env("CRYOLOCK_HISTORY"), iv)
	return errors.Join(err, werr)
}
