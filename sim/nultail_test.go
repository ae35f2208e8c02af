package sim

import (
	"strings"
	"testing"
	"time"
)

// TestNulTail: an entry whose size landed before its data reads as NULs
// (rclone). Contenders take it for a write in progress (PROTOCOL.md F5),
// not for a foreign entry: no Lock call fails (no other fault is on), and
// exclusion holds.
func TestNulTail(t *testing.T) {
	cfg := Default(RulesV1)
	cfg.Faults.NonAtomicWrite, cfg.Faults.NulTail = true, true
	cfg.Faults.LatencyMin, cfg.Faults.LatencyMax = 0, 50*time.Millisecond
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.InModel(); err != nil {
		t.Fatal(err)
	}
	n := count(400)
	var read int
	for seed := uint64(1); seed <= uint64(n); seed++ {
		r := RunWith(cfg, seed, RunOptions{Trace: seed <= 20})
		for _, v := range r.Violations {
			t.Fatalf("seed %d: %v", seed, v)
		}
		if r.Stats.LockErrs > 0 {
			t.Fatalf("seed %d: %d Lock calls failed beside NUL-tailed entries\n%s", seed, r.Stats.LockErrs, tail(RunWith(cfg, seed, RunOptions{Trace: true}).Trace.Text(), 40))
		}
		if r.Trace != nil {
			read += strings.Count(r.Trace.Text(), "NULs")
		}
	}
	if read == 0 {
		t.Fatal("no NUL step was traced: the fault never happened")
	}
	bad := cfg
	bad.Faults.NonAtomicWrite = false
	if bad.Validate() == nil {
		t.Error("NulTail without NonAtomicWrite validated")
	}
}
