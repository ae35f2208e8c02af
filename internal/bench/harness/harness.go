// Package harness runs the lock comparisons of issue 15 with real
// processes: cryolock, github.com/gofrs/flock (flock(2)) and a naive
// O_EXCL lock file (create with O_EXCL, poll with a randomised 1–10 ms
// backoff, remove), each looping acquire → hold → release, or holding while
// another process waits. A benchmark or command re-executes its own binary
// as the workers: it calls [WorkerMain] first thing when [IsWorker] says so.
package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

// Kinds of lock compared.
const (
	Cryolock = "cryolock"
	Flock    = "gofrs-flock"
	Excl     = "o_excl"
	// FlockIO is gofrs/flock plus the file operations of a cryolock
	// acquisition (see flockIO): not in the default Kinds.
	FlockIO = "flock-io"
	// CryolockUnwatched is cryolock with the directory watch off
	// (WithoutWatch), as on a network or FUSE filesystem: waiters poll
	// with the backoff that grows to 1 s. Not in the default Kinds.
	CryolockUnwatched = "cryolock-unwatched"
	// Floor is the bare primitives of an uncontended cryolock cycle (see
	// floor): a kind of Uncontended only.
	Floor = "floor"
)

// Kinds lists every kind, ours first.
var Kinds = []string{Cryolock, Flock, Excl}

// locker is one lock of a kind, as a worker uses it.
type locker struct {
	lock, unlock func() error
}

// target is the path a kind locks inside dir.
func target(kind, dir string) string {
	switch kind {
	case Cryolock, CryolockUnwatched:
		return filepath.Join(dir, "l.cryolock")
	case Flock:
		return filepath.Join(dir, "l.flock")
	}
	return filepath.Join(dir, "l.excl")
}

func newLocker(kind, path string) (locker, error) {
	switch kind {
	case Cryolock:
		l, err := protocol.New(path)
		if err != nil {
			return locker{}, err
		}
		return locker{func() error { return l.Lock(context.Background()) }, l.Unlock}, nil
	case CryolockUnwatched:
		l, err := protocol.New(path, protocol.WithoutWatch())
		if err != nil {
			return locker{}, err
		}
		return locker{func() error { return l.Lock(context.Background()) }, l.Unlock}, nil
	case Flock:
		f := flock.New(path)
		return locker{f.Lock, f.Unlock}, nil
	case Excl:
		return locker{func() error { return exclLock(path) }, func() error { return os.Remove(path) }}, nil
	case FlockIO:
		f := flock.New(path)
		entry := path + ".entry"
		lock := func() error {
			if err := f.Lock(); err != nil {
				return err
			}
			return flockIO(filepath.Dir(path), entry)
		}
		unlock := func() error {
			if err := os.Remove(entry); err != nil {
				return err
			}
			return f.Unlock()
		}
		return locker{lock, unlock}, nil
	}
	return locker{}, fmt.Errorf("harness: unknown kind %q", kind)
}

// flockIO does, under a flock, the file operations of one uncontended
// cryolock acquisition: list the directory, create the entry (exclusive
// create, write, close), stamp it, list again. With the removal at unlock,
// flock-io is what cryolock's acquisitions would cost if its hand-offs
// were flock's: the floor of any design that keeps the protocol's I/O.
func flockIO(dir, entry string) error {
	if _, err := os.ReadDir(dir); err != nil {
		return err
	}
	f, err := os.OpenFile(entry, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte("lease 30s\n")); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	now := time.Now()
	if err := os.Chtimes(entry, now, now); err != nil {
		return err
	}
	_, err = os.ReadDir(dir)
	return err
}

// exclLock is the naive lock: create with O_EXCL, else sleep 1–10 ms
// (randomised, doubling) and try again.
func exclLock(path string) error {
	d := time.Millisecond
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			return f.Close()
		}
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		time.Sleep(d/2 + time.Duration(rand.Int64N(int64(d/2))))
		d = min(2*d, 10*time.Millisecond)
	}
}

const envMode = "CRYOLOCK_BENCH_WORKER"

// EnvProfile names a directory: if it is set, every looping worker of a
// contended run writes a CPU profile of its loop there (KIND-PID.pprof), to
// read with go tool pprof. Workers inherit it from the parent's environment.
const EnvProfile = "CRYOLOCK_BENCH_CPUPROFILE"

// IsWorker reports whether this process was started as a worker.
func IsWorker() bool { return os.Getenv(envMode) != "" }

// WorkerMain runs the worker the environment describes and exits.
func WorkerMain() {
	if err := worker(os.Getenv(envMode)); err != nil {
		fmt.Fprintln(os.Stderr, "harness worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// WorkerResult is what a looping worker reports.
type WorkerResult struct {
	Count    int           // acquisitions
	Handoffs int           // acquisitions that followed another process's hold
	Longest  time.Duration // longest single wait
	CPU      time.Duration // CPU time of the loop (user + system)
}

func worker(mode string) error {
	kind, path := os.Getenv("CRYOLOCK_BENCH_KIND"), os.Getenv("CRYOLOCK_BENCH_PATH")
	in := bufio.NewReader(os.Stdin)
	if mode == "hpc" {
		return hpcJob(kind, path, in) // hpc.go
	}
	lk, err := newLocker(kind, path)
	if err != nil {
		return err
	}
	switch mode {
	case "loop":
		hold, _ := time.ParseDuration(os.Getenv("CRYOLOCK_BENCH_HOLD"))
		dur, _ := time.ParseDuration(os.Getenv("CRYOLOCK_BENCH_DUR"))
		// Who held last, for counting hand-offs: a file beside the lock,
		// opened once and read and rewritten in place (pread, and pwrite
		// on a hand-off), so that the bookkeeping costs each kind two
		// system calls at most per acquisition, not six.
		last, err := os.OpenFile(filepath.Join(filepath.Dir(path), "last"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return err
		}
		defer last.Close()
		me := fmt.Sprintf("%-10d", os.Getpid())
		prev := make([]byte, len(me))
		fmt.Println("ready")
		if _, err := in.ReadString('\n'); err != nil {
			return err
		}
		var r WorkerResult
		if dir := os.Getenv(EnvProfile); dir != "" {
			// A CPU profile of the loop, one file per worker.
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", kind, os.Getpid())))
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		cpu0 := locktest.SelfCPU()
		end := time.Now().Add(dur)
		for time.Now().Before(end) {
			t := time.Now()
			if err := lk.lock(); err != nil {
				return err
			}
			r.Longest = max(r.Longest, time.Since(t))
			r.Count++
			if n, _ := last.ReadAt(prev, 0); string(prev[:n]) != me {
				r.Handoffs++
				if _, err := last.WriteAt([]byte(me), 0); err != nil {
					return err
				}
			}
			spin(hold)
			if err := lk.unlock(); err != nil {
				return err
			}
		}
		r.CPU = locktest.SelfCPU() - cpu0
		return json.NewEncoder(os.Stdout).Encode(r)
	case "wait":
		// On each line: wait for the lock, print the monotonic time it
		// was acquired at, release it.
		fmt.Println("ready")
		for {
			if _, err := in.ReadString('\n'); err != nil {
				return nil
			}
			fmt.Println("waiting")
			if err := lk.lock(); err != nil {
				return err
			}
			fmt.Println(locktest.Now())
			if err := lk.unlock(); err != nil {
				return err
			}
		}
	case "cycles":
		n, _ := strconv.Atoi(os.Getenv("CRYOLOCK_BENCH_N"))
		for i := 0; i < n; i++ {
			if err := lk.lock(); err != nil {
				return err
			}
			if err := lk.unlock(); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// spin holds for d: a sleep, as a holder doing I/O would.
func spin(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}

// Spawn starts a worker: self is the command that re-executes the binary
// (for a test binary, with -test.run=^$).
type Spawn func(env ...string) *exec.Cmd

// LoopResult is one run of N looping processes.
type LoopResult struct {
	Kind         string
	N            int
	Acquisitions int
	AcqPerS      float64
	HandoffsPerS float64
	CPUPer1000   float64 // CPU-seconds per 1000 acquisitions
	Jain         float64 // Jain's fairness index of the per-process counts
	Longest      time.Duration
	Counts       []int
}

// Loop runs n processes of kind in a fresh directory under base, each
// looping acquire → hold → release for dur.
func Loop(spawn Spawn, base, kind string, n int, hold, dur time.Duration) (LoopResult, error) {
	dir, err := os.MkdirTemp(base, "loop")
	if err != nil {
		return LoopResult{}, err
	}
	defer os.RemoveAll(dir)
	ps, err := startWorkers(spawn, n, envMode+"=loop", "CRYOLOCK_BENCH_KIND="+kind, "CRYOLOCK_BENCH_PATH="+target(kind, dir),
		"CRYOLOCK_BENCH_HOLD="+hold.String(), "CRYOLOCK_BENCH_DUR="+dur.String())
	defer func() { killWorkers(ps) }()
	if err != nil {
		return LoopResult{}, err
	}
	for _, p := range ps {
		io.WriteString(p.in, "go\n")
	}
	r := LoopResult{Kind: kind, N: n}
	var cpu time.Duration
	handoffs := 0
	for i, p := range ps {
		var w WorkerResult
		if err := json.NewDecoder(p.out).Decode(&w); err != nil {
			return r, fmt.Errorf("worker %d: %v", i, err)
		}
		if err := p.cmd.Wait(); err != nil {
			return r, fmt.Errorf("worker %d: %v", i, err)
		}
		r.Counts = append(r.Counts, w.Count)
		r.Acquisitions += w.Count
		handoffs += w.Handoffs
		cpu += w.CPU
		r.Longest = max(r.Longest, w.Longest)
	}
	ps = nil
	secs := dur.Seconds()
	r.AcqPerS = float64(r.Acquisitions) / secs
	r.HandoffsPerS = float64(handoffs) / secs
	if r.Acquisitions > 0 {
		r.CPUPer1000 = cpu.Seconds() / float64(r.Acquisitions) * 1000
	}
	r.Jain = Jain(r.Counts)
	return r, nil
}

// workerProc is a started worker process.
type workerProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startWorkers starts n workers with env, one after the other, each once
// the previous one said it was ready. It returns those it started, also
// with an error: the caller kills them (killWorkers) when done.
func startWorkers(spawn Spawn, n int, env ...string) ([]workerProc, error) {
	var ps []workerProc
	for i := 0; i < n; i++ {
		cmd := spawn(env...)
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			return ps, err
		}
		p := workerProc{cmd, in, bufio.NewReader(out)}
		ps = append(ps, p)
		if line, err := p.out.ReadString('\n'); err != nil || line != "ready\n" {
			return ps, fmt.Errorf("worker %d: %q %v", i, line, err)
		}
	}
	return ps, nil
}

// killWorkers kills the workers ps that are still running and reaps them.
func killWorkers(ps []workerProc) {
	for _, p := range ps {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

// Jain is Jain's fairness index of xs: (Σx)² / (n Σx²), 1 when all are
// equal, 1/n when one process got everything.
func Jain(xs []int) float64 {
	var s, s2 float64
	for _, x := range xs {
		s += float64(x)
		s2 += float64(x) * float64(x)
	}
	if s2 == 0 {
		return 0
	}
	return s * s / (float64(len(xs)) * s2)
}

// IdleResult is what one waiting process costs while another holds.
type IdleResult struct {
	Kind             string
	WaiterCPUPercent float64 // of one core, while waiting
	WakeMedian       time.Duration
	WakeMax          time.Duration
}

// Idle holds the lock of kind in this process for hold, rounds times,
// while a worker process waits for it; it reports the waiter's CPU and the
// wake-up latency (from Unlock returning here to Lock returning there).
func Idle(spawn Spawn, base, kind string, rounds int, hold time.Duration) (IdleResult, error) {
	dir, err := os.MkdirTemp(base, "idle")
	if err != nil {
		return IdleResult{}, err
	}
	defer os.RemoveAll(dir)
	path := target(kind, dir)
	lk, err := newLocker(kind, path)
	if err != nil {
		return IdleResult{}, err
	}
	cmd := spawn(envMode+"=wait", "CRYOLOCK_BENCH_KIND="+kind, "CRYOLOCK_BENCH_PATH="+path)
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return IdleResult{}, err
	}
	defer func() { in.Close(); cmd.Wait() }()
	out := bufio.NewReader(outp)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		return IdleResult{}, fmt.Errorf("waiter: %q %v", line, err)
	}
	var wakes []time.Duration
	var waiterCPU, wall time.Duration
	for i := 0; i < rounds; i++ {
		if err := lk.lock(); err != nil {
			return IdleResult{}, err
		}
		io.WriteString(in, "go\n")
		if line, err := out.ReadString('\n'); err != nil || line != "waiting\n" {
			return IdleResult{}, fmt.Errorf("waiter: %q %v", line, err)
		}
		time.Sleep(hold / 10) // let it settle into waiting
		c0, t0 := ChildCPU(cmd.Process.Pid), time.Now()
		time.Sleep(hold)
		waiterCPU += ChildCPU(cmd.Process.Pid) - c0
		wall += time.Since(t0)
		if err := lk.unlock(); err != nil {
			return IdleResult{}, err
		}
		released := locktest.Now()
		line, err := out.ReadString('\n')
		if err != nil {
			return IdleResult{}, err
		}
		got, _ := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		wakes = append(wakes, time.Duration(got-released))
	}
	sort.Slice(wakes, func(i, j int) bool { return wakes[i] < wakes[j] })
	return IdleResult{Kind: kind, WaiterCPUPercent: 100 * waiterCPU.Seconds() / wall.Seconds(),
		WakeMedian: wakes[len(wakes)/2], WakeMax: wakes[len(wakes)-1]}, nil
}

// ChildCPU reads a running process's CPU time from /proc/PID/stat (0 if
// it cannot).
func ChildCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// Uncontended times n lock+unlock cycles of each of kinds ([Floor] among
// them: the bare primitives) in this process, each in a fresh directory
// under base, in batches of 100 that take turns between the kinds, and
// returns for each kind the time per cycle of its fastest batch (on a
// shared machine the minimum is what survives other load; taking turns
// gives every kind the same moments of the machine, so that the ratios do
// not drift with it).
func Uncontended(base string, kinds []string, n int) (map[string]time.Duration, error) {
	const batch = 100
	cycles := make([]func() error, len(kinds))
	for i, kind := range kinds {
		dir, err := os.MkdirTemp(base, "unc")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if kind == Floor {
			c, done, err := floor(dir)
			if err != nil {
				return nil, err
			}
			defer done()
			cycles[i] = c
			continue
		}
		lk, err := newLocker(kind, target(kind, dir))
		if err != nil {
			return nil, err
		}
		cycles[i] = func() error {
			if err := lk.lock(); err != nil {
				return err
			}
			return lk.unlock()
		}
	}
	best := map[string]time.Duration{}
	for done := 0; done < n; done += batch {
		for i, kind := range kinds {
			t := time.Now()
			for j := 0; j < batch; j++ {
				if err := cycles[i](); err != nil {
					return nil, fmt.Errorf("%s: %w", kind, err)
				}
			}
			d := time.Since(t) / batch
			if b, ok := best[kind]; !ok || d < b {
				best[kind] = d
			}
		}
	}
	return best, nil
}

// floor returns the primitives of an uncontended cryolock cycle done
// directly: one create+write, one listing, one removal, in an open
// directory; done closes it.
func floor(dir string) (cycle func() error, done func() error, err error) {
	fsys := protocol.OSFS()
	d, err := fsys.OpenDir(nil, filepath.Join(dir, "f.cryolock"), true, 0o777)
	if err != nil {
		return nil, nil, err
	}
	i := 0
	return func() error {
		i++
		p := "owner_" + strconv.Itoa(i) + ".1"
		if err := fsys.WriteFile(d, p, []byte("10"), 0o666); err != nil {
			return err
		}
		if _, err := fsys.ReadDir(d); err != nil {
			return err
		}
		return fsys.Remove(d, p)
	}, d.Close, nil
}

// Syscalls counts the system calls of one lock+unlock cycle of kind with
// strace (-f -c, leaving out the runtime's own): the difference between a worker doing n cycles and one
// doing none, divided by n. It returns an error if strace is missing.
func Syscalls(self []string, base, kind string, n int) (float64, error) {
	if _, err := exec.LookPath("strace"); err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp(base, "sys")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	count := func(k int) (int, error) {
		out := filepath.Join(dir, "strace"+strconv.Itoa(k))
		// Only the calls a cycle makes: not the runtime's scheduling
		// (futex, nanosleep, signals, memory), which grows with time.
		args := append([]string{"-f", "-c", "-o", out, "-e",
			"trace=!futex,nanosleep,sched_yield,rt_sigreturn,rt_sigprocmask,rt_sigaction,tgkill,getpid,gettid,mmap,munmap,madvise,clone,clone3,epoll_pwait,epoll_wait,sigaltstack,exit_group"}, self...)
		cmd := exec.Command("strace", args...)
		cmd.Env = append(os.Environ(), envMode+"=cycles", "CRYOLOCK_BENCH_KIND="+kind,
			"CRYOLOCK_BENCH_PATH="+target(kind, dir), "CRYOLOCK_BENCH_N="+strconv.Itoa(k))
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return 0, err
		}
		raw, err := os.ReadFile(out)
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(raw), "\n") {
			f := strings.Fields(line)
			if len(f) >= 4 && f[len(f)-1] == "total" {
				return strconv.Atoi(f[3])
			}
		}
		return 0, fmt.Errorf("no total in strace output")
	}
	zero, err := count(0)
	if err != nil {
		return 0, err
	}
	many, err := count(n)
	if err != nil {
		return 0, err
	}
	return float64(many-zero) / float64(n), nil
}
