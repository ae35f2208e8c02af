//go:build linux

package realfs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
	"github.com/cryolock-go/cryolock/stale"
)

const helperVar = "CRYOLOCK_REALFS_HELPER"

// helperMain is the body of a re-executed helper process.
func helperMain(mode string) int {
	var err error
	switch mode {
	case "worker":
		err = worker()
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// worker takes the lock CRYOLOCK_N times with locktest.Run, one acquisition
// per call so that it can go on after a lost lock when CRYOLOCK_KEEP_GOING
// is set (the experiments count those instead of stopping at the first).
// It writes its hold intervals to CRYOLOCK_HISTORY and a summary line
// ("lost N maxwait D") to CRYOLOCK_HISTORY.sum.
func worker() error {
	env := os.Getenv
	dur := func(k string) time.Duration { d, _ := time.ParseDuration(env(k)); return d }
	n, _ := strconv.Atoi(env("CRYOLOCK_N"))
	opts := []protocol.Option{protocol.WithSettle(dur("CRYOLOCK_SETTLE"))}
	if d := dur("CRYOLOCK_LEASE"); d > 0 {
		opts = append(opts, protocol.WithLease(d))
	}
	if r := env("CRYOLOCK_STALE"); r != "" {
		rule, err := stale.ParseRule(r)
		if err != nil {
			return err
		}
		opts = append(opts, protocol.WithStaleRule(rule))
	}
	if d := dur("CRYOLOCK_BACKOFF_MAX"); d > 0 {
		opts = append(opts, protocol.WithBackoff(time.Millisecond, d))
	}
	l, err := protocol.New(env("CRYOLOCK_LOCK"), opts...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), dur("CRYOLOCK_DEADLINE"))
	defer cancel()
	keepGoing := env("CRYOLOCK_KEEP_GOING") != ""
	var (
		all     []locktest.Interval
		lost    int
		maxWait time.Duration
		runErr  error
	)
	for i := 0; i < n; i++ {
		t0 := locktest.Now()
		iv, err := locktest.Run(ctx, l, locktest.Options{N: 1, Counter: env("CRYOLOCK_COUNTER"), Worker: env("CRYOLOCK_WORKER"), Hold: dur("CRYOLOCK_HOLD")})
		if len(iv) > 0 {
			maxWait = max(maxWait, time.Duration(iv[0].Start-t0))
		}
		all = append(all, iv...)
		if d := dur("CRYOLOCK_PAUSE"); d > 0 && i < n-1 {
			time.Sleep(d) // work done outside the lock
		}
		if err != nil {
			if keepGoing && errors.Is(err, protocol.ErrLost) {
				lost++
				continue
			}
			runErr = err
			break
		}
	}
	h := env("CRYOLOCK_HISTORY")
	werr := locktest.WriteHistory(h, all)
	serr := os.WriteFile(h+".sum", fmt.Appendf(nil, "lost %d maxwait %s\n", lost, maxWait), 0o644)
	return errors.Join(runErr, werr, serr)
}

// counterRun describes one many-process counter run.
type counterRun struct {
	// Dirs: process i takes the lock through Dirs[i%len(Dirs)]; all of
	// them must be views of one directory (two mounts of it, say).
	Dirs []string
	// Counter is the counter file (on a coherent path: see FINDINGS.md).
	Counter    string
	Procs      int
	Each       int
	Lease      time.Duration
	Settle     time.Duration
	BackoffMax time.Duration
	Deadline   time.Duration // per process
	KeepGoing  bool          // experiments: count lost locks, do not stop
	Hold       time.Duration // slept inside each hold
	Pause      time.Duration // slept between holds
	Stale      string        // staleness rule: "observed" or "wallclock"
}

type counterResult struct {
	Counter  int
	Holds    int
	Overlaps []locktest.Overlap
	Lost     int
	MaxWait  time.Duration
	Took     time.Duration
	Errs     []error
}

func (r counterResult) String() string {
	return fmt.Sprintf("counter %d, %d holds, %d overlaps, %d lost locks, longest wait %v, %v in all",
		r.Counter, r.Holds, len(r.Overlaps), r.Lost, r.MaxWait.Round(time.Millisecond), r.Took.Round(time.Millisecond))
}

// runCounter runs c.Procs re-executed test binaries as lock workers and
// gathers what they did.
func runCounter(t *testing.T, name string, c counterRun) counterResult {
	t.Helper()
	if c.Deadline == 0 {
		c.Deadline = 3 * time.Minute
	}
	hist := t.TempDir()
	start := time.Now()
	var cmds []*exec.Cmd
	for i := 0; i < c.Procs; i++ {
		dir := c.Dirs[i%len(c.Dirs)]
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(),
			helperVar+"=worker",
			"CRYOLOCK_LOCK="+filepath.Join(dir, name+".cryolock"),
			"CRYOLOCK_COUNTER="+c.Counter,
			"CRYOLOCK_N="+strconv.Itoa(c.Each),
			"CRYOLOCK_LEASE="+c.Lease.String(),
			"CRYOLOCK_SETTLE="+c.Settle.String(),
			"CRYOLOCK_BACKOFF_MAX="+c.BackoffMax.String(),
			"CRYOLOCK_DEADLINE="+c.Deadline.String(),
			"CRYOLOCK_HISTORY="+filepath.Join(hist, fmt.Sprint("h", i)),
			fmt.Sprintf("CRYOLOCK_WORKER=p%d@%s", i, filepath.Base(dir)),
		)
		cmd.Env = append(cmd.Env, "CRYOLOCK_HOLD="+c.Hold.String(), "CRYOLOCK_PAUSE="+c.Pause.String(), "CRYOLOCK_STALE="+c.Stale)
		if c.KeepGoing {
			cmd.Env = append(cmd.Env, "CRYOLOCK_KEEP_GOING=1")
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	var r counterResult
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			r.Errs = append(r.Errs, fmt.Errorf("process %d: %w", i, err))
		}
	}
	r.Took = time.Since(start)
	var all []locktest.Interval
	for i := range cmds {
		h := filepath.Join(hist, fmt.Sprint("h", i))
		iv, err := locktest.ReadHistory(h)
		if err != nil {
			r.Errs = append(r.Errs, err)
			continue
		}
		all = append(all, iv...)
		var lost int
		var wait time.Duration
		if b, err := os.ReadFile(h + ".sum"); err == nil {
			var ws string
			fmt.Sscanf(string(b), "lost %d maxwait %s", &lost, &ws)
			wait, _ = time.ParseDuration(strings.TrimSpace(ws))
		}
		r.Lost += lost
		r.MaxWait = max(r.MaxWait, wait)
	}
	r.Holds = len(all)
	r.Overlaps = locktest.Check(all)
	if v, err := locktest.ReadCounter(c.Counter); err == nil {
		r.Counter = v
	} else if !errors.Is(err, os.ErrNotExist) {
		r.Errs = append(r.Errs, err)
	}
	return r
}

// assertExclusion fails the test on any sign of two holders.
func assertExclusion(t *testing.T, c counterRun, r counterResult) {
	t.Helper()
	for _, err := range r.Errs {
		t.Error(err)
	}
	want := c.Procs * c.Each
	if r.Counter != want || r.Holds != want {
		t.Errorf("counter = %d, holds = %d; want %d (a lost update means two holders)", r.Counter, r.Holds, want)
	}
	if len(r.Overlaps) > 0 {
		t.Errorf("%d overlapping holds; first: %+v", len(r.Overlaps), r.Overlaps[0])
	}
	if r.Lost > 0 {
		t.Errorf("%d holds were lost (heartbeat removed or overdue)", r.Lost)
	}
}

// lockLitter lists what is left in the lock directory name.cryolock under dir.
func lockLitter(t *testing.T, dir, name string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(dir, name+".cryolock"))
	if err != nil {
		t.Errorf("listing the lock directory: %v", err)
		return nil
	}
	var out []string
	for _, d := range des {
		out = append(out, d.Name())
	}
	return out
}
