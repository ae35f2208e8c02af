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

// TestRunUnignoresOtherSignals: signals other than SIGHUP and SIGINT that
// were ignored when run started are not kept ignored (README): CMD starts
// with them at their default, and a SIGTERM to run is forwarded and ends
// CMD (128+15).
func TestRunUnignoresOtherSignals(t *testing.T) {
	t.Parallel()
	const others = 1<<(syscall.SIGTERM-1) | 1<<(syscall.SIGQUIT-1) | 1<<(syscall.SIGUSR1-1) | 1<<(syscall.SIGUSR2-1)
	lock := newLockPath(t)
	wrapper := []string{"/bin/sh", "-c", `trap "" TERM QUIT USR1 USR2; exec "$0" "$@"`}
	c := startCLIVia(t, "", wrapper, "run", lock, "--", "sh", "-c", `grep SigIgn /proc/self/status; echo ready; read x; echo survived`)
	cmdMask := sigIgnLine(t, c.expectLine(false, "SigIgn:"))
	c.expectLine(false, "ready")
	if cmdMask&others != 0 {
		t.Errorf("CMD's SigIgn %#x has some of %#x: run kept them ignored", cmdMask, others)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(); code != 128+int(syscall.SIGTERM) {
		t.Errorf("status %d after SIGTERM to a run started with it ignored, want %d (forwarded); stdout %q, stderr: %s", code, 128+int(syscall.SIGTERM), c.stdout, c.stderr)
	}
	if names := entries(t, lock); len(names) != 0 {
		t.Errorf("lock directory holds %v after run ended, want nothing", names)
	}
}

// TestRunIOErrorExit: a lock directory that cannot be written (one on a
// read-only filesystem; root ignores permission bits) or created makes run
// exit 74, naming the path, without starting CMD.
func TestRunIOErrorExit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("none", mnt, "tmpfs", 0, ""); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): missing CAP_SYS_ADMIN", err)
	}
	defer syscall.Unmount(mnt, 0)
	existing := filepath.Join(mnt, "ro.cryolock")
	if err := os.Mkdir(existing, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("none", mnt, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	for _, lock := range []string{existing, filepath.Join(mnt, "new.cryolock")} {
		code, stdout, stderr := runCLI(t, "", "run", lock, "--", "touch", marker)
		if code != exitIO || !strings.Contains(stderr, lock) || stdout != "" {
			t.Errorf("run on %s: status %d, stderr %q; want %d naming the path", lock, code, stderr, exitIO)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("CMD ran without the lock")
	}
}
