package main

import (
	"strings"
	"testing"
)

// TestProbeBadArgsNamed: a usage error of `cryolock probe` names the
// command and what is wrong — the missing DIR (cobra said only "accepts 1
// arg(s), received 0") and the one flag that is not positive (not a list
// of all five) — and exits 64, before anything is probed.
func TestProbeBadArgsNamed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		says []string
	}{
		{[]string{"probe"}, []string{"probe:", "DIR", "0 arguments"}},
		{[]string{"probe", dir, dir}, []string{"probe:", "DIR", "2 arguments"}},
		{[]string{"probe", "--samples", "0", dir}, []string{"probe:", "--samples 0"}},
		{[]string{"probe", "--rounds", "-1", dir}, []string{"probe:", "--rounds -1"}},
		{[]string{"probe", "--timeout", "0", dir}, []string{"probe:", "--timeout 0s"}},
		{[]string{"probe", "--peer-timeout", "0", dir}, []string{"probe:", "--peer-timeout 0s"}},
		{[]string{"probe", "--peer-measure-timeout", "0", dir}, []string{"probe:", "--peer-measure-timeout 0s"}},
	} {
		code, _, stderr := runCLI(t, "", tc.args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d", tc.args, code, exitUsage)
		}
		for _, s := range tc.says {
			if !strings.Contains(stderr, s) {
				t.Errorf("%q: stderr %q does not say %q", tc.args, stderr, s)
			}
		}
		if strings.Contains(stderr, "--timeout, --peer-timeout") {
			t.Errorf("%q: stderr %q lists every flag instead of the bad one", tc.args, stderr)
		}
	}
}
