//go:build linux

package realfs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/fsprobe"
)

// The experiments run only with CRYOLOCK_REALFS_EXPERIMENT=1: they show what
// goes wrong (or does not) under settings that are unsafe for the
// filesystem, and never fail on a violation — they report it.
//
//	CRYOLOCK_REALFS_EXPERIMENT=1 go test -run Experiment -v ./internal/realfs/
func experiment(t *testing.T) {
	if os.Getenv("CRYOLOCK_REALFS_EXPERIMENT") == "" {
		t.Skip("an experiment: set CRYOLOCK_REALFS_EXPERIMENT=1 to run it")
	}
}

// TestExperimentSSHFSUnsafe runs the cross-mount counter on the two sshfs
// mounts (default caches) with settle 0 and a short lease, in several
// variants, and reports what each did.
func TestExperimentSSHFSUnsafe(t *testing.T) {
	experiment(t)
	d := need(t, "CRYOLOCK_SSHFS_A", "CRYOLOCK_SSHFS_B", "CRYOLOCK_SSHFS_BACKING")
	variants := []struct {
		name string
		c    counterRun
	}{
		{"v1, settle 0, lease 60s", counterRun{Procs: 4, Each: 8, Lease: 60 * time.Second}},
		{"v1, settle 0, lease 60s, hold 100ms, pause 150ms", counterRun{Procs: 4, Each: 10, Lease: 60 * time.Second, Hold: 100 * time.Millisecond, Pause: 150 * time.Millisecond}},
		{"v1, settle 0, lease 1s, hold 1.5s", counterRun{Procs: 4, Each: 4, Lease: time.Second, Hold: 1500 * time.Millisecond}},
		{"v1 wallclock, settle 0, lease 1s, hold 1.5s", counterRun{Procs: 4, Each: 4, Lease: time.Second, Hold: 1500 * time.Millisecond, Stale: "wallclock"}},
	}
	for i, v := range variants {
		c := v.c
		c.Dirs = d[:2]
		c.Counter = filepath.Join(d[2], "exp-counter")
		c.BackoffMax = 50 * time.Millisecond
		c.KeepGoing = true
		c.Deadline = 2 * time.Minute
		os.Remove(c.Counter)
		name := "exp" + string(rune('a'+i))
		r := runCounter(t, name, c)
		verdict := "mutual exclusion held"
		if want := c.Procs * c.Each; r.Counter != want || len(r.Overlaps) > 0 || r.Lost > 0 {
			verdict = "VIOLATED"
		}
		logf(t, "sshfs ×2, %s: %v (expected %d) — %s; errors: %v", v.name, r, c.Procs*c.Each, verdict, r.Errs)
	}
}

// TestExperimentFUSELagSettle0 runs TestFUSELagCounter's workload with
// settle 0 on the eventually-consistent-listing FUSE mounts: a contender's
// check listing does not show a rival that entered through the other mount
// less than TTL before, so both can hold at once.
func TestExperimentFUSELagSettle0(t *testing.T) {
	experiment(t)
	d := need(t, "CRYOLOCK_FUSELAG_A", "CRYOLOCK_FUSELAG_B", "CRYOLOCK_FUSELAG_BACKING")
	ttl := fuseLagTTL()
	runs := []struct {
		settle time.Duration
		each   int
	}{{0, 20}, {0, 20}, {0, 20}, {ttl * 3 / 2, 5}}
	for i, run := range runs {
		c := counterRun{
			Dirs:       d[:2],
			Counter:    filepath.Join(d[2], "exp-lag-counter"),
			Procs:      4,
			Each:       run.each,
			Settle:     run.settle,
			Lease:      8 * time.Second,
			Hold:       100 * time.Millisecond,
			Pause:      150 * time.Millisecond,
			BackoffMax: 20 * time.Millisecond,
			KeepGoing:  true,
			Deadline:   2 * time.Minute,
		}
		os.Remove(c.Counter)
		r := runCounter(t, fmt.Sprintf("exp-lag-%d-%d", time.Now().UnixNano(), i), c)
		verdict := "mutual exclusion held"
		if want := c.Procs * c.Each; r.Counter != want || len(r.Overlaps) > 0 || r.Lost > 0 {
			verdict = "VIOLATED"
		}
		logf(t, "FUSE eventually consistent listings (TTL %v), 4 processes × %d (hold 100ms, pause 150ms), settle %v, lease %v: %v (expected %d) — %s; errors: %v",
			ttl, c.Each, c.Settle, c.Lease, r, c.Procs*c.Each, verdict, r.Errs)
	}
}

// TestExperimentSSHFSDefaultPeer runs the two-party probe on the sshfs pair
// with default caches (one round: about two minutes) and reports what it
// recommends; CI runs the two-party probe on the cache_timeout=2 pair.
func TestExperimentSSHFSDefaultPeer(t *testing.T) {
	experiment(t)
	d := need(t, "CRYOLOCK_SSHFS_A", "CRYOLOCK_SSHFS_B", "CRYOLOCK_SSHFS_BACKING")
	sub := "exp-peer"
	os.RemoveAll(filepath.Join(d[2], sub))
	if err := os.Mkdir(filepath.Join(d[2], sub), 0o755); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var reps [2]fsprobe.Report
	var errs [2]error
	start := time.Now()
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = fsprobe.Probe(context.Background(), filepath.Join(d[i], sub), fsprobe.Options{Peer: true, PeerRounds: 2, PeerTimeout: 5 * time.Minute})
		}()
	}
	wg.Wait()
	for i := range 2 {
		logf(t, "sshfs default cache, mount %c with peer (err %v, %v in all): %s", 'A'+i, errs[i], time.Since(start).Round(time.Second), summary(reps[i]))
	}
}
