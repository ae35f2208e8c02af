package protocol_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/cryolock-go/cryolock/internal/bench/harness"
	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

// The scale benchmark's workers are this test binary, re-executed.
func init() {
	if harness.IsWorker() {
		harness.WorkerMain()
	}
}

// The benchmarks compare, in one run, the lock with the primitives it is
// made of and with github.com/gofrs/flock (flock(2): a kernel lock that is
// fast but missing or local-only on the filesystems this package is for).
//
//	go test -run '^$' -bench . -benchtime 2000x ./protocol/

// BenchmarkUncontended measures one Lock+Unlock with nobody else around.
func BenchmarkUncontended(b *testing.B) {
	ctx := context.Background()
	b.Run("cryolock", func(b *testing.B) {
		l, err := protocol.New(filepath.Join(b.TempDir(), "b.cryolock"))
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
			if err := l.Lock(ctx); err != nil {
				b.Fatal(err)
			}
			if err := l.Unlock(); err != nil {
				b.Fatal(err)
			}
		}
	})
	// floor: the primitives of an uncontended cycle done directly — one
	// create+write, one listing, one removal.
	b.Run("floor", func(b *testing.B) {
		dir := filepath.Join(b.TempDir(), "f.cryolock")
		if err := os.Mkdir(dir, 0o777); err != nil {
			b.Fatal(err)
		}
		fsys := protocol.OSFS()
		d, err := fsys.OpenDir(nil, dir, false, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		for i := 0; i < b.N; i++ {
			// A fresh name each time, as the lock uses.
			p := "owner_" + strconv.Itoa(i) + ".1"
			if err := fsys.WriteFile(d, p, []byte("10"), 0o666); err != nil {
				b.Fatal(err)
			}
			if _, err := fsys.ReadDir(d); err != nil {
				b.Fatal(err)
			}
			if err := fsys.Remove(d, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gofrs-flock", func(b *testing.B) {
		f := flock.New(filepath.Join(b.TempDir(), "f.lock"))
		defer f.Close()
		for i := 0; i < b.N; i++ {
			if err := f.Lock(); err != nil {
				b.Fatal(err)
			}
			if err := f.Unlock(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkContended4 runs 4 processes that take the same lock b.N times in
// all (each takes it until the shared total is reached) and reports the CPU
// time they burned in their lock loops (process start-up excluded) per 1000
// acquisitions, each process's share and the longest single wait. Inside
// each hold a process reads and rewrites a counter file.
func BenchmarkContended4(b *testing.B) {
	for _, kind := range []string{"cryolock", "gofrs-flock"} {
		b.Run(kind, func(b *testing.B) {
			const procs = 4
			dir := b.TempDir()
			target := filepath.Join(dir, "t.cryolock")
			if kind != "cryolock" {
				target = filepath.Join(dir, "t.lock")
			}
			counter := filepath.Join(dir, "counter")
			os.WriteFile(counter, []byte("0"), 0o644)
			var cmds []*exec.Cmd
			b.ResetTimer()
			for i := 0; i < procs; i++ {
				cmd := helperCmd(b, "contend",
					"CRYOLOCK_KIND="+kind, "CRYOLOCK_LOCK="+target, "CRYOLOCK_COUNTER="+counter,
					"CRYOLOCK_N="+strconv.Itoa(b.N), "CRYOLOCK_HISTORY="+filepath.Join(dir, fmt.Sprint("r", i)))
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				cmds = append(cmds, cmd)
			}
			for _, c := range cmds {
				if err := c.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			var counts []string
			var longest, cpu time.Duration
			total := 0
			for i := 0; i < procs; i++ {
				raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprint("r", i)))
				if err != nil {
					b.Fatal(err)
				}
				var n int
				var w, c time.Duration
				fmt.Sscanf(string(raw), "%d %d %d", &n, &w, &c)
				total += n
				cpu += c
				counts = append(counts, strconv.Itoa(n))
				longest = max(longest, w)
			}
			if total != b.N {
				b.Fatalf("processes report %d acquisitions, want %d", total, b.N)
			}
			b.ReportMetric(cpu.Seconds()/float64(b.N)*1000, "cpu-s/1000acq")
			b.ReportMetric(float64(longest.Microseconds())/1000, "max-wait-ms")
			b.Logf("%s: per-process acquisitions %s; longest wait %v; CPU %v for %d", kind, strings.Join(counts, "/"), longest, cpu, b.N)
		})
	}
}

// contend is the helper of BenchmarkContended4: take the lock until the
// shared counter reaches N, report "count longest-wait-ns".
func contend() error {
	kind, target, counter := os.Getenv("CRYOLOCK_KIND"), os.Getenv("CRYOLOCK_LOCK"), os.Getenv("CRYOLOCK_COUNTER")
	n, _ := strconv.Atoi(os.Getenv("CRYOLOCK_N"))
	var lock, unlock func() error
	if kind == "cryolock" {
		l, err := protocol.New(target)
		if err != nil {
			return err
		}
		lock = func() error { return l.Lock(context.Background()) }
		unlock = l.Unlock
	} else {
		f := flock.New(target)
		lock, unlock = f.Lock, f.Unlock
	}
	mine := 0
	var longest time.Duration
	cpu0 := locktest.SelfCPU()
	for {
		t := time.Now()
		if err := lock(); err != nil {
			return err
		}
		longest = max(longest, time.Since(t))
		v, err := locktest.ReadCounter(counter)
		if err != nil {
			return err
		}
		done := v >= n
		if !done {
			if err := os.WriteFile(counter, []byte(strconv.Itoa(v+1)), 0o644); err != nil {
				return err
			}
			mine++
		}
		if err := unlock(); err != nil {
			return err
		}
		if done {
			break
		}
	}
	cpu := locktest.SelfCPU() - cpu0
	return os.WriteFile(os.Getenv("CRYOLOCK_HISTORY"), []byte(fmt.Sprintf("%d %d %d\n", mine, longest, cpu)), 0o644)
}

// BenchmarkIdle measures what an idle holder and an idle waiter cost: the
// holder keeps the lock for 2 s per iteration while a waiter process waits
// for it; reported as percent of one core each. It also reports the median
// and worst wake-up latency: from the holder's Unlock returning to the
// waiter's Lock returning, on the machine's monotonic clock.
func BenchmarkIdle(b *testing.B) {
	const hold = 2 * time.Second
	dir := b.TempDir()
	path := filepath.Join(dir, "i.cryolock")
	cmd := helperCmd(b, "waiter", "CRYOLOCK_LOCK="+path)
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	out := bufio.NewReader(outp)
	l, err := protocol.New(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var (
		wakes             []time.Duration
		holderCPU, waiter time.Duration
		wall              time.Duration
	)
	// Each round lasts 2 s, so at most 5 rounds whatever -benchtime says.
	for i := 0; i < min(b.N, 5); i++ {
		if err := l.Lock(ctx); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintln(in, "go") // the waiter starts waiting
		line, err := out.ReadString('\n')
		if err != nil || line != "waiting\n" {
			b.Fatalf("waiter: %q %v", line, err)
		}
		w0 := childCPU(b, cmd.Process.Pid)
		h0 := locktest.SelfCPU()
		t0 := time.Now()
		time.Sleep(hold)
		wall += time.Since(t0)
		holderCPU += locktest.SelfCPU() - h0
		waiter += childCPU(b, cmd.Process.Pid) - w0
		if err := l.Unlock(); err != nil {
			b.Fatal(err)
		}
		released := locktest.Now()
		line, err = out.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		got, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "acquired ")), 10, 64)
		wakes = append(wakes, time.Duration(got-released))
		if _, err := out.ReadString('\n'); err != nil { // "released"
			b.Fatal(err)
		}
	}
	in.Close()
	cmd.Wait()
	slices.Sort(wakes)
	b.ReportMetric(100*holderCPU.Seconds()/wall.Seconds(), "holder-%core")
	b.ReportMetric(100*waiter.Seconds()/wall.Seconds(), "waiter-%core")
	b.ReportMetric(float64(wakes[len(wakes)/2].Microseconds())/1000, "wake-median-ms")
	b.ReportMetric(float64(wakes[len(wakes)-1].Microseconds())/1000, "wake-max-ms")
}

// waiter is the helper of BenchmarkIdle: on each "go" line, wait for the
// lock, print "acquired <monotonic ns>", release it, print "released".
func waiter() error {
	l, err := protocol.New(os.Getenv("CRYOLOCK_LOCK"))
	if err != nil {
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Println("waiting")
		if err := l.Lock(context.Background()); err != nil {
			return err
		}
		fmt.Printf("acquired %d\n", locktest.Now())
		if err := l.Unlock(); err != nil {
			return err
		}
		fmt.Println("released")
	}
	return in.Err()
}

// BenchmarkReaders4 compares 4 goroutines taking a read lock (they share it)
// with 4 goroutines taking a mutex (they take turns), each with its own lock
// value on one directory, b.N acquisitions in all. Each hold reads a small
// file, as a reader of a shared cache would.
func BenchmarkReaders4(b *testing.B) {
	for _, kind := range []string{"rwlock-readers", "mutex"} {
		b.Run(kind, func(b *testing.B) {
			dir := b.TempDir()
			path := filepath.Join(dir, "r.cryolock")
			data := filepath.Join(dir, "data")
			os.WriteFile(data, []byte("payload"), 0o644)
			ctx := context.Background()
			var left atomic.Int64
			left.Store(int64(b.N))
			var wg sync.WaitGroup
			b.ResetTimer()
			for g := 0; g < 4; g++ {
				var lock func(context.Context) error
				var unlock func() error
				if kind == "mutex" {
					l, _ := protocol.New(path)
					lock, unlock = l.Lock, l.Unlock
				} else {
					rw, _ := newRW(path)
					lock, unlock = rw.RLock, rw.RUnlock
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for left.Add(-1) >= 0 {
						if err := lock(ctx); err != nil {
							b.Error(err)
							return
						}
						if _, err := os.ReadFile(data); err != nil {
							b.Error(err)
						}
						if err := unlock(); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// BenchmarkWaiters200 parks 200 waiting Lock values of one process on a held
// lock and reports what they cost: the OS threads they keep blocked in a
// system call, and inotify descriptors of the process while they wait
// (watched: the lock directory is on a local filesystem), and listings per
// second per waiter on a filesystem that cannot be watched (the same
// directory through an FS that offers no directory watch), after the
// waiters have waited 3 s. extra-threads is every thread the process gained
// meanwhile, idle ones included: the runtime starts threads while the 200
// waiters start at once and keeps them (from 5 to about 100, run to run).
//
//	go test -run '^$' -bench Waiters200 -benchtime 1x ./protocol/
func BenchmarkWaiters200(b *testing.B) {
	const waiters = 200
	for _, watched := range []bool{true, false} {
		name := "watched"
		if !watched {
			name = "unwatched"
		}
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "w.cryolock")
			holder, err := protocol.New(path)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if err := holder.Lock(ctx); err != nil {
				b.Fatal(err)
			}
			threads0, inotify0, blocked0 := procThreads(b), inotifyFDs(b), blockedThreads(b)
			var fsys protocol.FS = noWatchFS{protocol.OSFS()}
			if watched {
				fsys = protocol.OSFS()
			}
			fsys, listings := protocol.CountListings(fsys)
			var wg sync.WaitGroup
			for i := 0; i < waiters; i++ {
				l, err := protocol.New(path, protocol.WithFS(fsys))
				if err != nil {
					b.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := l.Lock(ctx); err == nil {
						b.Error("a waiter acquired a held lock")
					}
				}()
			}
			time.Sleep(3 * time.Second)
			threads, inotify, blocked := procThreads(b), inotifyFDs(b), blockedThreads(b)
			n0 := listings()
			const window = 3 * time.Second
			time.Sleep(window)
			n := listings() - n0
			cancel()
			wg.Wait()
			holder.Unlock()
			b.ReportMetric(float64(threads-threads0), "extra-threads")
			b.ReportMetric(float64(blocked-blocked0), "blocked-threads")
			b.ReportMetric(float64(inotify-inotify0), "inotify-fds")
			b.ReportMetric(float64(n)/window.Seconds()/waiters, "listings/s/waiter")
		})
	}
}

// noWatchFS hides the OS filesystem's directory watch.
type noWatchFS struct{ protocol.FS }

// procThreads is the number of OS threads of this process.
func procThreads(b *testing.B) int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc")
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	b.Fatal("no Threads line in /proc/self/status")
	return 0
}

// inotifyFDs counts this process's inotify descriptors.
func inotifyFDs(b *testing.B) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		b.Skip("no /proc")
	}
	n := 0
	for _, e := range ents {
		if t, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && t == "anon_inode:inotify" {
			n++
		}
	}
	return n
}

// BenchmarkTryLockRace: rounds of 8 goroutines, each with its own Lock
// value, calling TryLock on a free lock at the same instant. It reports in
// how many of the rounds exactly one won and in how many nobody did; two
// winners in a round would break mutual exclusion and fail the benchmark.
// b.N is the number of rounds (-benchtime 300x for the figure).
func BenchmarkTryLockRace(b *testing.B) {
	const racers = 8
	path := filepath.Join(b.TempDir(), "t.cryolock")
	ls := make([]*protocol.Lock, racers)
	for i := range ls {
		l, err := protocol.New(path)
		if err != nil {
			b.Fatal(err)
		}
		ls[i] = l
	}
	ctx := context.Background()
	one, none := 0, 0
	for round := 0; round < b.N; round++ {
		start := make(chan struct{})
		won := make([]bool, racers)
		var wg sync.WaitGroup
		for i, l := range ls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := l.TryLock(ctx)
				if err != nil {
					b.Error(err)
				}
				won[i] = ok
			}()
		}
		close(start)
		wg.Wait()
		n := 0
		for i, w := range won {
			if w {
				n++
				if err := ls[i].Unlock(); err != nil {
					b.Fatal(err)
				}
			}
		}
		switch n {
		case 0:
			none++
		case 1:
			one++
		default:
			b.Fatalf("round %d: %d TryLock winners at once", round, n)
		}
	}
	b.ReportMetric(float64(one), "rounds-one-winner")
	b.ReportMetric(float64(none), "rounds-no-winner")
}

// BenchmarkScale runs N processes (2 to 64) on /dev/shm, each looping
// acquire → 1 ms hold → release for 3 s, for cryolock and gofrs/flock in the
// same run, and reports acquisitions and true hand-offs per second, CPU
// seconds per 1000 acquisitions, Jain's index of the per-process counts and
// the longest single wait. The whole comparison table, with ratios, is
// `go run ./internal/bench`.
//
//	go test -run '^$' -bench Scale -benchtime 1x ./protocol/
func BenchmarkScale(b *testing.B) {
	base, spawn := harnessSetup(b)
	for _, n := range []int{2, 4, 8, 16, 32, 64} {
		for _, kind := range []string{harness.Cryolock, harness.Flock} {
			b.Run(fmt.Sprintf("%s/N=%d", kind, n), func(b *testing.B) {
				r, err := harness.Loop(spawn, base, kind, n, time.Millisecond, 3*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.AcqPerS, "acq/s")
				b.ReportMetric(r.HandoffsPerS, "handoffs/s")
				b.ReportMetric(r.CPUPer1000, "cpu-s/1000acq")
				b.ReportMetric(r.Jain, "jain")
				b.ReportMetric(float64(r.Longest.Microseconds())/1000, "max-wait-ms")
			})
		}
	}
}

// BenchmarkHPC runs the HPC workload of issue 15 (item 5) with 100 real
// processes on /dev/shm: a reader–writer lock, 99% reads held about 100 ms,
// 1% writes, four jobs killed mid-run whose entries the others must evict;
// ours (watched, and unwatched as on a network filesystem) beside
// gofrs/flock's reader–writer flock in the same run. It reports the readers'
// throughput, the longest writer and reader waits, CPU per job-second and
// per 1000 acquisitions, and the killed jobs' entries left unevicted (none
// expected). The table is `go run ./internal/bench -only hpc`; the
// simulator's version, with the writers' bound, is `cryolock sim hpc`.
//
//	go test -run '^$' -bench HPC -benchtime 1x ./protocol/
func BenchmarkHPC(b *testing.B) {
	base, spawn := harnessSetup(b)
	p := harness.HPCParams{N: 100, Reads: 0.99, Hold: 100 * time.Millisecond, Think: 200 * time.Millisecond,
		Dur: 10 * time.Second, Lease: 3 * time.Second, Kills: 4}
	for _, kind := range []string{harness.Cryolock, harness.CryolockUnwatched, harness.Flock} {
		b.Run(kind, func(b *testing.B) {
			r, err := harness.HPC(spawn, base, kind, p)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.ReadsPerS, "reads/s")
			b.ReportMetric(float64(r.WriterLongest.Milliseconds()), "max-writer-wait-ms")
			b.ReportMetric(float64(r.ReaderLongest.Milliseconds()), "max-reader-wait-ms")
			b.ReportMetric(r.CPUPerJobS, "cpu-s/job-s")
			b.ReportMetric(r.CPUPer1000, "cpu-s/1000acq")
			b.ReportMetric(float64(r.Left-r.Evicted), "unevicted")
			b.ReportMetric(float64(r.Lost), "lost")
		})
	}
}

// harnessSetup is where the harness's benchmarks run (/dev/shm, else a
// temporary directory) and how they start their workers: this test
// binary, re-executed (see init).
func harnessSetup(b *testing.B) (string, harness.Spawn) {
	base := "/dev/shm"
	if _, err := os.Stat(base); err != nil {
		base = b.TempDir()
	}
	return base, func(env ...string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), env...)
		cmd.Stderr = os.Stderr
		return cmd
	}
}
