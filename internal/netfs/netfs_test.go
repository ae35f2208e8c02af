//go:build linux

package netfs_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/fsprobe"
	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

const helperVar = "CRYOLOCK_NETFS_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperVar) == "sh" {
		// a shell launcher for vm-run.sh (scripts/nfs4-deleg.sh)
		panic(syscall.Exec("/bin/sh", append([]string{"sh"}, os.Args[1:]...), os.Environ()))
	}
	if mode := os.Getenv(helperVar); mode != "" {
		if err := helperMain(mode); err != nil {
			fmt.Fprintf(os.Stderr, "netfs helper %s: %v\n", mode, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// pair is two mounts of one directory, each with caches of its own.
type pair struct {
	Name string // nfs3, nfs4, cifs, rclone-sftp, rclone-local
	A, B string
}

// settings are the lock settings a pair's tests use: safe on that
// filesystem (settle covers its listing lag between clients, see
// FINDINGS.md) and quick enough for CI.
type settings struct {
	Settle, Lease, MaxBackoff time.Duration
	// FSType is the filesystem type the probe must name.
	FSType string
	// Report, if set, is a probe report (JSON) whose recommendation the
	// workers apply instead of the settings above (fsprobe.WithReport).
	Report string
}

// defaults per kind of pair; CRYOLOCK_NETFS_SETTLE ("nfs3=1s,cifs=2s")
// overrides the settle.
func settingsFor(t *testing.T, name string) settings {
	t.Helper()
	var s settings
	switch {
	case name == "nfs3":
		s = settings{Settle: 500 * time.Millisecond, FSType: "nfs"}
	case name == "nfs4":
		s = settings{Settle: 500 * time.Millisecond, FSType: "nfs4"}
	case name == "cifs":
		s = settings{Settle: time.Second, FSType: "cifs"}
	case strings.HasPrefix(name, "rclone"):
		s = settings{Settle: 500 * time.Millisecond, FSType: "fuse.rclone"}
	case name == "sshfs":
		// sshfs (internal/realfs's pair, default caches): not in CI's
		// netfs check; run by hand for the hand-off and peer tests.
		s = settings{Settle: time.Second, FSType: "fuse.sshfs"}
	default:
		t.Fatalf("unknown pair kind %q", name)
	}
	s.Lease, s.MaxBackoff = 12*time.Second, 50*time.Millisecond
	for _, kv := range strings.Split(os.Getenv("CRYOLOCK_NETFS_SETTLE"), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("CRYOLOCK_NETFS_SETTLE: %v", err)
			}
			s.Settle = d
		}
	}
	return s
}

func (s settings) options() []protocol.Option {
	return []protocol.Option{protocol.WithSettle(s.Settle), protocol.WithLease(s.Lease), protocol.WithBackoff(time.Millisecond, s.MaxBackoff)}
}

// pairs returns the pairs of CRYOLOCK_NETFS_PAIRS, failing the test if one
// named in CRYOLOCK_NETFS_REQUIRE is missing and skipping it if none is set.
func pairs(t *testing.T) []pair {
	t.Helper()
	var out []pair
	for _, f := range strings.Fields(os.Getenv("CRYOLOCK_NETFS_PAIRS")) {
		p := strings.SplitN(f, ":", 3)
		if len(p) != 3 {
			t.Fatalf("CRYOLOCK_NETFS_PAIRS: %q is not name:mountA:mountB", f)
		}
		out = append(out, pair{p[0], p[1], p[2]})
	}
	for _, req := range strings.Fields(os.Getenv("CRYOLOCK_NETFS_REQUIRE")) {
		if !slices.ContainsFunc(out, func(p pair) bool { return p.Name == req }) {
			t.Errorf("pair %s is required (CRYOLOCK_NETFS_REQUIRE) but not in CRYOLOCK_NETFS_PAIRS", req)
		}
	}
	if len(out) == 0 {
		t.Skip("no network filesystem pairs: set CRYOLOCK_NETFS_PAIRS (bash .ci/check-netfs.sh sets them up)")
	}
	return out
}

// TestCalibrate measures the CPU time of one uncontended Lock+Unlock cycle
// on a local tmpfs (/dev/shm) where the pairs' tests run: in the emulated
// guest (the nfs3, nfs4 and cifs pairs) and on this host (rclone). The
// ratio of the two is what the emulation multiplies the CPU time of this
// code by, system calls included; FINDINGS.md divides the guest's waiter CPU
// by it for an estimate of the native figure (an estimate: the NFS and SMB
// clients' own code is not in the cycle). Reported only.
func TestCalibrate(t *testing.T) {
	where := runsIn()
	dir, err := os.MkdirTemp("/dev/shm", "netfs-calibrate")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := protocol.New(filepath.Join(dir, "c.cryolock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cycle := func() {
		if err := l.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		cycle() // warm up
	}
	const n = 2000
	c0 := locktest.SelfCPU()
	for range n {
		cycle()
	}
	per := (locktest.SelfCPU() - c0) / n
	result(pair{Name: where}, "calibrate", "cycles", n, "cycle_cpu_ns", per.Nanoseconds())
}

// TestPairs runs, on every pair at once (each pair in parallel with the
// others, its tests one after another, each in a fresh subdirectory made
// through mount A and seen through mount B): the listing lag, the probe,
// the hand-off, the idle waiter, the gate, the reader–writer lock, the
// semaphore, the recovery from a killed holder, the peer probe and the gate
// again with the peer probe's joint recommendation.
func TestPairs(t *testing.T) {
	tests := []struct {
		name string
		f    func(t *testing.T, p pair, s settings)
	}{{"lag", listingLag}, {"probe", probe}, {"handoff", handoff}, {"idle", idleWaiter}, {"gate", gate}, {"rw", rwLock}, {"semaphore", semaphore}, {"recovery", recovery}, {"peer", peerProbe}, {"handoff-rec", handoffRecommended}, {"gate-rec", gateRecommended}}
	for _, p := range pairs(t) {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			s := settingsFor(t, p.Name)
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					sub := fmt.Sprintf("%s-%s-%d-%d", tc.name, p.Name, os.Getpid(), time.Now().UnixNano())
					if err := os.Mkdir(filepath.Join(p.A, sub), 0o777); err != nil {
						t.Fatalf("pair %s: %v", p.Name, err)
					}
					t.Cleanup(func() { os.RemoveAll(filepath.Join(p.A, sub)) })
					q := pair{p.Name, filepath.Join(p.A, sub), filepath.Join(p.B, sub)}
					waitVisible(t, q.B)
					tc.f(t, q, s)
				})
			}
		})
	}
}

// waitVisible waits (up to a minute: a negative lookup may be cached for
// 30 s on NFS) until path is seen.
func waitVisible(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("mount B never saw %s: %v", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runsIn is where the tests run: "guest" in the emulated guest (vm-run.sh
// says so in CRYOLOCK_NETFS_WHERE), else "host". FINDINGS.md gives the CPU
// figures of the guest's pairs also as a native estimate (TestCalibrate).
func runsIn() string {
	if os.Getenv("CRYOLOCK_NETFS_WHERE") == "guest" {
		return "guest"
	}
	return "host"
}

// result prints one machine-readable line for .ci/check-netfs.sh.
func result(p pair, test string, kv ...any) {
	var b strings.Builder
	fmt.Fprintf(&b, "netfs-result pair=%s test=%s", p.Name, test)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], strings.ReplaceAll(fmt.Sprint(kv[i+1]), " ", "_"))
	}
	fmt.Println(b.String())
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

// gate is the peer's release gate and more: 4 processes × 100 holds of
// about 4 ms, processes alternating between mount A and mount B; inside each
// hold a plain-file counter on the holder's own mount is read and rewritten
// (opened after acquiring, fsynced and closed before releasing: NFS's
// close-to-open consistency). Mutual exclusion means no overlapping holds
// and an exact counter. With CRYOLOCK_NETFS_GATE_BUDGET (a duration) the
// workers start no new acquisition after that long: the holds done are then
// reported against the 400 expected (CI's time box; each acquisition costs
// at least the settle, and a filesystem operation in the emulated guest
// tens of milliseconds).
func gate(t *testing.T, p pair, s settings) {
	budget, _ := time.ParseDuration(os.Getenv("CRYOLOCK_NETFS_GATE_BUDGET"))
	runGate(t, p, s, "gate", budget, budget == 0, "settle", s.Settle, "lease", s.Lease)
}

// peerRecs holds each pair's joint peer report (JSON), written by
// peerProbe for gateRecommended and handoffRecommended (jointSettings).
var peerRecs sync.Map

// gateRecommended runs the gate again with the settings the peer probe's
// joint verdict recommends, applied the way a user applies them
// (fsprobe.WithReport of the report; `cryolock run --config` reads the
// same JSON): they must make the gate pass. Time-boxed by
// CRYOLOCK_NETFS_REC_GATE_BUDGET if that is a duration; by default (or
// "none") it is the whole gate, 4 × 100 holds, all of which must finish.
func gateRecommended(t *testing.T, p pair, s settings) {
	s, rec, ok := jointSettings(t, p, s, "gate-rec")
	if !ok {
		return
	}
	lease := rec.Lease.String()
	if rec.NoLease {
		lease = "None"
	}
	var budget time.Duration
	whole := true
	switch v := os.Getenv("CRYOLOCK_NETFS_REC_GATE_BUDGET"); v {
	case "", "none":
		// The whole gate, but no new acquisition in the last 90 s before
		// the test binary's deadline: a gate too slow to finish fails
		// with its figures, not in a panic that loses them.
		if dl, ok := t.Deadline(); ok {
			budget = time.Until(dl) - 90*time.Second
			if budget <= 0 {
				t.Fatalf("%s: no time left for the whole gate (test deadline %v)", p.Name, dl)
			}
		}
	default:
		whole = false
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("CRYOLOCK_NETFS_REC_GATE_BUDGET=%q: want a positive duration or none", v)
		}
		budget = d
	}
	runGate(t, p, s, "gate-rec", budget, whole, "settle", rec.Settle, "lease", lease, "backoff", fmt.Sprintf("%v-%v", rec.MinBackoff, rec.MaxBackoff))
}

// jointSettings is s with the peer probe's joint report of pair p
// (s.Report, applied as a user applies it; s.Settle its settle) and its
// recommendation. Without one (the peer probe did not finish: reported as
// timed_out, not failed, a lag longer than its bound) it reports test as
// not run and returns false.
func jointSettings(t *testing.T, p pair, s settings, test string) (settings, fsprobe.Recommendation, bool) {
	t.Helper()
	v, ok := peerRecs.Load(p.Name)
	if !ok {
		result(p, test, "not_run", "no_joint_recommendation")
		t.Logf("%s: no joint recommendation from the peer probe (it did not finish): %s not run", p.Name, test)
		return s, fsprobe.Recommendation{}, false
	}
	b := v.([]byte)
	var rep fsprobe.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	s.Report = filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(s.Report, b, 0o666); err != nil {
		t.Fatal(err)
	}
	s.Settle = rep.Recommendation.Settle.D()
	return s, rep.Recommendation, true
}

// runGate is the gate's body: with the settings s (or s.Report), reported
// under test with what the settings were (used). No acquisition starts
// after budget (if set); with whole, every one of the 4 × 100 holds must
// be done, otherwise every hold begun.
func runGate(t *testing.T, p pair, s settings, test string, budget time.Duration, whole bool, used ...any) {
	procs, each := envInt("CRYOLOCK_NETFS_PROCS", 4), envInt("CRYOLOCK_NETFS_HOLDS", 100)
	kinds := make([]string, procs)
	for i := range kinds {
		kinds[i] = "mutex"
	}
	w := runWorkers(t, p, s, test, kinds, each, 4*time.Millisecond, budget)
	overlaps := locktest.Check(w.all)
	counter, cerr := finalCounter(p)
	errs := w.errs
	if cerr != nil {
		errs = append(errs, cerr)
	}
	want := procs * each
	if !whole {
		want = len(w.all) // time-boxed: every hold started must have finished
	}
	st := w.st
	result(p, test, append([]any{"holds", fmt.Sprintf("%d/%d", len(w.all), procs*each), "overlaps", len(overlaps),
		"counter", fmt.Sprintf("%d/%d", counter, len(w.all)-st.skipped), "counter_skipped", st.skipped,
		"lock_errors", st.lockErrs, "read_retries", st.readRetries,
		"max_wait", st.maxWait.Round(10 * time.Millisecond), "waits_cut_short", st.cutShort, "per_worker", perWorker(w.all, procs),
		"took", w.took.Round(100 * time.Millisecond)},
		used...)...)
	for _, err := range errs {
		t.Error(err)
	}
	if len(w.all) != want {
		t.Errorf("%s: %d holds done; want %d", p.Name, len(w.all), want)
	}
	checkCounter(t, p, counter, len(w.all), st.skipped, "holds")
	if len(overlaps) > 0 {
		t.Errorf("%s: %d overlapping holds; first: %+v", p.Name, len(overlaps), overlaps[0])
	}
	if len(w.all) == 0 {
		t.Errorf("%s: no hold at all", p.Name)
	}
}

// finalCounter reads the counter after a run, through mount A or, when A
// answers EIO, through mount B (rclone: EIO on a file rewritten through the
// other mount; see increment), trying both for up to 5 s.
func finalCounter(p pair) (int, error) {
	var err error
	for try := 0; try < 50; try++ {
		for _, m := range []string{p.A, p.B} {
			var v int
			if v, err = locktest.ReadCounter(filepath.Join(m, "counter")); !errors.Is(err, syscall.EIO) {
				return v, err
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0, fmt.Errorf("reading the counter through mount A and mount B: %w", err)
}

// perWorker is the number of holds of each of n workers (p0, p1, ...),
// comma-separated: how evenly the lock was shared.
func perWorker(iv []locktest.Interval, n int) string {
	counts := make([]int, n)
	for _, v := range iv {
		var i int
		if _, err := fmt.Sscanf(v.Worker, "p%d@", &i); err == nil && i >= 0 && i < n {
			counts[i]++
		}
	}
	out := make([]string, n)
	for i, c := range counts {
		out[i] = strconv.Itoa(c)
	}
	return strings.Join(out, ",")
}

// checkCounter checks the counter after holds exclusive holds, skipped of
// which could not read it (EIO throughout; nothing written): it must be
// exactly holds − skipped, and at most a tenth of the holds may be skipped
// (beyond that the count would no longer show much).
func checkCounter(t *testing.T, p pair, counter, holds, skipped int, what string) {
	t.Helper()
	if counter != holds-skipped {
		t.Errorf("%s: counter %d after %d %s (%d of them could not read it and wrote nothing); want %d (a lost update means two holders at once)",
			p.Name, counter, holds, what, skipped, holds-skipped)
	}
	if skipped*10 > holds {
		t.Errorf("%s: %d of %d %s could not read the counter (EIO for 5 s each); more than a tenth", p.Name, skipped, holds, what)
	}
}

// rwLock runs a reader–writer lock across the mounts: 2 writers and 2
// readers (CRYOLOCK_NETFS_KIND_PROCS, half of each; a writer pauses 2 ×
// the settle + 2 s between its holds, so that readers get in), alternating between
// mount A and mount B, each taking it up to CRYOLOCK_NETFS_KIND_HOLDS times
// (default 50) for about 20 ms, time-boxed by CRYOLOCK_NETFS_KIND_BUDGET
// (default: none). The writers increment the counter (exact only if no two
// writers overlapped). No writer may overlap any other hold
// (internal/locktest.CheckRW); readers overlapping readers are counted, as
// evidence that they share.
func rwLock(t *testing.T, p pair, s settings) {
	procs, each := envInt("CRYOLOCK_NETFS_KIND_PROCS", 4), envInt("CRYOLOCK_NETFS_KIND_HOLDS", 50)
	budget, _ := time.ParseDuration(os.Getenv("CRYOLOCK_NETFS_KIND_BUDGET"))
	kinds := make([]string, procs)
	for i := range kinds {
		kinds[i] = []string{"writer", "writer", "reader", "reader"}[i%4]
	}
	w := runWorkers(t, p, s, "rw", kinds, each, 20*time.Millisecond, budget)
	bad, sharedPairs := locktest.CheckRW(w.all)
	writes, reads := 0, 0
	for _, iv := range w.all {
		if iv.Shared {
			reads++
		} else {
			writes++
		}
	}
	counter, cerr := finalCounter(p)
	if errors.Is(cerr, os.ErrNotExist) && writes == 0 {
		cerr = nil
	}
	result(p, "rw", "holds", fmt.Sprintf("%d/%d", len(w.all), procs*each), "writes", writes, "reads", reads,
		"violations", len(bad), "reader_pairs_overlapping", sharedPairs, "counter", fmt.Sprintf("%d/%d", counter, writes-w.st.skipped),
		"counter_skipped", w.st.skipped,
		"lock_errors", w.st.lockErrs, "max_wait", w.st.maxWait.Round(10*time.Millisecond), "took", w.took.Round(100*time.Millisecond))
	for _, err := range append(w.errs, cerr) {
		if err != nil {
			t.Error(err)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: %d holds overlapping a writer's; first: %+v", p.Name, len(bad), bad[0])
	}
	checkCounter(t, p, counter, writes, w.st.skipped, "writer holds")
	if writes == 0 || reads == 0 {
		t.Errorf("%s: %d writer and %d reader holds; want some of each", p.Name, writes, reads)
	}
}

// semaphore runs a semaphore of 2 across the mounts: 4 processes
// (CRYOLOCK_NETFS_KIND_PROCS) alternating between mount A and mount B, each
// taking it up to CRYOLOCK_NETFS_KIND_HOLDS times (default 50) for about
// 20 ms, time-boxed by CRYOLOCK_NETFS_KIND_BUDGET. Never more than 2 holds
// at once (internal/locktest.MaxConcurrent); the instants with 2 are
// evidence that the slots are used.
func semaphore(t *testing.T, p pair, s settings) {
	const slots = 2
	procs, each := envInt("CRYOLOCK_NETFS_KIND_PROCS", 4), envInt("CRYOLOCK_NETFS_KIND_HOLDS", 50)
	budget, _ := time.ParseDuration(os.Getenv("CRYOLOCK_NETFS_KIND_BUDGET"))
	kinds := make([]string, procs)
	for i := range kinds {
		kinds[i] = fmt.Sprintf("sem%d", slots)
	}
	w := runWorkers(t, p, s, "sem", kinds, each, 20*time.Millisecond, budget)
	most := locktest.MaxConcurrent(w.all)
	result(p, "semaphore", "slots", slots, "holds", fmt.Sprintf("%d/%d", len(w.all), procs*each), "max_holders", most,
		"violations", max(0, most-slots), "lock_errors", w.st.lockErrs, "max_wait", w.st.maxWait.Round(10*time.Millisecond),
		"took", w.took.Round(100*time.Millisecond))
	for _, err := range w.errs {
		t.Error(err)
	}
	if most > slots {
		t.Errorf("%s: %d holders at once in a semaphore of %d", p.Name, most, slots)
	}
	if len(w.all) == 0 {
		t.Errorf("%s: no hold at all", p.Name)
	}
}

// workers is what runWorkers gathered.
type workers struct {
	all  []locktest.Interval
	st   workStats
	errs []error
	took time.Duration
}

// runWorkers starts one process per entry of kinds ("mutex", "writer",
// "reader" or "sem<n>"), process i on mount A if i is even, else on mount
// B, each taking the lock name.cryolock n times with holds of hold (with a
// budget, no new acquisition after it), and gathers their histories.
// Mutexes and writers increment the counter file of their mount inside
// each hold; writers pause 2 × the settle + 2 s between holds.
func runWorkers(t *testing.T, p pair, s settings, name string, kinds []string, n int, hold, budget time.Duration) workers {
	stopAt := ""
	if budget > 0 {
		stopAt = strconv.FormatInt(time.Now().Add(budget).UnixNano(), 10)
	}
	hist := t.TempDir()
	start := time.Now()
	cmds := make([]*exec.Cmd, len(kinds))
	for i, kind := range kinds {
		var idle time.Duration
		if kind == "writer" {
			// A writer's entry keeps new readers out, and one that
			// appears while a reader settles sends the reader back to
			// wait (rule C1): pausing between its holds for longer than
			// a reader's look (its settle) and its poll lets the readers
			// in. With 2 × the settle alone, the two writers' entries
			// left the readers 2–4 holds in 30 s.
			idle = 2*s.Settle + 2*time.Second
		}
		dir, other := p.A, p.B
		if i%2 == 1 {
			dir, other = p.B, p.A
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperVar+"=worker",
			"CRYOLOCK_NETFS_LOCK="+filepath.Join(dir, name+".cryolock"),
			"CRYOLOCK_NETFS_COUNTER="+filepath.Join(dir, "counter"),
			"CRYOLOCK_NETFS_COUNTER_OTHER="+filepath.Join(other, "counter"),
			"CRYOLOCK_NETFS_LOCK_KIND="+kind,
			"CRYOLOCK_NETFS_N="+strconv.Itoa(n),
			"CRYOLOCK_NETFS_SETTLE_D="+s.Settle.String(),
			"CRYOLOCK_NETFS_LEASE_D="+s.Lease.String(),
			"CRYOLOCK_NETFS_BACKOFF_D="+s.MaxBackoff.String(),
			"CRYOLOCK_NETFS_HOLD_D="+hold.String(),
			"CRYOLOCK_NETFS_IDLE_D="+idle.String(),
			"CRYOLOCK_NETFS_DEADLINE_D=20m",
			"CRYOLOCK_NETFS_HISTORY="+filepath.Join(hist, strconv.Itoa(i)),
			"CRYOLOCK_NETFS_STOP_AT="+stopAt,
			"CRYOLOCK_NETFS_REPORT="+s.Report,
			fmt.Sprintf("CRYOLOCK_NETFS_WORKER=p%d@%s", i, filepath.Base(filepath.Dir(dir))),
		)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	var w workers
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			w.errs = append(w.errs, fmt.Errorf("worker %d: %w", i, err))
		}
	}
	w.took = time.Since(start)
	for i := range cmds {
		h := filepath.Join(hist, strconv.Itoa(i))
		iv, err := locktest.ReadHistory(h)
		if err != nil {
			w.errs = append(w.errs, err)
		}
		w.all = append(w.all, iv...)
		if b, err := os.ReadFile(h + ".errs"); err == nil {
			var ws workStats
			fmt.Sscanf(string(b), "%d %d %d %d %d", &ws.lockErrs, &ws.readRetries, &ws.maxWait, &ws.cutShort, &ws.skipped)
			w.st.lockErrs += ws.lockErrs
			w.st.readRetries += ws.readRetries
			w.st.skipped += ws.skipped
			w.st.maxWait = max(w.st.maxWait, ws.maxWait)
			w.st.cutShort += ws.cutShort
		}
	}
	return w
}

// recovery SIGKILLs a holder on mount A and measures how long a
// contender on mount B takes to acquire: the lease plus a heartbeat and the
// time for B to see the holder's last mtime. Only a generous bound is
// asserted (the machine is shared); the time is reported.
func recovery(t *testing.T, p pair, s settings) {
	lockA, lockB := filepath.Join(p.A, "rec.cryolock"), filepath.Join(p.B, "rec.cryolock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperVar+"=holder",
		"CRYOLOCK_NETFS_LOCK="+lockA,
		"CRYOLOCK_NETFS_SETTLE_D="+s.Settle.String(),
		"CRYOLOCK_NETFS_LEASE_D="+s.Lease.String(),
		"CRYOLOCK_NETFS_BACKOFF_D="+s.MaxBackoff.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "held" {
		t.Fatalf("holder on A: %q, %v", line, err)
	}
	// B must see the live holder before it dies: TryLock fails.
	lb, err := protocol.New(lockB, s.options()...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ok, err := lb.TryLock(ctx)
	if err != nil || ok {
		if ok {
			lb.Unlock()
		}
		t.Fatalf("TryLock on B while A holds: ok=%v err=%v; want false", ok, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	cmd.Wait()
	if err := lb.Lock(ctx); err != nil {
		t.Fatalf("Lock on B after the holder on A was killed: %v", err)
	}
	rec := time.Since(killed)
	if !lb.Held() {
		t.Errorf("B acquired but Held() is false")
	}
	if err := lb.Unlock(); err != nil {
		t.Errorf("Unlock on B: %v", err)
	}
	bound := 3*s.Lease + s.Settle + 90*time.Second // lease, a heartbeat, B's attribute cache (NFS acregmax 60 s)
	result(p, "recovery", "recovery", rec.Round(100*time.Millisecond), "lease", s.Lease, "bound", bound)
	if rec > bound {
		t.Errorf("%s: B took %v to take over from a killed holder; want < %v", p.Name, rec, bound)
	}
}

// probe runs the probe on each mount of the pair: it must name the
// filesystem, and find the directory usable; its recommendation is reported.
func probe(t *testing.T, p pair, s settings) {
	for _, side := range []struct{ name, dir string }{{"A", p.A}, {"B", p.B}} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		r, err := fsprobe.Probe(ctx, side.dir, fsprobe.Options{Timeout: time.Minute})
		cancel()
		if err != nil {
			t.Errorf("probe of %s (%s): %v", side.dir, side.name, err)
			continue
		}
		rec := r.Recommendation
		result(p, "probe", "side", side.name, "fstype", r.Filesystem.Type, "remote", r.Filesystem.Remote,
			"attr_cache", r.Filesystem.AttrCache, "dir_cache", r.Filesystem.DirCache,
			"usable", rec.Usable, "rec_settle", rec.Settle, "rec_lease", rec.Lease,
			"rec_backoff", fmt.Sprintf("%v-%v", rec.MinBackoff, rec.MaxBackoff))
		if r.Filesystem.Type != s.FSType {
			t.Errorf("probe of %s: filesystem %q; want %q", side.dir, r.Filesystem.Type, s.FSType)
		}
		if !rec.Usable {
			t.Errorf("probe of %s: not usable: %v", side.dir, rec.Warnings)
		}
	}
}

// handoff measures liveness across the mounts: a holder on mount A (this
// process) releases while a waiter on mount B (a helper process, already
// waiting for a while) wants the lock; the time from the release to the
// waiter's acquisition is reported (median and p95 of
// CRYOLOCK_NETFS_HANDOFFS, default 8, or as many, at least 3, as fit in
// CRYOLOCK_NETFS_HANDOFF_BUDGET, default 60s), with the waiter's CPU time per
// second of waiting: with the pair's settings (backoff up to 50 ms), with
// the protocol's default backoff (growing to 1 s) and the same settle and
// lease, and with flock(2) on a file through both mounts. Only that every hand-off
// happened is asserted (timing is reported, never asserted).
func handoff(t *testing.T, p pair, s settings) {
	handoffKinds(t, p, s, "cryolock", "cryolock-default", "flock")
}

// handoffRecommended is the hand-off with the settings of the peer probe's
// joint report, applied as a user applies them (fsprobe.WithReport, by
// the holder on A and the waiter on B): what a user who follows the probe
// gets.
func handoffRecommended(t *testing.T, p pair, s settings) {
	if s, _, ok := jointSettings(t, p, s, "handoff-rec"); ok {
		handoffKinds(t, p, s, "cryolock-rec")
	}
}

// handoffKinds measures the hand-off of each kind and reports it.
func handoffKinds(t *testing.T, p pair, s settings, kinds ...string) {
	n := envInt("CRYOLOCK_NETFS_HANDOFFS", 8)
	for _, kind := range kinds {
		lats, cpu, err := handoffRun(p, s, kind, n)
		if err != nil {
			if kind == "flock" {
				msg := err.Error()
				if i := strings.LastIndex(msg, ": "); i >= 0 {
					msg = msg[i+2:] // the errno's text
				}
				result(p, "handoff-flock", "error", msg)
				continue
			}
			t.Fatalf("%s: %s hand-off: %v", p.Name, kind, err)
		}
		slices.Sort(lats)
		if lats[0] < 0 {
			// The waiter on B acquired while A held: no exclusion.
			if kind != "flock" {
				t.Errorf("%s: %s: the waiter on B acquired %v before A released", p.Name, kind, -lats[0])
			}
			result(p, "handoff-"+kind, "error", "no_exclusion:_B_acquired_while_A_held")
			continue
		}
		med, p95 := lats[len(lats)/2], lats[min(len(lats)-1, (len(lats)*95+99)/100-1)]
		test := map[string]string{"cryolock": "handoff", "cryolock-default": "handoff-default", "cryolock-rec": "handoff-rec", "flock": "handoff-flock"}[kind]
		result(p, test, "n", len(lats), "median", roundLat(med), "p95", roundLat(p95),
			"max", roundLat(lats[len(lats)-1]), "beyond_settle", roundLat(med-s.Settle),
			"waiter_cpu", fmt.Sprintf("%.2f%%", cpu*100), "settle", s.Settle)
	}
}

// startHelper starts a helper process that is told what to do on its stdin
// (returned) and answers a line at a time on its stdout: expect reads the
// next line and returns its fields after the first, which must be prefix.
func startHelper(cmd *exec.Cmd, who string) (io.WriteCloser, func(prefix string) ([]string, error), error) {
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	out := bufio.NewReader(outp)
	expect := func(prefix string) ([]string, error) {
		line, err := out.ReadString('\n')
		f := strings.Fields(line)
		if err != nil || len(f) == 0 || f[0] != prefix {
			return nil, fmt.Errorf("%s said %q (%v), want %s", who, line, err, prefix)
		}
		return f[1:], nil
	}
	return in, expect, nil
}

// maxIdleListings is what a waiter with the default backoff may list the
// lock directory per second, once its backoff has grown, where
// nothing can be watched (issue 15: at most 2; the backoff's ceiling of
// DefaultIdleBackoff gives about 1.3, as TestUnwatchedListingRate checks in
// virtual time).
const maxIdleListings = 2.0

// idleWaiter measures what waiting costs on the pair: a holder on A holds
// for CRYOLOCK_NETFS_IDLE_WAIT (default 20 s) while a waiter on B (a helper
// process with the pair's settle and lease and the default backoff) waits;
// reported are the waiter's CPU time per second of waiting and its listings
// of the lock directory per second after its backoff reached its ceiling
// (from the settle + 1.5 s on: counted by a wrapper of its FS). The listing
// rate is asserted (a count: a slow machine lists less, never more); the
// CPU time is reported only (in the emulated guest every system call costs
// many times its native time: see TestCalibrate).
func idleWaiter(t *testing.T, p pair, s settings) {
	wait := 20 * time.Second
	if d, err := time.ParseDuration(os.Getenv("CRYOLOCK_NETFS_IDLE_WAIT")); err == nil && d > s.Settle+5*time.Second {
		wait = d
	}
	// The holder holds for the whole wait, so its heartbeat must refresh
	// its entry many times; an emulated guest's cifs mount has stalled a
	// refresh past three quarters of the pairs' 12 s lease (the holder was
	// then told it had lost the lock, stop 30's first CI run). The lease
	// plays no part in what is measured here (the waiter's listings and
	// CPU while it waits), so the idle run uses a lease of a minute.
	s.Lease = max(s.Lease, time.Minute)
	cpu, rate, err := idleRun(p, s, wait)
	if err != nil {
		t.Fatalf("%s: idle waiter: %v", p.Name, err)
	}
	result(p, "idle-waiter", "where", runsIn(), "wait", wait, "waiter_cpu", fmt.Sprintf("%.2f%%", cpu*100), "listings_per_s", fmt.Sprintf("%.2f", rate))
	if rate > maxIdleListings {
		t.Errorf("%s: a waiter with the default backoff listed the lock directory %.2f times a second once its backoff had grown, want ≤ %v", p.Name, rate, maxIdleListings)
	}
}

// idleRun runs idleWaiter's measurement once and returns the waiter's CPU
// time per second of waiting and its listings per second once its backoff
// had grown.
func idleRun(p pair, s settings, wait time.Duration) (cpu, rate float64, err error) {
	lockA, lockB := filepath.Join(p.A, "idle.cryolock"), filepath.Join(p.B, "idle.cryolock")
	la, err := protocol.New(lockA, protocol.WithSettle(s.Settle), protocol.WithLease(s.Lease))
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := la.Lock(ctx); err != nil {
		return 0, 0, fmt.Errorf("holder on A: %w", err)
	}
	held := true
	defer func() {
		if held {
			la.Unlock()
		}
	}()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperVar+"=idle", "CRYOLOCK_NETFS_LOCK="+lockB,
		"CRYOLOCK_NETFS_SETTLE_D="+s.Settle.String(), "CRYOLOCK_NETFS_LEASE_D="+s.Lease.String(),
		"CRYOLOCK_NETFS_DEFAULT_BACKOFF=1")
	in, expect, err := startHelper(cmd, "idle waiter")
	if err != nil {
		return 0, 0, err
	}
	defer cmd.Process.Kill()
	if _, err := expect("waiting"); err != nil {
		return 0, 0, err
	}
	// The waiter enters at once (its first round does) and backs off in its
	// check after the settle: its backoff grows from MinBackoff to its
	// ceiling within about a second (at most 1.02 s from 1 ms) after that.
	ramp := s.Settle + 1500*time.Millisecond
	time.Sleep(ramp)
	fmt.Fprintln(in, "first")
	if _, err := expect("noted"); err != nil {
		return 0, 0, err
	}
	time.Sleep(wait - ramp)
	fmt.Fprintln(in, "release")
	if _, err := expect("noted"); err != nil {
		return 0, 0, err
	}
	held = false
	if err := la.Unlock(); err != nil {
		return 0, 0, fmt.Errorf("release on A: %w", err)
	}
	if _, err := expect("acquired"); err != nil {
		return 0, 0, err
	}
	in.Close()
	f, err := expect("idle")
	if err != nil {
		return 0, 0, err
	}
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("idle waiter said idle %q", f)
	}
	cpu, _ = strconv.ParseFloat(f[0], 64)
	rate, _ = strconv.ParseFloat(f[1], 64)
	return cpu, rate, cmd.Wait()
}

// listingFS counts the listings of the FS it wraps (it offers no watch:
// only where none is made anyway, a network or FUSE filesystem).
type listingFS struct {
	protocol.FS
	n atomic.Int64
}

func (c *listingFS) ReadDir(d protocol.Dir) ([]protocol.DirEntry, error) {
	c.n.Add(1)
	return c.FS.ReadDir(d)
}

// idleMain is idleWaiter's helper: it says "waiting" and waits for the lock,
// while it notes its listing count and CPU time at the "first" and
// "release" lines on stdin (answering each with "noted"); once it has the
// lock it says "acquired", then "idle <CPU time per second from the start
// of the wait to release> <listings per second from first to release>",
// and releases.
func idleMain(l *protocol.Lock, cfs *listingFS) error {
	type note struct {
		n   int64
		cpu time.Duration
		at  time.Time
	}
	start := note{cfs.n.Load(), locktest.SelfCPU(), time.Now()}
	notes := make(chan note, 2)
	in := bufio.NewScanner(os.Stdin)
	go func() {
		for in.Scan() && len(notes) < cap(notes) {
			notes <- note{cfs.n.Load(), locktest.SelfCPU(), time.Now()}
			fmt.Println("noted")
		}
	}()
	fmt.Println("waiting")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := l.Lock(ctx); err != nil {
		return err
	}
	if len(notes) < cap(notes) {
		// The holder on A releases only after "release" was noted.
		l.Unlock()
		return fmt.Errorf("the idle waiter acquired the lock before A released it")
	}
	first, release := <-notes, <-notes
	fmt.Println("acquired")
	cpu := (release.cpu - start.cpu).Seconds() / release.at.Sub(start.at).Seconds()
	rate := float64(release.n-first.n) / release.at.Sub(first.at).Seconds()
	fmt.Println("idle", cpu, rate)
	return l.Unlock()
}

// roundLat rounds a latency for the report: to the millisecond from 10 ms,
// else to 10 µs.
func roundLat(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond || d <= -10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

// handoffRun runs n hand-offs from a holder on A to a waiter on B of the
// given kind ("cryolock" or "flock") and returns the latencies and the
// waiter's CPU time per wall-clock time while waiting.
func handoffRun(p pair, s settings, kind string, n int) ([]time.Duration, float64, error) {
	const waitFirst = 1500 * time.Millisecond // the waiter is well into its wait
	lockA, lockB := filepath.Join(p.A, "handoff.cryolock"), filepath.Join(p.B, "handoff.cryolock")
	flockA, flockB := filepath.Join(p.A, "handoff.flock"), filepath.Join(p.B, "handoff.flock")
	if kind == "flock" {
		if err := os.WriteFile(flockA, nil, 0o666); err != nil {
			return nil, 0, err
		}
		waitVisibleErr(flockB)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperVar+"=waiter",
		"CRYOLOCK_NETFS_LOCK="+lockB, "CRYOLOCK_NETFS_KIND="+kind, "CRYOLOCK_NETFS_FLOCK="+flockB,
		"CRYOLOCK_NETFS_SETTLE_D="+s.Settle.String(),
		"CRYOLOCK_NETFS_LEASE_D="+s.Lease.String(),
		"CRYOLOCK_NETFS_BACKOFF_D="+s.MaxBackoff.String())
	opts := s.options()
	switch kind {
	case "cryolock-default":
		cmd.Env = append(cmd.Env, "CRYOLOCK_NETFS_DEFAULT_BACKOFF=1")
		opts = []protocol.Option{protocol.WithSettle(s.Settle), protocol.WithLease(s.Lease)}
	case "cryolock-rec":
		cmd.Env = append(cmd.Env, "CRYOLOCK_NETFS_REPORT="+s.Report)
		o, err := reportOption(s.Report)
		if err != nil {
			return nil, 0, err
		}
		opts = []protocol.Option{o}
	}
	in, expect, err := startHelper(cmd, "waiter")
	if err != nil {
		return nil, 0, err
	}
	defer cmd.Process.Kill()
	var hold func() (func() error, error)
	if kind == "flock" {
		hold = func() (func() error, error) {
			f, err := os.OpenFile(flockA, os.O_RDWR, 0)
			if err != nil {
				return nil, err
			}
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
				f.Close()
				return nil, err
			}
			return f.Close, nil
		}
	} else {
		la, err := protocol.New(lockA, opts...)
		if err != nil {
			return nil, 0, err
		}
		hold = func() (func() error, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if err := la.Lock(ctx); err != nil {
				return nil, err
			}
			return la.Unlock, nil
		}
	}
	var lats []time.Duration
	budget := 60 * time.Second
	if b, err := time.ParseDuration(os.Getenv("CRYOLOCK_NETFS_HANDOFF_BUDGET")); err == nil && b > 0 {
		budget = b
	}
	began := time.Now()
	for i := 0; i < n; i++ {
		if i >= 3 && time.Since(began) > budget {
			break // time-boxed: at least 3 samples
		}
		release, err := hold()
		if err != nil {
			return lats, 0, fmt.Errorf("holder on A, hand-off %d: %w", i, err)
		}
		fmt.Fprintln(in, "lock")
		if _, err := expect("waiting"); err != nil {
			release()
			return lats, 0, err
		}
		time.Sleep(waitFirst)
		released := time.Now()
		if err := release(); err != nil {
			return lats, 0, fmt.Errorf("release on A, hand-off %d: %w", i, err)
		}
		f, err := expect("acquired")
		if err != nil {
			return lats, 0, err
		}
		ns, _ := strconv.ParseInt(f[0], 10, 64)
		lats = append(lats, time.Unix(0, ns).Sub(released))
		fmt.Fprintln(in, "unlock")
		if _, err := expect("released"); err != nil {
			return lats, 0, err
		}
	}
	in.Close()
	f, err := expect("cpu")
	if err != nil {
		return lats, 0, err
	}
	cpu, _ := strconv.ParseFloat(f[0], 64)
	return lats, cpu, cmd.Wait()
}

// waitVisibleErr waits up to a minute for path to be seen.
func waitVisibleErr(path string) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waiterMain is the "waiter" helper of handoff: for each "lock" line on
// stdin it says "waiting", takes the lock (blocking), says "acquired
// <Unix ns>", and on "unlock" releases it and says "released"; at the end
// of stdin it says "cpu <fraction>", its CPU time over the time it waited.
func waiterMain(kind string, l *protocol.Lock, path string) error {
	in := bufio.NewScanner(os.Stdin)
	var waited time.Duration
	var cpuWaiting time.Duration
	var release func() error
	for in.Scan() {
		switch in.Text() {
		case "lock":
			fmt.Println("waiting")
			c0, t0 := locktest.SelfCPU(), time.Now()
			var err error
			if kind == "flock" {
				var f *os.File
				if f, err = os.OpenFile(path, os.O_RDWR, 0); err == nil {
					if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
						f.Close()
					}
					release = f.Close
				}
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				err = l.Lock(ctx)
				cancel()
				release = l.Unlock
			}
			if err != nil {
				return err
			}
			fmt.Println("acquired", time.Now().UnixNano())
			waited += time.Since(t0)
			cpuWaiting += locktest.SelfCPU() - c0
		case "unlock":
			if err := release(); err != nil {
				return err
			}
			fmt.Println("released")
		}
	}
	fmt.Println("cpu", cpuWaiting.Seconds()/max(waited.Seconds(), 1e-9))
	return nil
}

// peerProbe runs `cryolock probe --peer`'s measurement on both mounts at
// once (fsprobe.Probe with Peer, one side per mount) and reports what rule
// C4 relies on — the create-then-list lag across the mounts and whether a
// client's own create refreshes its listing — and the one recommendation
// both sides agreed on. Both sides must report the same recommendation.
// Each mtime measurement is bounded by CRYOLOCK_NETFS_PEER_MEASURE (default
// fsprobe's, 90 s one way): one not seen within it is reported as such (on
// the guest's nfs4 pair an mtime is never seen: FINDINGS.md), and then the
// joint recommendation must have no lease. A run that does not finish
// within CRYOLOCK_NETFS_PEER_TIMEOUT (default 3m) is reported as such (a
// lag longer than that), not failed.
func peerProbe(t *testing.T, p pair, s settings) {
	timeout := 3 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("CRYOLOCK_NETFS_PEER_TIMEOUT")); err == nil && d > 0 {
		timeout = d
	}
	var measure time.Duration // 0: fsprobe's default
	if d, err := time.ParseDuration(os.Getenv("CRYOLOCK_NETFS_PEER_MEASURE")); err == nil && d > 0 {
		measure = d
	}
	var reps [2]fsprobe.Report
	var errs [2]error
	done := make(chan int)
	for i, dir := range []string{p.A, p.B} {
		go func() {
			side := "AB"[i : i+1]
			progress := func(msg string) {
				fmt.Fprintf(os.Stderr, "[peer %s %s %s] %s\n", p.Name, side, time.Now().Format("15:04:05"), msg)
			}
			reps[i], errs[i] = fsprobe.Probe(context.Background(), dir, fsprobe.Options{Timeout: time.Minute, Peer: true, PeerTimeout: timeout, PeerMeasureTimeout: measure, Progress: progress})
			done <- i
		}()
	}
	<-done
	<-done
	for i, err := range errs {
		if errors.Is(err, context.DeadlineExceeded) {
			result(p, "peer", "timed_out", timeout)
			return
		}
		if err != nil {
			t.Fatalf("%s: peer probe side %d: %v", p.Name, i, err)
		}
	}
	v := reps[0].Peer.Verdict
	if v == nil || v.Recommendation == nil || reps[1].Peer.Verdict == nil {
		t.Fatalf("%s: no joint verdict: %+v / %+v", p.Name, reps[0].Peer, reps[1].Peer)
	}
	r0, r1 := reps[0].Recommendation, reps[1].Recommendation
	if r0.Settle != r1.Settle || r0.Lease != r1.Lease {
		t.Errorf("%s: the sides recommend differently: settle %v/%v, lease %v/%v", p.Name, r0.Settle, r1.Settle, r0.Lease, r1.Lease)
	}
	if b, err := json.Marshal(reps[0]); err == nil {
		peerRecs.Store(p.Name, b)
	} else {
		t.Errorf("%s: %v", p.Name, err)
	}
	j := v.Peer
	refresh := "n/a"
	if j.OwnCreateRefreshes != nil {
		refresh = strconv.FormatBool(*j.OwnCreateRefreshes)
	}
	lease := r0.Lease.String()
	if r0.NoLease {
		lease = "None"
	}
	result(p, "peer", "create_list_rtt", roundLat(j.CreateListRTT.Max.D()), "plain_create_rtt", roundLat(j.CreateRTT.Max.D()),
		"own_create_refreshes", refresh, "mtime_fresh_rtt", mtimeSeen(j.MtimeFreshRTT, j.MtimeFreshMissed, j.MeasureTimeout.D()),
		"mtime_stat_rtt", mtimeSeen(j.MtimeRTT, j.MtimeMissed, j.MeasureTimeout.D()),
		"rec_settle", r0.Settle, "rec_lease", lease, "usable", r0.Usable)
	if j.MtimeFreshMissed > 0 && !r0.NoLease {
		t.Errorf("%s: the read+stat mtime was not seen %d times, yet the joint recommendation has lease %v (want None: no heartbeat can be relied on)", p.Name, j.MtimeFreshMissed, r0.Lease)
	}
}

// mtimeSeen renders the mtime round trips of a peer run: the longest seen,
// and how many were not seen within the bound (one way; the leader's round
// trip is bounded by twice it).
func mtimeSeen(st fsprobe.Stats, missed int, bound time.Duration) string {
	switch {
	case missed == 0:
		return roundLat(st.Max.D()).String()
	case st.Samples == 0:
		return fmt.Sprintf("not seen within %v (%d of %d)", bound, missed, missed)
	}
	return fmt.Sprintf("%v, but %d of %d not seen within %v", roundLat(st.Max.D()), missed, missed+st.Samples, bound)
}

// TestRcloneDefaults probes an rclone mount with rclone's default options
// (CRYOLOCK_NETFS_RCLONE_DEFAULT_MOUNT): the probe must find the 5-minute
// listing cache from the mount's command line, recommend a settle that
// covers it and say plainly that the lock is unsafe there without it, and
// which rclone flags shorten the cache.
func TestRcloneDefaults(t *testing.T) {
	dir := os.Getenv("CRYOLOCK_NETFS_RCLONE_DEFAULT_MOUNT")
	if dir == "" {
		t.Skip("no rclone mount with default options (CRYOLOCK_NETFS_RCLONE_DEFAULT_MOUNT)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := fsprobe.Probe(ctx, dir, fsprobe.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rec, f := r.Recommendation, r.Filesystem
	unsafe := ""
	for _, w := range rec.Warnings {
		if strings.Contains(w, "UNSAFE") {
			unsafe = w
		}
	}
	result(pair{Name: "rclone-defaults"}, "probe", "side", "A", "fstype", f.Type, "remote", f.Remote, "attr_cache", f.AttrCache, "dir_cache", f.DirCache,
		"usable", rec.Usable, "rec_settle", rec.Settle, "rec_lease", rec.Lease, "rec_backoff", fmt.Sprintf("%v-%v", rec.MinBackoff, rec.MaxBackoff), "says_unsafe", unsafe != "")
	if f.Type != "fuse.rclone" || f.DirCache.D() != 5*time.Minute || !strings.Contains(f.DirCacheSource, "pid") {
		t.Errorf("%s: filesystem %q, listing cache %v [%s]; want fuse.rclone, 5m from the rclone process", dir, f.Type, f.DirCache, f.DirCacheSource)
	}
	if rec.Settle.D() < 5*time.Minute {
		t.Errorf("%s: settle %v does not cover rclone's 5-minute listing cache", dir, rec.Settle)
	}
	if !strings.Contains(unsafe, "--dir-cache-time") {
		t.Errorf("%s: no warning that the lock is unsafe without the settle or --dir-cache-time: %q", dir, rec.Warnings)
	}
}

// helperMain is a re-executed test binary: "worker" takes the lock N times
// (see TestGate), "holder" takes it once, says "held" and waits to be
// killed, "waiter" serves handoff.
// reportOption reads a probe report (JSON) and applies its
// recommendation, as a user does (fsprobe.WithReport).
func reportOption(file string) (protocol.Option, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var rep fsprobe.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return fsprobe.WithReport(rep), nil
}

func helperMain(mode string) error {
	env := os.Getenv
	dur := func(k string) time.Duration { d, _ := time.ParseDuration(env(k)); return d }
	opts := []protocol.Option{protocol.WithSettle(dur("CRYOLOCK_NETFS_SETTLE_D")), protocol.WithLease(dur("CRYOLOCK_NETFS_LEASE_D"))}
	if env("CRYOLOCK_NETFS_DEFAULT_BACKOFF") == "" {
		opts = append(opts, protocol.WithBackoff(time.Millisecond, dur("CRYOLOCK_NETFS_BACKOFF_D")))
	}
	if f := env("CRYOLOCK_NETFS_REPORT"); f != "" {
		o, err := reportOption(f)
		if err != nil {
			return err
		}
		opts = []protocol.Option{o}
	}
	shared := false
	switch kind := env("CRYOLOCK_NETFS_LOCK_KIND"); {
	case kind == "reader":
		opts, shared = append(opts, protocol.WithShared()), true
	case strings.HasPrefix(kind, "sem"):
		n, err := strconv.Atoi(kind[3:])
		if err != nil {
			return fmt.Errorf("CRYOLOCK_NETFS_LOCK_KIND %q: %w", kind, err)
		}
		opts = append(opts, protocol.WithSlots(n))
	}
	if env("CRYOLOCK_NETFS_DEBUG") != "" {
		h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
		opts = append(opts, protocol.WithLogger(slog.New(h).With("worker", env("CRYOLOCK_NETFS_WORKER"))))
	}
	var cfs *listingFS
	if mode == "idle" {
		cfs = &listingFS{FS: protocol.OSFS()}
		opts = append(opts, protocol.WithFS(cfs))
	}
	l, err := protocol.New(env("CRYOLOCK_NETFS_LOCK"), opts...)
	if err != nil {
		return err
	}
	switch mode {
	case "idle":
		return idleMain(l, cfs)
	case "waiter":
		return waiterMain(env("CRYOLOCK_NETFS_KIND"), l, env("CRYOLOCK_NETFS_FLOCK"))
	case "holder":
		if err := l.Lock(context.Background()); err != nil {
			return err
		}
		fmt.Println("held")
		select {}
	case "worker":
		n, _ := strconv.Atoi(env("CRYOLOCK_NETFS_N"))
		deadline := time.Now().Add(dur("CRYOLOCK_NETFS_DEADLINE_D"))
		var stopAt time.Time
		if ns, err := strconv.ParseInt(env("CRYOLOCK_NETFS_STOP_AT"), 10, 64); err == nil {
			// time-boxed: a wait that began before the box closed may
			// go on for a grace period, then the worker stops
			stopAt = time.Unix(0, ns)
			deadline = stopAt.Add(gateGrace)
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		var iv []locktest.Interval
		var st workStats
		// the counter through this worker's mount, then through the other;
		// none for readers and semaphore holders, who may hold together
		var counter []string
		if k := env("CRYOLOCK_NETFS_LOCK_KIND"); k == "" || k == "mutex" || k == "writer" {
			counter = []string{env("CRYOLOCK_NETFS_COUNTER"), os.Getenv("CRYOLOCK_NETFS_COUNTER_OTHER")}
		}
		runErr := work(ctx, l, n, stopAt, counter, shared, dur("CRYOLOCK_NETFS_HOLD_D"), dur("CRYOLOCK_NETFS_IDLE_D"), env("CRYOLOCK_NETFS_WORKER"), &iv, &st)
		h := env("CRYOLOCK_NETFS_HISTORY")
		return errors.Join(runErr, locktest.WriteHistory(h, iv),
			os.WriteFile(h+".errs", fmt.Appendf(nil, "%d %d %d %d %d", st.lockErrs, st.readRetries, st.maxWait, st.cutShort, st.skipped), 0o644))
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// gateGrace is how long a time-boxed gate's worker may still wait for the
// lock after the box closed.
const gateGrace = 90 * time.Second

// workStats are what a worker counts besides its holds.
type workStats struct {
	lockErrs    int           // failed Lock or Unlock calls (retried)
	readRetries int           // counter reads retried after EIO
	skipped     int           // holds whose counter read failed with EIO throughout: nothing written
	maxWait     time.Duration // longest Lock call
	cutShort    int           // 1 if a wait was cut short by the time box's grace
}

// work takes l n times (or until stopAt, if set); inside each hold it
// increments the counter file (unless counter is empty: its paths through
// the worker's mount and the other, see increment) and sleeps hold,
// and after each release it sleeps idle; its intervals are marked shared
// for a reader. An error from Lock or Unlock
// is counted and the worker goes on (rclone, for one, answers EIO when a
// file it is reading is removed through another mount; the protocol looks
// first after an error); it stops after 50 of them, and at the first counter
// error or lost hold.
func work(ctx context.Context, l *protocol.Lock, n int, stopAt time.Time, counter []string, shared bool, hold, idle time.Duration, name string, iv *[]locktest.Interval, st *workStats) error {
	for i := 0; i < n; {
		if !stopAt.IsZero() && time.Now().After(stopAt) {
			return nil
		}
		t0 := time.Now()
		err := l.Lock(ctx)
		st.maxWait = max(st.maxWait, time.Since(t0))
		if err != nil {
			if !stopAt.IsZero() && ctx.Err() != nil {
				st.cutShort = 1
				return nil
			}
			if ctx.Err() != nil || st.lockErrs >= 50 {
				return fmt.Errorf("acquisition %d: %w", i, err)
			}
			st.lockErrs++
			fmt.Fprintf(os.Stderr, "netfs worker %s: acquisition %d: %v (going on)\n", name, i, err)
			continue
		}
		start := locktest.Now()
		var ierr error
		if len(counter) > 0 {
			var skipped bool
			skipped, ierr = increment(counter, &st.readRetries)
			if skipped {
				st.skipped++
				fmt.Fprintf(os.Stderr, "netfs worker %s: acquisition %d: the counter read failed with EIO for 5 s: not incremented (going on)\n", name, i)
			}
		}
		time.Sleep(hold)
		if !l.Held() {
			ierr = errors.Join(ierr, fmt.Errorf("acquisition %d: lost during the hold", i))
		}
		*iv = append(*iv, locktest.Interval{Worker: name, Start: start, End: locktest.Now(), Shared: shared})
		i++
		if ierr != nil {
			l.Unlock()
			return fmt.Errorf("acquisition %d: %w", i, ierr)
		}
		if err := l.Unlock(); err != nil {
			st.lockErrs++
			fmt.Fprintf(os.Stderr, "netfs worker %s: release %d: %v (going on)\n", name, i, err)
		}
		time.Sleep(idle)
	}
	return nil
}

// increment adds one to the decimal counter in paths[0], the way that is
// exact on NFS (close-to-open consistency): open after acquiring the lock,
// read, rewrite, fsync and close before releasing it. It is deliberately
// not atomic: two holders at once would lose an update. The file is
// rewritten through O_TRUNC, not O_RDWR, as rclone without a VFS cache
// cannot open a file for reading and writing.
//
// A read that fails with EIO is tried again through the other paths (the
// same file through the other mount), then again after 50 ms, for up to
// 5 s (each round counted in *retries), and the file is rewritten through
// the path whose read answered. rclone answered EIO to reads of a file
// another mount had just rewritten — its hash check of the bytes read
// against a hash cached from before the rewrite, at the same size within
// the same second, which --no-checksum ends (see scripts/rclone-up.sh);
// and, under CI's load, now and then to a read that ends early
// ("unexpected EOF" in rclone's log), for seconds on end through one
// mount. If every read for 5 s fails with EIO, nothing is written and
// skipped is true: the caller counts the hold as not incremented, so the
// final count stays exact. An EIO is the filesystem's, not a sign of two
// holders; a lost update would read a stale value (through either mount),
// which the final count catches.
func increment(paths []string, retries *int) (skipped bool, err error) {
	var b []byte
	path := paths[0]
	for try := 0; ; try++ {
		for _, path = range paths {
			if path == "" {
				continue
			}
			if b, err = os.ReadFile(path); !errors.Is(err, syscall.EIO) {
				break
			}
		}
		if !errors.Is(err, syscall.EIO) {
			break
		}
		if try == 100 {
			return true, nil
		}
		*retries++
		time.Sleep(50 * time.Millisecond)
	}
	v := 0
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return false, fmt.Errorf("counter %s: %w", path, err)
	default:
		if s := strings.TrimSpace(string(b)); s != "" {
			if v, err = strconv.Atoi(s); err != nil {
				return false, fmt.Errorf("counter %s: %w", path, err)
			}
		}
	}
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return false, err
	}
	_, werr := w.WriteString(strconv.Itoa(v + 1))
	serr := w.Sync()
	return false, errors.Join(werr, serr, w.Close())
}

// listingLag measures what the settle must cover: how long after a create
// through one mount the other mount's listing shows the new name (the other
// mount listed the directory just before, so a cached listing would show).
// Both directions, 10 samples each; a sample gives up after 15 s.
// Nothing is asserted beyond the measurement finishing; the lags are
// reported next to the settle the other tests use.
func listingLag(t *testing.T, p pair, s settings) {
	var lags []time.Duration
	for i := 0; i < 20; i++ {
		from, to := p.A, p.B
		if i%2 == 1 {
			from, to = p.B, p.A
		}
		if _, err := os.ReadDir(to); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("lag%d", i)
		if err := os.WriteFile(filepath.Join(from, name), nil, 0o666); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		for {
			ents, err := os.ReadDir(to)
			if err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(ents, func(e os.DirEntry) bool { return e.Name() == name }) {
				break
			}
			if time.Since(t0) > 15*time.Second {
				t.Fatalf("%s: %s never listed through %s", p.Name, name, to)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lags = append(lags, time.Since(t0))
	}
	slices.Sort(lags)
	maxLag := lags[len(lags)-1]
	result(p, "listing-lag", "median", lags[len(lags)/2].Round(time.Millisecond), "max", maxLag.Round(time.Millisecond), "settle", s.Settle)
	if maxLag >= s.Settle {
		t.Logf("WARNING: %s: a listing lagged %v, not covered by the settle %v", p.Name, maxLag, s.Settle)
	}
}
