package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSimV1Clean(t *testing.T) {
	code, out, errOut := runCLI(t, "", "sim", "--schedules", "200", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var s struct {
		Rules      string
		Schedules  int
		Violations int
		Steps      int64
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if s.Rules != "v1" || s.Schedules != 200 || s.Violations != 0 || s.Steps == 0 {
		t.Fatalf("summary %+v", s)
	}
	if errOut != "" {
		t.Fatalf("stderr not quiet when not a terminal: %q", errOut)
	}
}

func TestSimLegacyFails(t *testing.T) {
	var traces []string
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		code, out, errOut := runCLI(t, "", "sim", "--rules", "legacy", "--schedules", "2000", "--shrink-tries", "100", "--out", dir)
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
		}
		for _, want := range []string{"minimal counterexample", "VIOLATION mutual-exclusion", "rerun: cryolock sim --rules legacy --seed"} {
			if !strings.Contains(out, want) {
				t.Fatalf("output lacks %q:\n%s", want, out)
			}
		}
		txt, err := os.ReadFile(filepath.Join(dir, "trace.txt"))
		if err != nil {
			t.Fatal(err)
		}
		svg, err := os.ReadFile(filepath.Join(dir, "trace.svg"))
		if err != nil || !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), "url(#hatch)") {
			t.Fatalf("svg: %v %.100s", err, svg)
		}
		traces = append(traces, string(txt))
	}
	if traces[0] != traces[1] {
		t.Fatal("two runs of the same command saved different traces")
	}
}

func TestSimExhaustive(t *testing.T) {
	code, out, errOut := runCLI(t, "", "sim", "--exhaustive", "--procs", "3", "--acquisitions", "1", "--depth", "10", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var s struct {
		Mode       string
		Schedules  int
		Complete   bool
		Violations int
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if s.Mode != "exhaustive" || !s.Complete || s.Schedules < 100 || s.Violations != 0 {
		t.Fatalf("summary %+v", s)
	}
}

func TestSimAudit(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "", "sim", "audit", "--schedules", "100", "--shrink-tries", "-1", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "| A8 |") || strings.Contains(out, "FAILED") {
		t.Fatalf("table:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "A1.svg")); err != nil {
		t.Fatal(err)
	}
}

func TestSimBadFlags(t *testing.T) {
	for _, args := range [][]string{{"sim", "--rules", "v2"}, {"sim", "--latency", "5ms..1ms"}, {"sim", "--error-ops", "rename"}} {
		if code, _, _ := runCLI(t, "", args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}
