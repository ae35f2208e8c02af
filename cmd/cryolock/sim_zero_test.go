package main

import (
	"strings"
	"testing"
)

// TestSimZeroFlagsRefused: a sim flag given 0 where sim.Config reads 0 as
// "the default" used to run the default silently — --read-fraction 0 ran
// 70% reads, --long-hold 0 a fifth of holds long, --think 0 pauses of up
// to 2 s, --procs 0 four processes, --hang-ops none hangs on every
// primitive, --schedules 0 or -1 a thousand schedules. Each is now a usage
// error naming the flag.
func TestSimZeroFlagsRefused(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--schedules", "0"},
		{"--schedules", "-1"},
		{"--procs", "0"},
		{"--acquisitions", "0"},
		{"--kind", "semaphore", "--slots", "0"},
		{"--kind", "rw", "--read-fraction", "0"},
		{"--lease", "0"},
		{"--long-hold", "0"},
		{"--think", "0"},
		{"--step", "0"},
		{"--max-steps", "0"},
		{"--hold", "0..3s"},
		{"--hold", "0"},
		{"--backoff", "0..50ms"},
		{"--hangs", "1", "--hang-rate", "0.1", "--hang", "1s", "--hang-ops", "none"},
	} {
		flag := strings.TrimPrefix(args[len(args)-2], "--")
		code, stdout, stderr := runCLI(t, "", append([]string{"sim"}, args...)...)
		if code != exitUsage || !strings.Contains(stderr, "--"+flag) {
			t.Errorf("sim %q: exit %d, stderr %q, stdout %q; want %d naming --%s", args, code, stderr, stdout, exitUsage, flag)
		}
	}
}
