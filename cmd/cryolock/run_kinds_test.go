//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
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

// TestStatusReadersAllHold: two --shared runs are both holders, labelled
// readers; an exclusive run's entry is labelled writer.
func TestStatusReadersAllHold(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	a := startCLI(t, "", "run", "--shared", lock, "--", "sh", "-c", "echo ready; read x; exit 0")
	a.expectLine(false, "ready")
	b := startCLI(t, "", "run", "-s", lock, "--", "sh", "-c", "echo ready; read x; exit 0")
	b.expectLine(false, "ready")
	code, r := statusJSON(t, lock)
	if code != statusHeld || len(r.Holders) != 2 || len(r.Contenders) != 0 || r.Holder == nil || r.Holder.Name != r.Holders[0].Name {
		t.Fatalf("two readers: status %d, %+v; want both as holders", code, r)
	}
	pids := map[int]bool{}
	for _, h := range r.Holders {
		if h.Role != "reader" || !h.Shared || h.Pid == nil {
			t.Errorf("holder %+v, want a reader with a pid", h)
		} else {
			pids[*h.Pid] = true
		}
	}
	if !pids[a.cmd.Process.Pid] || !pids[b.cmd.Process.Pid] {
		t.Errorf("holders' pids %v, want %d and %d", pids, a.cmd.Process.Pid, b.cmd.Process.Pid)
	}
	_, stdout, _ := runCLI(t, "", "status", lock)
	if !strings.Contains(stdout, "holders (likely, 2 readers)") || strings.Count(stdout, ": reader,") != 2 {
		t.Errorf("status text with two readers: %q", stdout)
	}
	for _, c := range []*cli{a, b} {
		c.stdin.Close()
		if code := c.wait(); code != 0 {
			t.Fatalf("reader exit %d", code)
		}
	}
	w := startCLI(t, "", "run", lock, "--", "sh", "-c", "echo ready; read x; exit 0")
	w.expectLine(false, "ready")
	if _, r := statusJSON(t, lock); len(r.Holders) != 1 || r.Holders[0].Role != "writer" {
		t.Errorf("an exclusive holder: %+v, want one writer", r.Holders)
	}
	w.stdin.Close()
	w.wait()
}

// TestRunLockdirAbsolute: CMD gets CRYOLOCK_LOCKDIR as an absolute path even
// when LOCKDIR was given relative to run's directory.
func TestRunLockdirAbsolute(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := runCLI(t, dir, "run", "rel.cryolock", "-c", `printf %s "$CRYOLOCK_LOCKDIR"`)
	if code != 0 || !filepath.IsAbs(out) {
		t.Fatalf("CRYOLOCK_LOCKDIR %q (status %d, %s), want absolute", out, code, errOut)
	}
	a, err1 := os.Stat(out)
	b, err2 := os.Stat(filepath.Join(dir, "rel.cryolock"))
	if err1 != nil || err2 != nil || !os.SameFile(a, b) {
		t.Errorf("CRYOLOCK_LOCKDIR %q is not %s/rel.cryolock (%v, %v)", out, dir, err1, err2)
	}
}

// TestRunFlockFlags: flock(1)'s short flags and plain seconds.
func TestRunFlockFlags(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	if code, out, errOut := runCLI(t, "", "run", lock, "-c", "echo $((1+2))"); code != 0 || out != "3\n" {
		t.Fatalf("-c: status %d, %q, %s", code, out, errOut)
	}
	h := startHolder(t, lock)
	for _, tc := range []struct {
		flags []string
		want  int
	}{
		{[]string{"-n"}, exitConflict},
		{[]string{"-n", "-E", "7"}, 7},
		{[]string{"-w", "0.3"}, exitConflict},
		{[]string{"-w", "0"}, exitConflict},
		{[]string{"-w", "200ms", "-E", "0"}, 0},
	} {
		args := append(append([]string{"run"}, tc.flags...), lock, "-c", "echo ran")
		if code, out, errOut := runCLI(t, "", args...); code != tc.want || out != "" {
			t.Errorf("%q while held: status %d (want %d), stdout %q, stderr %s", args, code, tc.want, out, errOut)
		}
	}
	// --verbose names the holder when giving up.
	code, _, errOut := runCLI(t, "", "run", "-n", "--verbose", lock, "--", "true")
	want := fmt.Sprintf("/pid %d; giving up", h.cmd.Process.Pid)
	if code != exitConflict || !strings.Contains(errOut, "is held by ") || !strings.Contains(errOut, want) {
		t.Errorf("-n --verbose while held: status %d, stderr %q; want it to say %q", code, errOut, want)
	}
	if code := h.release(); code != 0 {
		t.Fatalf("holder: %d", code)
	}
}

// TestRunCMDKeepsItsFlags: everything after LOCKDIR is CMD's, as with
// flock(1): CMD's own -s, -n, -w, -E and --lease are not taken as run's
// (which would, say, turn an exclusive run into a reader).
func TestRunCMDKeepsItsFlags(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	code, out, errOut := runCLI(t, "", "run", lock, "printf", "[%s]", "a", "-s", "-n")
	if code != 0 || out != "[a][-s][-n]" {
		t.Errorf("run LOCK printf [%%s] a -s -n: status %d, stdout %q; want 0 and %q; stderr: %s", code, out, "[a][-s][-n]", errOut)
	}
	for _, args := range [][]string{
		{"run", lock, "printf", "[%s]", "a", "-s", "-n", "--lease", "none", "-w", "0", "-E", "3", "--", "-c", "x"},
		{"run", lock, "--", "printf", "[%s]", "a", "-s", "-n", "--lease", "none", "-w", "0", "-E", "3", "--", "-c", "x"},
	} {
		code, out, errOut := runCLI(t, "", args...)
		if want := "[a][-s][-n][--lease][none][-w][0][-E][3][--][-c][x]"; code != 0 || out != want {
			t.Errorf("cryolock %q: status %d, stdout %q; want 0 and %q; stderr: %s", args, code, out, want, errOut)
		}
	}
	// CMD sees the exclusive run's token: -s after LOCKDIR did not make
	// it a reader.
	code, out, errOut = runCLI(t, "", "run", lock, "sh", "-c", `echo "[$CRYOLOCK_TOKEN]"`, "-s")
	if code != 0 || out == "[]\n" || !strings.HasPrefix(out, "[") {
		t.Errorf("run LOCK sh -c ... -s: status %d, stdout %q, want a token; stderr: %s", code, out, errOut)
	}
	// -c right after LOCKDIR is flock's -c; run's own flags before it
	// still count.
	for _, args := range [][]string{
		{"run", lock, "-c", "echo $((1+2))"},
		{"run", lock, "--command", "echo $((1+2))"},
		{"run", "-n", lock, "-c", "echo $((1+2))"},
	} {
		if code, out, errOut := runCLI(t, "", args...); code != 0 || out != "3\n" {
			t.Errorf("cryolock %q: status %d, stdout %q, want 3; stderr: %s", args, code, out, errOut)
		}
	}
}

// TestRunNestedEnv: a run inside another's CMD gives its own CMD only its
// own CRYOLOCK_ variables: a --shared or --slots run (which has no token)
// does not pass on the outer run's CRYOLOCK_TOKEN next to its own
// CRYOLOCK_LOCKDIR, and an exclusive one its own token.
func TestRunNestedEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outer, inner := filepath.Join(dir, "outer.cryolock"), filepath.Join(dir, "inner.cryolock")
	for _, flags := range [][]string{{"--shared"}, {"--slots", "2"}, nil} {
		args := append([]string{"run", outer, "--", cryolockBin, "run"}, flags...)
		args = append(args, inner, "--", "sh", "-c", `echo "[$CRYOLOCK_TOKEN] $CRYOLOCK_LOCKDIR"`)
		code, out, errOut := runCLI(t, dir, args...)
		if code != 0 {
			t.Fatalf("nested %v: status %d; stderr: %s", flags, code, errOut)
		}
		tok, lockdir, ok := strings.Cut(strings.TrimSpace(out), " ")
		if !ok || lockdir != inner {
			t.Errorf("nested %v: CMD saw %q, want CRYOLOCK_LOCKDIR %s", flags, out, inner)
		}
		if flags != nil && tok != "[]" {
			t.Errorf("nested %v: CMD saw CRYOLOCK_TOKEN %s, the outer run's: want none", flags, tok)
		}
		if flags == nil && tok != "[1]" {
			t.Errorf("nested exclusive: CMD saw CRYOLOCK_TOKEN %s, want the inner lock's first, [1]", tok)
		}
	}
}

// TestRunSlotsNamesHolders: a --slots N run that does not get the lock
// names the N likely holders, not only the lowest ticket's.
func TestRunSlotsNamesHolders(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	plantLive(t, lock, 10, 20, 30, 40)
	code, out, errOut := runCLI(t, "", "run", "-n", "--verbose", "--slots", "3", lock, "--", "true")
	want := "is held by 3 holders (otherhost/pid 1010, otherhost/pid 1020, otherhost/pid 1030); giving up"
	if code != exitConflict || out != "" || !strings.Contains(errOut, want) {
		t.Errorf("run -n --verbose --slots 3 beside four live entries: status %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, exitConflict, want)
	}
	// Without --slots, one holder, as before.
	code, _, errOut = runCLI(t, "", "run", "-n", "--verbose", lock, "--", "true")
	if want := "is held by otherhost/pid 1010; giving up"; code != exitConflict || !strings.Contains(errOut, want) {
		t.Errorf("run -n --verbose beside four live entries: status %d, stderr %q; want %d and %q", code, errOut, exitConflict, want)
	}
}
