package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimHPCAuditBadFlags: `cryolock sim hpc` and `cryolock sim audit`
// refuse counts that check nothing or that they would replace silently —
// hpc --runs 0 reported "0 runs, 0 violations" and exited 0, --runs -1 never
// ended, --procs 0 or -1 ran 100 jobs; audit --schedules 0 or -5 ran 2000 —
// and an --update file without the markers (or missing) before the audit
// runs for minutes, leaving the file as it was. Each is a usage error (64)
// naming the flag.
func TestSimHPCAuditBadFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noMarkers := filepath.Join(dir, "notes.md")
	if err := os.WriteFile(noMarkers, []byte("precious\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"sim", "hpc", "--runs", "0"}, "--runs 0"},
		{[]string{"sim", "hpc", "--runs", "-1"}, "--runs -1"},
		{[]string{"sim", "hpc", "--runs", "1", "--procs", "0"}, "--procs 0"},
		{[]string{"sim", "hpc", "--runs", "1", "--procs", "-1"}, "--procs -1"},
		{[]string{"sim", "audit", "--schedules", "0"}, "--schedules 0"},
		{[]string{"sim", "audit", "--schedules", "-5"}, "--schedules -5"},
		{[]string{"sim", "audit", "--schedules", "1", "--update", noMarkers}, noMarkers},
		{[]string{"sim", "audit", "--schedules", "1", "--update", filepath.Join(dir, "missing.md")}, "missing.md"},
	} {
		code, stdout, stderr := runCLI(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.says) {
			t.Errorf("%q: exit %d, stderr %q; want %d naming %q", tc.args, code, stderr, exitUsage, tc.says)
		}
		if stdout != "" {
			t.Errorf("%q: ran before refusing: %q", tc.args, stdout)
		}
	}
	if b, _ := os.ReadFile(noMarkers); string(b) != "precious\n" {
		t.Errorf("%s was changed: %q", noMarkers, b)
	}
}
