package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefinitions: every mutant's snippet occurs exactly once in its
// package's non-test sources, changes something, and the list is
// consistent. It runs with go test ./..., so a refactoring that makes a
// definition stale fails at once, not only on the day CI's rotation
// reaches the mutant.
func TestDefinitions(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range mutants {
		if seen[m.ID] {
			t.Errorf("duplicate mutant ID %s", m.ID)
		}
		seen[m.ID] = true
		if _, err := locate(root, m); err != nil {
			t.Errorf("stale definition: %v", err)
		}
		if m.Find == m.Replace {
			t.Errorf("%s: the edit changes nothing", m.ID)
		}
		switch m.Pkg {
		case "protocol", "stale", "nonce":
		default:
			t.Errorf("%s: package %q is not one the tool mutates", m.ID, m.Pkg)
		}
		if m.Rule == "" || m.What == "" {
			t.Errorf("%s: rule and description are required", m.ID)
		}
		if m.Redundant != "" && (!m.LoadBearing || !strings.Contains(m.Redundant, "PROOF.md")) {
			t.Errorf("%s: only a load-bearing mutant can be shown redundant, and only by a paragraph of PROOF.md", m.ID)
		}
		if !m.LoadBearing && m.Breaks == "" {
			t.Errorf("%s: say what a non-load-bearing mutant costs", m.ID)
		}
	}
}

// TestWindowCoversAll: the daily windows of CI's rotation cover every
// mutant within ceil(n/k) consecutive days.
func TestWindowCoversAll(t *testing.T) {
	for _, k := range []int{1, 3, 4, len(mutants)} {
		got := map[string]bool{}
		days := (len(mutants) + k - 1) / k
		for d := 100; d < 100+days; d++ {
			w := window(mutants, k, d)
			if len(w) != k {
				t.Fatalf("k=%d day %d: %d mutants", k, d, len(w))
			}
			for _, m := range w {
				got[m.ID] = true
			}
		}
		if len(got) != len(mutants) {
			t.Errorf("k=%d: %d days cover %d of %d mutants", k, days, len(got), len(mutants))
		}
	}
}

func TestSelect(t *testing.T) {
	t.Setenv("CRYOLOCK_MUTANTS", "no-stamp,no-settle")
	sel, err := selectMutants(mutants, options{})
	if err != nil || len(sel) != 2 || sel[0].ID != "no-stamp" || sel[1].ID != "no-settle" {
		t.Fatalf("got %v, %v", sel, err)
	}
	t.Setenv("CRYOLOCK_MUTANTS", "3")
	if sel, err := selectMutants(mutants, options{day: 5}); err != nil || len(sel) != 3 {
		t.Fatalf("CRYOLOCK_MUTANTS=3: got %d mutants, %v", len(sel), err)
	}
	t.Setenv("CRYOLOCK_MUTANTS", "all")
	if sel, err := selectMutants(mutants, options{subset: 3}); err != nil || len(sel) != 3 {
		t.Fatalf("all with -subset 3: got %d mutants, %v", len(sel), err)
	}
	if sel, err := selectMutants(mutants, options{ids: "all"}); err != nil || len(sel) != len(mutants) {
		t.Fatalf("all: got %d mutants, %v", len(sel), err)
	}
	if _, err := selectMutants(mutants, options{ids: "no-such"}); err == nil {
		t.Fatal("an unknown ID was accepted")
	}
}

func TestCulprit(t *testing.T) {
	out := "=== RUN   TestV1\n    sim_test.go:12: rules=v1: seed 17: mutual-exclusion\n--- FAIL: TestV1NoViolationInsideFaultModel (1.2s)\nFAIL\n"
	if what, after := culprit("sim", out); what != "TestV1NoViolationInsideFaultModel" || after != "seed 17" {
		t.Errorf("sim: got %q %q", what, after)
	}
	audit := "| A2 | x | `c` | none in 2000 schedules | — | — | as stated |\n| A3 | y | `c` | **mutual-exclusion** at seed 42 | — | — | **FAILED** |\n"
	if what, after := culprit("audit", audit); what != "row A3" || after != "seed 42" {
		t.Errorf("audit: got %q %q", what, after)
	}
	if what, _ := culprit("unit", "panic: test timed out after 5m0s\n\trunning tests:\n\t\tTestHang (5m0s)\n"); what != "TestHang" {
		t.Errorf("timeout: got %q", what)
	}
}
