// Command bench prints the whole comparison of issue 15 in one run:
// cryolock beside github.com/gofrs/flock (flock(2)) and a naive O_EXCL lock
// file, with ratios, measured with real processes on this machine.
//
//	go run ./internal/bench            # the whole table (a few minutes)
//	go run ./internal/bench -quick     # shorter runs, fewer points
//
// It re-executes itself as the worker processes.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cryolock-go/cryolock/internal/bench/harness"
)

func main() {
	if harness.IsWorker() {
		harness.WorkerMain()
	}
	quick := flag.Bool("quick", false, "shorter runs and fewer scale points")
	dur := flag.Duration("dur", 3*time.Second, "length of each contended run")
	hold := flag.Duration("hold", time.Millisecond, "hold time in contended runs")
	only := flag.String("only", "", "run only this part: uncontended, idle, contended or hpc")
	hpcN := flag.Int("hpc-n", 100, "jobs of the HPC workload")
	kinds := flag.String("kinds", "", "comma-separated kinds to run (default cryolock,gofrs-flock,o_excl; also flock-io: gofrs-flock plus the file operations of a cryolock acquisition; cryolock-unwatched: cryolock with the directory watch off, as on a network filesystem)")
	nlist := flag.String("n", "", "comma-separated process counts of the contended runs (default 2,4,8,16,32,64)")
	flag.Parse()
	ns := []int{2, 4, 8, 16, 32, 64}
	cycles := 5000
	if *quick {
		*dur = time.Second
		ns = []int{2, 8, 32}
		cycles = 1000
	}
	if *nlist != "" {
		ns = nil
		for _, f := range strings.Split(*nlist, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				fail(fmt.Errorf("bad -n %q", *nlist))
			}
			ns = append(ns, n)
		}
	}
	if *kinds != "" {
		harness.Kinds = strings.Split(*kinds, ",")
	}
	part := func(p string) bool { return *only == "" || *only == p }
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	spawn := func(env ...string) *exec.Cmd {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stderr = os.Stderr
		return cmd
	}
	host, _ := os.Hostname()
	fmt.Printf("cryolock comparison, %s, %s, %s/%s, %d CPUs, load %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), load())
	_ = host
	fmt.Printf("command: go run ./internal/bench%s\n\n", flags())

	if part("uncontended") {
		uncontended(self, cycles)
	}
	if part("idle") {
		idle(spawn, *quick)
	}
	if part("contended") {
		contended(spawn, ns, *hold, *dur)
	}
	if part("hpc") {
		hk := []string{harness.Cryolock, harness.CryolockUnwatched, harness.Flock}
		if *kinds != "" {
			hk = slices.DeleteFunc(slices.Clone(harness.Kinds), func(k string) bool { return k == harness.Excl || k == harness.FlockIO })
		}
		hpc(spawn, hk, *hpcN, *quick)
	}
}

// hpc runs the HPC workload of issue 15 (item 5) with real processes, for
// the kinds ks: by default ours watched and unwatched (as on a network
// filesystem) beside gofrs/flock's reader–writer flock (o_excl has no
// readers).
func hpc(spawn harness.Spawn, ks []string, n int, quick bool) {
	p := harness.HPCParams{N: n, Reads: 0.99, Hold: 100 * time.Millisecond, Think: 200 * time.Millisecond,
		Dur: 20 * time.Second, Lease: 3 * time.Second, Kills: 4}
	if quick {
		p.Dur = 8 * time.Second
	}
	fmt.Printf("\nHPC workload: %d processes on /dev/shm sharing a reader–writer lock, each looping for %v: a read (%.0f%%) or a write,\n"+
		"held %v–%v, then a pause of up to %v; %d jobs killed with SIGKILL after %v, lease %v:\n\n",
		p.N, p.Dur, 100*p.Reads, p.Hold*8/10, p.Hold*12/10, p.Think, p.Kills, p.Dur/4, p.Lease)
	fmt.Println("| lock | reads/s | writes | longest writer wait | longest reader wait | CPU-s per job-second | CPU-s/1000 acq | killed jobs' entries evicted by others | holds lost |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, k := range ks {
		r, err := harness.HPC(spawn, "/dev/shm", k, p)
		if err != nil {
			fail(err)
		}
		evicted := "— (the kernel releases a dead process's flock)"
		if k != harness.Flock {
			evicted = fmt.Sprintf("%d of %d", r.Evicted, r.Left)
		}
		fmt.Printf("| %s | %.0f | %d | %v | %v | %.4f | %.2f | %s | %d |\n", k, r.ReadsPerS, r.Writes,
			r.WriterLongest.Round(time.Millisecond), r.ReaderLongest.Round(time.Millisecond), r.CPUPerJobS, r.CPUPer1000, evicted, r.Lost)
	}
}

func uncontended(self string, cycles int) {
	fmt.Print("Uncontended lock+unlock cycle (one process):\n\n")
	fmt.Println("| fs | cryolock µs | floor µs | flock µs | O_EXCL µs | cryolock/floor | cryolock/flock | syscalls/cycle cryolock / flock / O_EXCL |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, base := range []string{os.TempDir(), "/dev/shm"} {
		if _, err := os.Stat(base); err != nil {
			continue
		}
		us := map[string]float64{}
		sys := map[string]string{}
		kinds := []string{harness.Cryolock, harness.Floor, harness.Flock, harness.Excl}
		best, err := harness.Uncontended(base, kinds, cycles)
		if err != nil {
			fail(err)
		}
		for _, k := range kinds {
			us[k] = float64(best[k].Nanoseconds()) / 1000
			sys[k] = "–"
			if k != harness.Floor {
				if n, err := harness.Syscalls([]string{self}, base, k, 200); err == nil {
					sys[k] = fmt.Sprintf("%.0f", n)
				}
			}
		}
		fmt.Printf("| %s | %.1f | %.1f | %.1f | %.1f | %.2f× | %.1f× | %s / %s / %s |\n", base,
			us[harness.Cryolock], us[harness.Floor], us[harness.Flock], us[harness.Excl],
			us[harness.Cryolock]/us[harness.Floor], us[harness.Cryolock]/us[harness.Flock],
			sys[harness.Cryolock], sys[harness.Flock], sys[harness.Excl])
	}

}

func idle(spawn harness.Spawn, quick bool) {
	fmt.Printf("\nIdle waiter (one process holds %v, another waits; /dev/shm):\n\n", 2*time.Second)
	fmt.Println("| lock | waiter CPU % of a core | wake-up median | wake-up max |")
	fmt.Println("|---|---|---|---|")
	rounds := 5
	if quick {
		rounds = 2
	}
	for _, k := range harness.Kinds {
		r, err := harness.Idle(spawn, "/dev/shm", k, rounds, 2*time.Second)
		if err != nil {
			fail(err)
		}
		fmt.Printf("| %s | %.2f | %v | %v |\n", k, r.WaiterCPUPercent, r.WakeMedian.Round(time.Microsecond), r.WakeMax.Round(time.Microsecond))
	}

}

func contended(spawn harness.Spawn, ns []int, hold, dur time.Duration) {
	fmt.Printf("\nContended: N processes on /dev/shm, each looping acquire → %v hold → release for %v:\n\n", hold, dur)
	fmt.Println("| N | lock | acq/s | hand-offs/s | CPU-s/1000 acq | CPU-s/1000 hand-offs | Jain | least share | longest wait | acq/s vs flock | CPU vs flock |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	all := map[int]map[string]harness.LoopResult{}
	for _, n := range ns {
		res := map[string]harness.LoopResult{}
		for _, k := range harness.Kinds {
			r, err := harness.Loop(spawn, "/dev/shm", k, n, hold, dur)
			if err != nil {
				fail(err)
			}
			res[k] = r
		}
		all[n] = res
		f, ok := res[harness.Flock]
		if !ok {
			f = res[harness.Kinds[0]]
		}
		for _, k := range harness.Kinds {
			r := res[k]
			perHandoff := 0.0
			if r.HandoffsPerS > 0 {
				perHandoff = r.CPUPer1000 * r.AcqPerS / r.HandoffsPerS
			}
			fmt.Printf("| %d | %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %v | %.2f | %.2f× |\n", n, k, r.AcqPerS, r.HandoffsPerS,
				r.CPUPer1000, perHandoff, r.Jain, leastShare(r.Counts), r.Longest.Round(time.Millisecond), r.AcqPerS/f.AcqPerS, r.CPUPer1000/f.CPUPer1000)
		}
	}
	scaleSummary(ns, all)
}

// leastShare is the smallest per-process count over the mean (0: a
// process starved).
func leastShare(counts []int) float64 {
	if len(counts) == 0 {
		return 0
	}
	least, sum := counts[0], 0
	for _, c := range counts {
		least = min(least, c)
		sum += c
	}
	if sum == 0 {
		return 0
	}
	return float64(least) * float64(len(counts)) / float64(sum)
}

// scaleSummary prints, for each kind, how CPU per acquisition and
// throughput move with N: the spread of CPU per acquisition (largest over
// smallest) and throughput at the largest N against N=4.
func scaleSummary(ns []int, all map[int]map[string]harness.LoopResult) {
	if len(ns) < 2 {
		return
	}
	fmt.Print("\nScale curve (CPU-s per 1000 acquisitions, and acq/s, by N):\n\n")
	head, sep := "| lock |", "|---|"
	for _, n := range ns {
		head += fmt.Sprintf(" N=%d |", n)
		sep += "---|"
	}
	fmt.Println(head + " CPU max/min | acq/s at N=" + strconv.Itoa(ns[len(ns)-1]) + " vs N=4 |")
	fmt.Println(sep + "---|---|")
	for _, k := range harness.Kinds {
		row := "| " + k + " |"
		lo, hi := -1.0, 0.0
		for _, n := range ns {
			r := all[n][k]
			row += fmt.Sprintf(" %.2f / %.0f |", r.CPUPer1000, r.AcqPerS)
			if lo < 0 || r.CPUPer1000 < lo {
				lo = r.CPUPer1000
			}
			hi = max(hi, r.CPUPer1000)
		}
		vs4 := "–"
		if r4, ok := all[4][k]; ok && r4.AcqPerS > 0 {
			vs4 = fmt.Sprintf("%.0f%%", 100*all[ns[len(ns)-1]][k].AcqPerS/r4.AcqPerS)
		}
		fmt.Printf("%s %.2f× | %s |\n", row, hi/lo, vs4)
	}
}

func flags() string {
	if len(os.Args) == 1 {
		return ""
	}
	return " " + strings.Join(os.Args[1:], " ")
}

func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}

func load() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(raw))[:3], " ")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
