package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSimHPC: `cryolock sim hpc` runs the HPC workload, reports writers and
// reads, and exits 0 (no violation, writers within the bound).
func TestSimHPC(t *testing.T) {
	code, out, errOut := runCLI(t, "", "sim", "hpc", "--runs", "3", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var s struct {
		OK              bool    `json:"ok"`
		Runs            int     `json:"runs"`
		Reads           int     `json:"reads"`
		WriterMaxWait   float64 `json:"writer_max_wait_s"`
		WriterWaitBound float64 `json:"writer_wait_bound_s"`
		ReadsPerSecond  float64 `json:"reads_per_s"`
		Violations      int     `json:"violations"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !s.OK || s.Runs != 3 || s.Reads == 0 || s.ReadsPerSecond <= 0 || s.Violations != 0 || s.WriterWaitBound <= 0 || s.WriterMaxWait > s.WriterWaitBound {
		t.Fatalf("summary %+v", s)
	}
	if code, _, _ := runCLI(t, "", "sim", "hpc", "--procs", "1000"); code != 64 {
		t.Fatalf("--procs 1000: exit %d, want 64", code)
	}
	for _, bad := range []string{"0", "1.5", "-0.1"} {
		if code, _, errOut := runCLI(t, "", "sim", "hpc", "--reads", bad); code != 64 || !strings.Contains(errOut, "--reads") {
			t.Fatalf("--reads %s: exit %d, want 64 naming the flag\n%s", bad, code, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "", "sim", "hpc", "--acquisitions", "-1"); code != 64 {
		t.Fatalf("--acquisitions -1: exit %d, want 64\n%s", code, errOut)
	}
}
