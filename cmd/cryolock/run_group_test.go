//go:build unix

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// deadGuard bounds how long a test waits for a killed process to be gone.
// Death is expected at once; the bound only turns a bug into a failure
// instead of a hang, and is generous for a loaded machine.
const deadGuard = 30 * time.Second

// processGone reports whether pid has exited (it may be a zombie nobody
// reaps: in a container the init process may not).
func processGone(pid int) bool {
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
			return s[i+2] == 'Z' || s[i+2] == 'X'
		}
		return false
	} else if _, serr := os.Stat("/proc/self/stat"); serr == nil {
		return true // /proc works and pid is not in it
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// waitGone waits until every pid is gone, failing after deadGuard.
func waitGone(t *testing.T, what string, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(deadGuard)
	for _, pid := range pids {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: process %d still runs %v later", what, pid, deadGuard)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// readPid waits for file to hold a pid and returns it.
func readPid(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		b, err := os.ReadFile(file)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("%s: %q", file, b)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written within %v", file, hangGuard)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupScript is a CMD that starts a background child ignoring SIGTERM and
// writing to a file, records both pids, says ready and waits.
const groupScript = `sh -c 'trap "" TERM; while :; do echo x >> out; sleep 0.1; done' </dev/null >/dev/null 2>&1 &
echo $! > child.tmp && mv child.tmp child.pid
echo $$ > cmd.tmp && mv cmd.tmp cmd.pid
echo ready
wait`

// TestRunKillOnLostKillsGroup: --kill-on-lost stops not just CMD but what it
// started, even a child that ignores SIGTERM (SIGKILL after the grace).
func TestRunKillOnLostKillsGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "group.cryolock")
	c := startCLI(t, dir, "run", "--lease", "2s", "--kill-on-lost", "--kill-grace", "0.5", lock, "--", "sh", "-c", groupScript)
	c.expectLine(false, "ready")
	child, cmd := readPid(t, filepath.Join(dir, "child.pid")), readPid(t, filepath.Join(dir, "cmd.pid"))
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	names := entries(t, lock)
	if len(names) != 1 {
		t.Fatalf("lock directory holds %v, want one entry", names)
	}
	if err := os.Remove(filepath.Join(lock, names[0])); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(); code != exitLost {
		t.Errorf("status %d, want %d (lost); stderr: %s", code, exitLost, c.stderr)
	}
	waitGone(t, "after --kill-on-lost, CMD", cmd)
	waitGone(t, "after --kill-on-lost, CMD's background child (ignoring SIGTERM)", child)
}

// TestRunForwardsToGroup: a forwarded signal reaches what CMD started too.
func TestRunForwardsToGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "fwd.cryolock")
	script := `sleep 1000 </dev/null >/dev/null 2>&1 &
echo $! > child.tmp && mv child.tmp child.pid
trap 'exit 7' USR1
echo ready
while :; do wait; done`
	c := startCLI(t, dir, "run", lock, "--", "sh", "-c", script)
	c.expectLine(false, "ready")
	child := readPid(t, filepath.Join(dir, "child.pid"))
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// SIGHUP kills both the shell (no trap) and its sleep.
	if code := c.wait(); code != 128+int(syscall.SIGHUP) {
		t.Errorf("status %d, want %d; stderr: %s", code, 128+int(syscall.SIGHUP), c.stderr)
	}
	waitGone(t, "after a forwarded SIGHUP, CMD's background child", child)
}
