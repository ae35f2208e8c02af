package sim

import (
	"context"
	"testing"
)

// TestHPCWorkload: the HPC workload (100 jobs, a reader–writer lock, 99%
// reads of about a second, crashes) inside the fault model: no violation,
// every writer served within HPCWriterWaitBound of virtual time, and the
// entries of crashed jobs evicted by the others. Virtual time: the figures
// are the same on every machine.
func TestHPCWorkload(t *testing.T) {
	// 100 processes make a run long: fewer runs under the race detector
	// and -short than count's floor of 20.
	r := checkHPC(t, HPC(), 60, 15, 4)
	if r.Evictions == 0 {
		t.Errorf("the workload did not exercise eviction (%d entries of dead jobs evicted)", r.Evictions)
	}
}

// TestHPCWritersNotStarved: the HPC workload with 30 acquisitions per job
// and 0.5% writes, a stream of overlapping reads that lasts minutes of
// virtual time. A writer that another writer's entry kept out enters
// beside the readers at its next look once that entry is gone, and its
// entry keeps new readers out (rule C1 for writers): its wait does not
// grow with the stream, and stays within HPCWriterWaitBound. With writers
// kept out by readers (as before this rule), displaced writers waited up
// to 132 s here against a bound of 96 s, while most of the 3000 reads ran.
func TestHPCWritersNotStarved(t *testing.T) {
	cfg := HPC()
	cfg.Acquisitions = 30
	cfg.ReadFraction = 0.995
	checkHPC(t, cfg, 20, 6, 2)
}

// checkHPC runs cfg (an HPC workload) from runs seeds (short under -short,
// race under the race detector) and requires no violation, every writer
// served within HPCWriterWaitBound, and writes in every run on average.
func checkHPC(t *testing.T, cfg Config, runs, short, race int) HPCReport {
	t.Helper()
	if err := cfg.InModel(); err != nil {
		t.Fatal(err)
	}
	switch {
	case raceEnabled:
		runs = race
	case testing.Short():
		runs = short
	}
	r := MeasureHPC(context.Background(), cfg, runs)
	t.Log(r)
	if r.First != nil {
		f := r.First
		t.Fatalf("seed %d: %v", f.Seed, f.Violations[0])
	}
	if bound := HPCWriterWaitBound(cfg); r.WriterMaxWait > bound {
		t.Errorf("a writer waited %v, above the bound %v", r.WriterMaxWait, bound)
	}
	if r.Writes < runs {
		t.Errorf("only %d writes in %d runs: the workload did not exercise writers", r.Writes, runs)
	}
	return r
}
