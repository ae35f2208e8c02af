package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/gofrs/flock"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/protocol"
)

// HPCParams describe the HPC workload of issue 15 (item 5) with real
// processes: N jobs on one reader–writer lock, each looping: a read with
// probability Reads (else a write), held for 0.8–1.2 × Hold, then a pause
// of up to Think; Kills jobs are killed with SIGKILL a quarter of the way
// through the run, and their entries must be evicted by the others (lease
// Lease). The simulator's version (sim.HPC, `cryolock sim hpc`) holds for
// about a second; here holds are shorter so that a run of seconds sees
// thousands of reads.
type HPCParams struct {
	N           int
	Reads       float64
	Hold, Think time.Duration
	Dur         time.Duration
	Lease       time.Duration
	Kills       int
}

// HPCResult is one run of the HPC workload.
type HPCResult struct {
	Kind                         string
	Reads, Writes                int // acquisitions by the jobs that ran to the end
	ReadsPerS                    float64
	ReaderLongest, WriterLongest time.Duration
	// CPUPerJobS is the CPU-seconds a job used per second of the run (its
	// waits, holds and pauses): what a batch job pays for the lock.
	CPUPerJobS float64
	CPUPer1000 float64 // CPU-seconds per 1000 acquisitions
	Lost       int     // holds told they lost the lock (Unlock's ErrLost)
	Killed     int
	// Left counts the entries of killed jobs in the lock directory right
	// after the kills, Evicted those of them gone at the end: removed by
	// other jobs, the only ones left to do it. A kernel lock (flock) leaves
	// none: the kernel releases a dead process's locks.
	Left, Evicted int
}

// hpcWorker is what a job of the HPC workload reports.
type hpcWorker struct {
	Reads, Writes             int
	ReadLongest, WriteLongest time.Duration
	CPU                       time.Duration
	Lost                      int
}

// rwLocker is one job's read and write locks of a kind.
type rwLocker struct {
	rlock, runlock, lock, unlock func() error
}

func newRWLocker(kind, path string, lease time.Duration) (rwLocker, error) {
	switch kind {
	case Cryolock, CryolockUnwatched:
		opts := []protocol.Option{protocol.WithLease(lease)}
		if kind == CryolockUnwatched {
			opts = append(opts, protocol.WithoutWatch())
		}
		r, err := protocol.New(path, append(opts, protocol.WithShared())...)
		if err != nil {
			return rwLocker{}, err
		}
		w, err := protocol.New(path, opts...)
		if err != nil {
			return rwLocker{}, err
		}
		ctx := context.Background()
		return rwLocker{func() error { return r.Lock(ctx) }, r.Unlock, func() error { return w.Lock(ctx) }, w.Unlock}, nil
	case Flock:
		f := flock.New(path)
		return rwLocker{f.RLock, f.Unlock, f.Lock, f.Unlock}, nil
	}
	return rwLocker{}, fmt.Errorf("harness: no reader–writer lock of kind %q", kind)
}

// hpcJob is the worker of mode "hpc": it loops until the run's end and
// reports an hpcWorker.
func hpcJob(kind, path string, in *bufio.Reader) error {
	var p HPCParams
	if err := json.Unmarshal([]byte(os.Getenv("CRYOLOCK_BENCH_HPC")), &p); err != nil {
		return fmt.Errorf("CRYOLOCK_BENCH_HPC: %v", err)
	}
	lk, err := newRWLocker(kind, path, p.Lease)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	if _, err := in.ReadString('\n'); err != nil {
		return err
	}
	var r hpcWorker
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	cpu0 := locktest.SelfCPU()
	end := time.Now().Add(p.Dur)
	for time.Now().Before(end) {
		read := rng.Float64() < p.Reads
		lock, unlock := lk.lock, lk.unlock
		if read {
			lock, unlock = lk.rlock, lk.runlock
		}
		t := time.Now()
		if err := lock(); err != nil {
			return err
		}
		if w := time.Since(t); read {
			r.Reads++
			r.ReadLongest = max(r.ReadLongest, w)
		} else {
			r.Writes++
			r.WriteLongest = max(r.WriteLongest, w)
		}
		time.Sleep(time.Duration(float64(p.Hold) * (0.8 + 0.4*rng.Float64())))
		if err := unlock(); errors.Is(err, protocol.ErrLost) {
			r.Lost++
		} else if err != nil {
			return err
		}
		if p.Think > 0 {
			time.Sleep(time.Duration(rng.Int64N(int64(p.Think))))
		}
	}
	r.CPU = locktest.SelfCPU() - cpu0
	return json.NewEncoder(os.Stdout).Encode(r)
}

// HPC runs the HPC workload p with real processes of kind (cryolock,
// cryolock-unwatched or gofrs-flock) in a fresh directory under base.
func HPC(spawn Spawn, base, kind string, p HPCParams) (HPCResult, error) {
	r := HPCResult{Kind: kind}
	dir, err := os.MkdirTemp(base, "hpc")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	path := target(kind, dir)
	params, _ := json.Marshal(p)
	jobs, err := startWorkers(spawn, p.N, envMode+"=hpc", "CRYOLOCK_BENCH_KIND="+kind, "CRYOLOCK_BENCH_PATH="+path, "CRYOLOCK_BENCH_HPC="+string(params))
	defer func() { killWorkers(jobs) }()
	if err != nil {
		return r, err
	}
	start := time.Now()
	for _, j := range jobs {
		io.WriteString(j.in, "go\n")
	}
	// Kill the first Kills jobs (they started in no particular order of
	// their loops) a quarter of the way through, and count their entries.
	killed := map[int]bool{}
	time.Sleep(p.Dur / 4)
	for _, j := range jobs[:min(p.Kills, len(jobs))] {
		if err := j.cmd.Process.Signal(syscall.SIGKILL); err == nil {
			j.cmd.Wait()
			killed[j.cmd.Process.Pid] = true
		}
	}
	r.Killed = len(killed)
	left, err := entriesOf(path, killed)
	if err != nil {
		return r, err
	}
	r.Left = len(left)
	var cpu time.Duration
	for i, j := range jobs {
		if killed[j.cmd.Process.Pid] {
			continue
		}
		var w hpcWorker
		if err := json.NewDecoder(j.out).Decode(&w); err != nil {
			return r, fmt.Errorf("job %d: %v", i, err)
		}
		if err := j.cmd.Wait(); err != nil {
			return r, fmt.Errorf("job %d: %v", i, err)
		}
		r.Reads += w.Reads
		r.Writes += w.Writes
		r.ReaderLongest = max(r.ReaderLongest, w.ReadLongest)
		r.WriterLongest = max(r.WriterLongest, w.WriteLongest)
		r.Lost += w.Lost
		cpu += w.CPU
	}
	jobs = nil
	elapsed := time.Since(start).Seconds()
	if still, err := entriesOf(path, killed); err == nil {
		for _, n := range left {
			if !slices.Contains(still, n) {
				r.Evicted++
			}
		}
	}
	if survivors := p.N - r.Killed; survivors > 0 {
		r.CPUPerJobS = cpu.Seconds() / float64(survivors) / p.Dur.Seconds()
	}
	r.ReadsPerS = float64(r.Reads) / elapsed
	if n := r.Reads + r.Writes; n > 0 {
		r.CPUPer1000 = cpu.Seconds() / float64(n) * 1000
	}
	return r, nil
}

// entriesOf lists the entries in the lock directory path made by the
// processes pids (none if path is not a directory: a flock's lock file).
func entriesOf(path string, pids map[int]bool) ([]string, error) {
	ents, err := os.ReadDir(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && (errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range ents {
		owner, _, ok := nonce.ParseName(e.Name())
		if !ok {
			continue
		}
		if info, ok := nonce.ParseOwner(owner); ok && pids[info.Pid] {
			out = append(out, filepath.Base(e.Name()))
		}
	}
	return out, nil
}
