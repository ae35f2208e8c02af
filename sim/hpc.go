package sim

import (
	"context"
	"fmt"
	"time"
)

// HPC is the HPC workload of issue 15 (item 5) as a simulator
// configuration: 100 batch jobs sharing one reader–writer lock, 99% of
// acquisitions reads holding about a second, 1% writes, jobs crashing now
// and then (their entries must be evicted by whichever contender meets
// them), inside the fault model. Rules v1 and the defaults of [Default]
// otherwise (10 s lease, the Observed rule, small latency and clock error).
func HPC() Config {
	c := Default(RulesV1)
	c.Kind = KindRWLock
	c.Procs = 100
	c.Acquisitions = 2
	c.ReadFraction = 0.99
	c.HoldMin, c.HoldMax = 800*time.Millisecond, 1200*time.Millisecond
	// No hold is long: a long hold is drawn from the same range.
	c.LongHoldMin, c.LongHoldMax = c.HoldMin, c.HoldMax
	c.Think = 5 * time.Second
	c.Faults.Crashes, c.Faults.CrashRate = 3, 0.0005
	c.MaxSteps = 5_000_000
	return c.WithDefaults()
}

// HPCWriterWaitBound is the longest a writer of the [HPC] workload may
// wait, in virtual time (TestHPCWorkload). A waiting writer keeps readers
// out (rule C1 for readers, §7), so it waits for the readers already
// holding (≤ HoldMax each, in parallel), for writers ahead of it (at most
// the other writers of the run, each ≤ HoldMax plus a hand-off), and for
// the entries of crashed jobs to be judged stale: a lease of watching under
// the Observed rule, plus the judge's re-look (lease/8) and the fresh
// revalidation; each crash can block it once. The backoff between polls is
// at most MaxBackoff. The bound adds these up with room for the hand-offs:
// (crashes + 1) × 1.5 leases + writers × (HoldMax + MaxBackoff) + HoldMax.
//
// A writer displaced by another writer's entry polls from outside only
// while an exclusive entry is live: rule C1 lets it enter beside readers,
// and its entry then keeps new readers out. So its wait does not grow with
// a stream of overlapping reads (TestHPCWritersNotStarved: 30 acquisitions
// per job). The bound is measured against, not proven: it counts every
// writer of the run as one that may be ahead, and leaves pauses and rule
// Y's turns to that slack (docs/PROOF.md §4, "The HPC workload").
func HPCWriterWaitBound(c Config) time.Duration {
	c = c.WithDefaults()
	writers := int(float64(c.Procs*c.Acquisitions)*(1-c.ReadFraction)) + 1
	return time.Duration(c.Faults.Crashes+1)*c.Lease*3/2 +
		time.Duration(writers)*(c.HoldMax+c.MaxBackoff) + c.HoldMax
}

// HPCReport is what a batch of HPC runs measured.
type HPCReport struct {
	Runs, Violations int
	Reads, Writes    int           // acquisitions
	WriterMaxWait    time.Duration // the longest a writer waited
	ReaderMaxWait    time.Duration // the longest a reader waited
	// ReadsPerSecond is the readers' throughput: read holds per second of
	// virtual time, over all runs.
	ReadsPerSecond float64
	// Crashes are the jobs that crashed; Evictions the removals of a dead
	// job's entry by another job (reaps of entries whose owner no longer
	// counted on them).
	Crashes, Evictions int
	Steps              int
	Time               time.Duration // virtual time, summed over runs
	Elapsed            time.Duration
	First              *Result // the first run that violated a property, if any
}

// MeasureHPC runs cfg (normally [HPC]) from seeds 1..runs and reports
// (no run if runs is 0 or negative).
func MeasureHPC(ctx context.Context, cfg Config, runs int) HPCReport {
	var r HPCReport
	start := time.Now()
	for seed := uint64(1); runs > 0 && seed <= uint64(runs) && ctx.Err() == nil; seed++ {
		res := Run(cfg, seed)
		r.Runs++
		r.Steps += res.Steps
		r.Time += res.Time
		r.Crashes += res.Stats.Crashes
		r.Evictions += res.Stats.Reaps - res.Stats.ReapsLive
		if res.Failed() {
			r.Violations++
			if r.First == nil {
				r.First = res
			}
		}
		for _, h := range res.Holds {
			if h.Shared {
				r.Reads++
				r.ReaderMaxWait = max(r.ReaderMaxWait, h.Wait)
			} else {
				r.Writes++
				r.WriterMaxWait = max(r.WriterMaxWait, h.Wait)
			}
		}
	}
	if r.Time > 0 {
		r.ReadsPerSecond = float64(r.Reads) / r.Time.Seconds()
	}
	r.Elapsed = time.Since(start)
	return r
}

func (r HPCReport) String() string {
	return fmt.Sprintf("%d runs, %d violations: %d reads (%.1f/s of virtual time), %d writes; longest wait: writer %v, reader %v; %d crashes, %d entries of dead jobs evicted; %d steps in %v",
		r.Runs, r.Violations, r.Reads, r.ReadsPerSecond, r.Writes, r.WriterMaxWait.Round(time.Millisecond), r.ReaderMaxWait.Round(time.Millisecond),
		r.Crashes, r.Evictions, r.Steps, r.Elapsed.Round(time.Millisecond))
}
