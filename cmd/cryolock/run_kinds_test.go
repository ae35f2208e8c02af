//go:build unix

package main

import (
	"strconv"
	"strings"
	"testing"
)

// TestRunToken: each exclusive run hands CMD a fencing token greater than
// the previous run's, and CRYOLOCK_LOCKDIR.
func TestRunToken(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	var last uint64
	for i := 0; i < 3; i++ {
		code, out, errOut := runCLI(t, "", "run", lock, "--", "sh", "-c", `echo "$CRYOLOCK_TOKEN $CRYOLOCK_LOCKDIR"`)
		if code != 0 {
			t.Fatalf("run: %d, %s", code, errOut)
		}
		f := strings.Fields(out)
		if len(f) != 2 || f[1] != lock {
			t.Fatalf("CMD saw %q", out)
		}
		tok, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil || tok <= last {
			t.Fatalf("token %q after %d", f[0], last)
		}
		last = tok
	}
	// A shared run gets no token.
	code, out, _ := runCLI(t, "", "run", "--shared", lock, "--", "sh", "-c", `echo "[$CRYOLOCK_TOKEN]"`)
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("--shared: %d %q", code, out)
	}
}

// TestRunShared: two --shared runs hold together; an exclusive run cannot
// get in while they hold.
func TestRunShared(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	a := startCLI(t, "", "run", "--shared", lock, "--", "sh", "-c", "echo ready; read x; exit 0")
	a.expectLine(false, "ready")
	b := startCLI(t, "", "run", "--shared", "--nonblock", lock, "--", "sh", "-c", "echo ready; read x; exit 0")
	b.expectLine(false, "ready") // got in beside a
	if code, _, _ := runCLI(t, "", "run", "--nonblock", lock, "--", "true"); code != exitConflict {
		t.Fatalf("exclusive run beside readers: exit %d, want %d", code, exitConflict)
	}
	for _, c := range []*cli{a, b} {
		c.stdin.Close()
		if code := c.wait(); code != 0 {
			t.Fatalf("reader exit %d", code)
		}
	}
	if code, _, _ := runCLI(t, "", "run", "--nonblock", lock, "--", "true"); code != 0 {
		t.Fatalf("exclusive run after readers left: exit %d", code)
	}
}

// TestRunSlots: with --slots 2, two runs hold at once and a third waits.
func TestRunSlots(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	var holders []*cli
	for i := 0; i < 2; i++ {
		c := startCLI(t, "", "run", "--slots", "2", "--nonblock", lock, "--", "sh", "-c", "echo ready; read x; exit 0")
		c.expectLine(false, "ready")
		holders = append(holders, c)
	}
	if code, _, _ := runCLI(t, "", "run", "--slots", "2", "--nonblock", lock, "--", "true"); code != exitConflict {
		t.Fatalf("third run of 2 slots: exit %d, want %d", code, exitConflict)
	}
	for _, c := range holders {
		c.stdin.Close()
		c.wait()
	}
	if code, _, errOut := runCLI(t, "", "run", "--slots", "0", lock, "--", "true"); code != exitUsage {
		t.Fatalf("--slots 0: exit %d (%s)", code, errOut)
	}
	if code, _, _ := runCLI(t, "", "run", "--slots", "2", "--shared", lock, "--", "true"); code != exitUsage {
		t.Fatalf("--slots with --shared: exit %d", code)
	}
}
