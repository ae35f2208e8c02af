package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestRunSIGKILLedTakesCMDWithIt: when run itself is SIGKILLed, CMD and
// what it started die too (the supervisor's parent-death signal), so
// nothing goes on working without the lock while the next holder enters.
func TestRunSIGKILLedTakesCMDWithIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "deathsig.cryolock")
	c := startCLI(t, dir, "run", lock, "--", "sh", "-c", groupScript)
	c.expectLine(false, "ready")
	child, cmd := readPid(t, filepath.Join(dir, "child.pid")), readPid(t, filepath.Join(dir, "cmd.pid"))
	t.Cleanup(func() {
		_ = syscall.Kill(child, syscall.SIGKILL)
		_ = syscall.Kill(cmd, syscall.SIGKILL)
	})
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(); code != -1 {
		t.Errorf("run's status %d, want -1 (killed)", code)
	}
	waitGone(t, "after run was SIGKILLed, CMD", cmd)
	waitGone(t, "after run was SIGKILLed, CMD's background child", child)
}

// sigIgnLine parses a line "SigIgn:\tHEX" of /proc/PID/status.
func sigIgnLine(t *testing.T, line string) uint64 {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "SigIgn:" {
		t.Fatalf("not a SigIgn line: %q", line)
	}
	m, err := strconv.ParseUint(f[1], 16, 64)
	if err != nil {
		t.Fatalf("SigIgn line %q: %v", line, err)
	}
	return m
}

// sigIgnOf returns process pid's SigIgn mask.
func sigIgnOf(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "SigIgn:") {
			return sigIgnLine(t, l)
		}
	}
	t.Fatalf("no SigIgn in /proc/%d/status", pid)
	return 0
}

// TestRunKeepsSignalsIgnoredAtStart: SIGHUP and SIGINT ignored when run
// starts (nohup; a background job of a shell without job control) stay
// ignored in run, and CMD starts with them ignored, as under flock(1); a
// SIGHUP to run then does not end CMD.
func TestRunKeepsSignalsIgnoredAtStart(t *testing.T) {
	t.Parallel()
	const hupInt = 1<<(syscall.SIGHUP-1) | 1<<(syscall.SIGINT-1)
	lock := newLockPath(t)
	wrapper := []string{"/bin/sh", "-c", `trap "" HUP INT; exec "$0" "$@"`}
	c := startCLIVia(t, "", wrapper, "run", lock, "--", "sh", "-c", `grep SigIgn /proc/self/status; echo ready; read x; echo survived`)
	cmdMask := sigIgnLine(t, c.expectLine(false, "SigIgn:"))
	c.expectLine(false, "ready")
	if cmdMask&hupInt != hupInt {
		t.Errorf("CMD's SigIgn %#x lacks SIGHUP or SIGINT (%#x): run un-ignored them", cmdMask, hupInt)
	}
	// The wrapper exec'd cryolock: its pid is run's. With SIGHUP ignored
	// there, the kernel discards the SIGHUP below at once; nothing is
	// forwarded.
	if m := sigIgnOf(t, c.cmd.Process.Pid); m&hupInt != hupInt {
		t.Fatalf("run's SigIgn %#x lacks SIGHUP or SIGINT (%#x)", m, hupInt)
	}
	if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(c.stdin, "go")
	c.expectLine(false, "survived")
	if code := c.wait(); code != 0 {
		t.Errorf("status %d after SIGHUP to a run started with it ignored, want 0; stderr: %s", code, c.stderr)
	}
}
