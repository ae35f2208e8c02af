package main

import (
	"path/filepath"
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
