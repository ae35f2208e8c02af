//go:build unix

package main

import (
	"syscall"
	"testing"
)

// TestProbeInterrupt interrupts a probe waiting for its peer: it must exit
// with a failure and leave nothing behind.
func TestProbeInterrupt(t *testing.T) {
	dir := t.TempDir()
	c := startCLI(t, "", "probe", "--peer", dir)
	c.expectLine(true, "waiting up to")
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(); code != exitFail {
		t.Errorf("exit %d, want %d\n%s", code, exitFail, c.stderr)
	}
	if e := entries(t, dir); len(e) != 0 {
		t.Errorf("left behind: %v", e)
	}
}
