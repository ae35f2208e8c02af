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
	cfg := HPC()
	if err := cfg.InModel(); err != nil {
		t.Fatal(err)
	}
	// 100 processes make a run long: fewer runs under the race detector
	// and -short than count's floor of 20.
	runs := 60
	switch {
	case raceEnabled:
		runs = 4
	case testing.Short():
		runs = 15
	}
	r := MeasureHPC(context.Background(), cfg, runs)
	t.Log(r)
	if r.First != nil {
		f := r.First
		t.Fatalf("seed %d: %v", f.Seed, f.Violations[0])
	}
	bound := HPCWriterWaitBound(cfg)
	if r.WriterMaxWait > bound {
		t.Errorf("a writer waited %v, above the bound %v", r.WriterMaxWait, bound)
	}
	if r.Writes == 0 || r.Evictions == 0 {
		t.Errorf("the workload did not exercise writers (%d writes) or eviction (%d entries of dead jobs evicted)", r.Writes, r.Evictions)
	}
}
