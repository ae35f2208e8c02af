//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holder is a `cryolock run` holding a lock until released.
type holder struct {
	*cli
	entry string // its entry's name
}

// startHolder runs `cryolock run [flags] lock -- CMD` where CMD prints
// "ready", then waits for a line on stdin. It returns once CMD runs, that is,
// once the lock is held.
func startHolder(t *testing.T, lock string, flags ...string) *holder {
	t.Helper()
	args := append([]string{"run"}, flags...)
	args = append(args, lock, "--", "sh", "-c", "echo ready; read x; echo released")
	c := startCLI(t, "", args...)
	c.expectLine(false, "ready")
	names := entries(t, lock)
	if len(names) != 1 {
		t.Fatalf("while one run holds %s it contains %v, want one entry", lock, names)
	}
	return &holder{cli: c, entry: names[0]}
}

// release lets the holder's CMD finish and returns run's exit status.
func (h *holder) release() int {
	h.t.Helper()
	if _, err := fmt.Fprintln(h.stdin, "go"); err != nil {
		h.t.Fatal(err)
	}
	return h.wait()
}

func newLockPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "test.cryolock")
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cmd  []string
		want int
	}{
		{"true", []string{"true"}, 0},
		{"exit3", []string{"sh", "-c", "exit 3"}, 3},
		{"exit255", []string{"sh", "-c", "exit 255"}, 255},
		{"SIGTERM", []string{"sh", "-c", "kill -TERM $$"}, 128 + int(syscall.SIGTERM)},
		{"SIGKILL", []string{"sh", "-c", "kill -KILL $$"}, 128 + int(syscall.SIGKILL)},
		{"notfound", []string{"cryolock-no-such-command"}, exitNotFound},
		{"notexecutable", []string{"/dev/null"}, exitCannotExec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lock := newLockPath(t)
			code, _, stderr := runCLI(t, "", append([]string{"run", lock, "--"}, tc.cmd...)...)
			if code != tc.want {
				t.Errorf("cryolock run -- %q: status %d, want %d; stderr: %s", tc.cmd, code, tc.want, stderr)
			}
			if tc.want >= exitCannotExec && tc.want <= exitNotFound && !strings.Contains(stderr, tc.cmd[0]) {
				t.Errorf("stderr %q does not name the command %s", stderr, tc.cmd[0])
			}
			if names := entries(t, lock); len(names) != 0 {
				t.Errorf("after run the lock directory holds %v, want nothing", names)
			}
		})
	}
}

func TestRunPassesStdio(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	c := startCLI(t, "", "run", lock, "--", "sh", "-c", "cat; echo to-stderr >&2")
	fmt.Fprint(c.stdin, "line one\nline two\n")
	c.stdin.Close()
	if code := c.wait(); code != 0 {
		t.Fatalf("status %d; stderr: %s", code, c.stderr)
	}
	if got, want := c.stdout.String(), "line one\nline two\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if got := c.stderr.String(); got != "to-stderr\n" {
		t.Errorf("stderr %q, want CMD's own", got)
	}
}

func TestRunNonblockAndTimeout(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	h := startHolder(t, lock)
	for _, tc := range []struct {
		flags []string
		want  int
	}{
		{[]string{"--nonblock"}, exitConflict},
		{[]string{"--nonblock", "--conflict-exit-code", "9"}, 9},
		{[]string{"--timeout", "0"}, exitConflict},
		{[]string{"--timeout", "300ms"}, exitConflict},
		{[]string{"--timeout", "200ms", "--conflict-exit-code", "0"}, 0},
	} {
		args := append(append([]string{"run"}, tc.flags...), lock, "--", "echo", "ran")
		code, stdout, stderr := runCLI(t, "", args...)
		if code != tc.want {
			t.Errorf("%q while held: status %d, want %d; stderr: %s", args, code, tc.want, stderr)
		}
		if stdout != "" || stderr != "" {
			t.Errorf("%q while held: CMD ran or run spoke (stdout %q, stderr %q); want silence like flock", args, stdout, stderr)
		}
		if names := entries(t, lock); !slices.Equal(names, []string{h.entry}) {
			t.Errorf("after %q the lock directory holds %v, want just the holder's %s", args, names, h.entry)
		}
	}
	if code := h.release(); code != 0 {
		t.Fatalf("holder: status %d; stderr: %s", code, h.stderr)
	}
	if names := entries(t, lock); len(names) != 0 {
		t.Fatalf("after release the lock directory holds %v", names)
	}
	if code, stdout, stderr := runCLI(t, "", "run", "--nonblock", lock, "--", "echo", "ran"); code != 0 || stdout != "ran\n" {
		t.Fatalf("--nonblock on a free lock: status %d, stdout %q, stderr %s", code, stdout, stderr)
	}
}

func TestRunWaitsForRelease(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	h := startHolder(t, lock)
	w := startCLI(t, "", "run", "--verbose", lock, "--", "echo", "ran")
	w.expectLine(true, "waiting for the lock")
	// --verbose says who holds it, once (stderr is not a terminal).
	who := fmt.Sprintf("/pid %d for ", h.cmd.Process.Pid)
	if l := w.expectLine(true, "waiting for "+lock+", held by "); !strings.Contains(l, who) {
		t.Errorf("waiting line %q does not name the holder's pid (%q)", l, who)
	}
	if code := h.release(); code != 0 {
		t.Fatalf("holder: status %d; stderr: %s", code, h.stderr)
	}
	if code := w.wait(); code != 0 {
		t.Fatalf("waiter: status %d; stderr: %s", code, w.stderr)
	}
	if got := w.stdout.String(); got != "ran\n" {
		t.Errorf("waiter's stdout %q, want %q", got, "ran\n")
	}
	if n := strings.Count(w.stderr.String(), "held by"); n != 1 {
		t.Errorf("the waiting line was written %d times to a log, want once per holder:\n%s", n, w.stderr)
	}
	if names := entries(t, lock); len(names) != 0 {
		t.Errorf("lock directory holds %v, want nothing", names)
	}
}

func TestRunSignalWhileWaiting(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	h := startHolder(t, lock)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		w := startCLI(t, "", "run", "--verbose", lock, "--", "echo", "ran")
		w.expectLine(true, "waiting for the lock")
		if err := w.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if code := w.wait(); code != 128+int(sig) {
			t.Errorf("waiter got %v: status %d, want %d; stderr: %s", sig, code, 128+int(sig), w.stderr)
		}
		if strings.Contains(w.stdout.String(), "ran") {
			t.Errorf("waiter got %v but CMD ran", sig)
		}
		if names := entries(t, lock); !slices.Equal(names, []string{h.entry}) {
			t.Errorf("after the waiter got %v the lock directory holds %v, want just the holder's %s", sig, names, h.entry)
		}
	}
	if code := h.release(); code != 0 {
		t.Fatalf("holder: status %d; stderr: %s", code, h.stderr)
	}
}

func TestRunForwardsSignals(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	// CMD reports every signal it gets; TERM makes it exit 42. The
	// background sleep only gives wait something to wait for; the traps
	// interrupt wait at once (POSIX) and TERM kills the sleep. The
	// signals go to CMD's whole group, sleep included; but if they come
	// before the forked shell has become sleep, the shell's traps catch
	// them and sleep lives on: so it must not hold stdout (the test would
	// wait for its end) and the test kills it.
	script := `
for s in INT HUP QUIT USR1 USR2; do trap "echo got-$s" $s; done
trap 'kill $pid; echo got-TERM; exit 42' TERM
sleep 1000 </dev/null >/dev/null 2>&1 & pid=$!
echo "sleep $pid"
echo ready
while :; do wait $pid; done`
	c := startCLI(t, "", "run", lock, "--", "sh", "-c", script)
	var sleepPid int
	if _, err := fmt.Sscanf(c.expectLine(false, "sleep "), "sleep %d", &sleepPid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(sleepPid, syscall.SIGKILL) })
	c.expectLine(false, "ready")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM} {
		if err := c.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(sigName(sig), "SIG")
		c.expectLine(false, "got-"+name)
	}
	if code := c.wait(); code != 42 {
		t.Errorf("status %d, want CMD's 42; stderr: %s", code, c.stderr)
	}
	if names := entries(t, lock); len(names) != 0 {
		t.Errorf("lock directory holds %v, want nothing", names)
	}
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGUSR1:
		return "SIGUSR1"
	case syscall.SIGUSR2:
		return "SIGUSR2"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// breakLock removes the holder's entry from outside, as a contender
// that judged it stale would.
func breakLock(t *testing.T, lock string, h *holder) string {
	t.Helper()
	path := filepath.Join(lock, h.entry)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunLostKeepsRunning(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	h := startHolder(t, lock, "--lease", "1s", "--verbose")
	// Past run's check that the lock is still held once CMD started (a
	// loss before it kills CMD at once, --kill-on-lost or not).
	h.expectLine(true, "started CMD")
	path := breakLock(t, lock, h)
	msg := h.expectLine(true, "lost the lock")
	if !strings.Contains(msg, path) || !strings.Contains(msg, "keeps running") {
		t.Errorf("lost message %q does not name %s or say CMD keeps running", msg, path)
	}
	if code := h.release(); code != exitLost {
		t.Errorf("status %d, want %d (lost); stderr: %s", code, exitLost, h.stderr)
	}
	if !strings.Contains(h.stdout.String(), "released") {
		t.Errorf("CMD did not run to its end without --kill-on-lost; stdout %q", h.stdout)
	}
}

func TestRunKillOnLost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		script string
	}{
		{"SIGTERM", "echo ready; read x"},
		// A CMD that ignores SIGTERM is killed after the grace period.
		{"SIGKILL", "trap '' TERM; echo ready; read x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lock := newLockPath(t)
			c := startCLI(t, "", "run", "--lease", "1s", "--kill-on-lost", "--kill-grace", "0.5", lock, "--", "sh", "-c", tc.script)
			c.expectLine(false, "ready")
			names := entries(t, lock)
			if len(names) != 1 {
				t.Fatalf("lock directory holds %v, want one entry", names)
			}
			path := filepath.Join(lock, names[0])
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			// CMD waits for stdin forever: only the kill ends it.
			if code := c.wait(); code != exitLost {
				t.Errorf("status %d, want %d (lost); stderr: %s", code, exitLost, c.stderr)
			}
			msg := c.expectLine(true, "lost the lock")
			if !strings.Contains(msg, path) || !strings.Contains(msg, "terminating CMD") {
				t.Errorf("lost message %q does not name %s or say CMD is terminated", msg, path)
			}
		})
	}
}

func TestRunExcludes(t *testing.T) {
	t.Parallel()
	const procs, runs = 4, 20
	dir := t.TempDir()
	lock := filepath.Join(dir, "counter.cryolock")
	if err := os.WriteFile(filepath.Join(dir, "counter"), []byte("0\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	// Read, increment, write: lost updates if two ever overlap; the
	// "inside" marker catches an overlap even when no update is lost.
	script := `[ -e inside ] && echo overlap >> overlaps
touch inside
n=$(cat counter)
echo $((n + 1)) > counter
rm inside`
	var wg sync.WaitGroup
	errs := make(chan string, procs*runs)
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < runs; i++ {
				code, _, stderr := runCLI(t, dir, "run", lock, "--", "sh", "-c", script)
				if code != 0 {
					errs <- fmt.Sprintf("run: status %d; stderr: %s", code, stderr)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	b, err := os.ReadFile(filepath.Join(dir, "counter"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || n != procs*runs {
		t.Errorf("counter %q, want %d", b, procs*runs)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "overlaps")); err == nil {
		t.Errorf("runs overlapped: %q", b)
	}
	if names := entries(t, lock); len(names) != 0 {
		t.Errorf("lock directory holds %v, want nothing", names)
	}
}

func TestRunBadInput(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file.cryolock")
	if err := os.WriteFile(file, []byte("x"), 0o666); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(tmp, "foreign.cryolock")
	if err := os.Mkdir(foreign, 0o777); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(foreign, "junk.txt")
	if err := os.WriteFile(junk, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(tmp, "ok.cryolock")
	for _, tc := range []struct {
		args []string
		want int
		says string // stderr must contain it
	}{
		{[]string{"run", filepath.Join(tmp, "x.lock"), "--", "true"}, exitUsage, filepath.Join(tmp, "x.lock")},
		{[]string{"run", file, "--", "true"}, exitUsage, file},
		{[]string{"run", foreign, "--", "true"}, exitForeign, junk},
		{[]string{"run", lock}, exitUsage, "missing CMD"},
		{[]string{"run"}, exitUsage, "missing LOCKDIR"},
		{[]string{"run", lock, "--"}, exitUsage, "missing CMD after --"},
		{[]string{"run", "--", lock, "true"}, exitUsage, "missing LOCKDIR before --"},
		{[]string{"run", lock, "-n", "--", "true"}, exitUsage, "flags go before LOCKDIR"},
		{[]string{"run", lock, "--verbose", "true"}, exitUsage, "flags go before LOCKDIR"},
		{[]string{"run", lock, "-c"}, exitUsage, "exactly one argument"},
		{[]string{"run", lock, "-c", "true", "extra"}, exitUsage, "exactly one argument"},
		{[]string{"run", "-c", "true", lock, "-c", "true"}, exitUsage, "-c takes the whole command"},
		{[]string{"run", "--nonblock", "--timeout", "1s", lock, "--", "true"}, exitUsage, "exclude"},
		{[]string{"run", "--timeout", "-1", lock, "--", "true"}, exitUsage, "--timeout"},
		{[]string{"run", "--timeout", "2x", lock, "--", "true"}, exitUsage, "--timeout"},
		{[]string{"run", "--lease", "1ms", lock, "--", "true"}, exitUsage, "1s..24h"},
		{[]string{"run", "--lease", "2000000h", lock, "--", "true"}, exitUsage, "1s..24h"},
		{[]string{"run", "-c", "true", lock, "--", "true"}, exitUsage, "-c"},
		{[]string{"run", "--lease", "0s", lock, "--", "true"}, exitUsage, "--lease"},
		{[]string{"run", "--settle", "5s", "--lease", "1s", lock, "--", "true"}, exitUsage, "settle"},
		{[]string{"run", "--stale-rule", "sometimes", lock, "--", "true"}, exitUsage, "sometimes"},
		{[]string{"run", "--conflict-exit-code", "300", lock, "--", "true"}, exitUsage, "300"},
	} {
		code, stdout, stderr := runCLI(t, "", tc.args...)
		if code != tc.want || !strings.Contains(stderr, tc.says) {
			t.Errorf("cryolock %q: status %d, stderr %q; want status %d and a message containing %q", tc.args, code, stderr, tc.want, tc.says)
		}
		if stdout != "" {
			t.Errorf("cryolock %q: stdout %q, want nothing", tc.args, stdout)
		}
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "x" {
		t.Errorf("the regular file %s was changed: %q, %v", file, b, err)
	}
	if names := entries(t, foreign); !slices.Equal(names, []string{"junk.txt"}) {
		t.Errorf("foreign lock directory holds %v, want junk.txt untouched", names)
	}
	if _, err := os.Stat(lock); err == nil {
		t.Errorf("a usage error created %s", lock)
	}
}

func TestRunHelpDocumentsExitCodes(t *testing.T) {
	t.Parallel()
	code, stdout, _ := runCLI(t, "", "run", "--help")
	if code != 0 {
		t.Fatalf("run --help: status %d", code)
	}
	for _, s := range []string{"Exit status", "128+N", "--conflict-exit-code", "64", "65", "70", "74", "75", "126", "127", "--kill-on-lost", "--nonblock", "--timeout", "--lease"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("run --help does not mention %q", s)
		}
	}
}

func TestRunLeaseFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ lease, content string }{
		{"2500ms", "2.5"},
		{"none", "None"},
		{"10s", "10"},
	} {
		lock := newLockPath(t)
		// CMD prints its own entry: the lease run declared.
		code, stdout, stderr := runCLI(t, "", "run", "--lease", tc.lease, lock, "--", "sh", "-c", `cat "$0"/*`, lock)
		if code != 0 || stdout != tc.content {
			t.Errorf("--lease %s: status %d, spec content %q, want %q; stderr: %s", tc.lease, code, stdout, tc.content, stderr)
		}
	}
}

func TestRunStaleRuleFlag(t *testing.T) {
	t.Parallel()
	// An entry whose heartbeat is two hours old, with a two-second lease:
	// stale by the wall clock at once, while the observed rule must watch it
	// unchanged for a whole lease first (a --nonblock run does so because
	// the entry looks dead by the wall clock: TryLock's watch). The reaping
	// is logged with the rule that judged it.
	for _, rule := range []string{"observed", "wallclock"} {
		lock := newLockPath(t)
		if err := os.Mkdir(lock, 0o777); err != nil {
			t.Fatal(err)
		}
		dead := filepath.Join(lock, "dead_1_abcdefghijkl.5")
		if err := os.WriteFile(dead, []byte("2"), 0o666); err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-2 * time.Hour)
		if err := os.Chtimes(dead, past, past); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		code, _, stderr := runCLI(t, "", "run", "--nonblock", "--verbose", "--stale-rule", rule, lock, "--", "true")
		took := time.Since(start)
		if code != 0 {
			t.Errorf("--stale-rule %s --nonblock over a dead entry: status %d, want 0; stderr: %s", rule, code, stderr)
		}
		if !strings.Contains(stderr, "reaped stale entry") || !strings.Contains(stderr, "rule="+rule) {
			t.Errorf("--stale-rule %s: the reaping was not logged with rule=%s; stderr: %s", rule, rule, stderr)
		}
		if rule == "observed" && took < 2*time.Second {
			t.Errorf("--stale-rule observed reaped after %v, before a whole lease of watching", took)
		}
		if names := entries(t, lock); len(names) != 0 {
			t.Errorf("--stale-rule %s: lock directory holds %v, want the stale entry reaped", rule, names)
		}
	}
}

// TestRunLostNamesCMDsGroup: the message on a loss names CMD's process
// group, N (on Linux the pid of CMD's supervisor, not CMD's own, so
// "kill N" would not stop CMD), and the "kill -- -N" it suggests stops CMD.
func TestRunLostNamesCMDsGroup(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	h := startHolder(t, lock, "--lease", "1s", "--verbose")
	h.expectLine(true, "started CMD")
	breakLock(t, lock, h)
	msg := h.expectLine(true, "lost the lock")
	var n int
	i := strings.Index(msg, "CMD's process group ")
	if i < 0 {
		t.Fatalf("lost message %q does not name CMD's process group", msg)
	}
	if _, err := fmt.Sscanf(msg[i:], "CMD's process group %d keeps running", &n); err != nil {
		t.Fatalf("lost message %q: %v", msg, err)
	}
	if want := fmt.Sprintf(`"kill -- -%d"`, n); !strings.Contains(msg, want) {
		t.Errorf("lost message %q does not suggest %s", msg, want)
	}
	if g, err := unix.Getpgid(n); err != nil || g != n {
		t.Fatalf("%d is not a process group leader (its group %d, %v)", n, g, err)
	}
	if err := syscall.Kill(-n, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// CMD waits for stdin forever: only the kill ends it.
	if code := h.wait(); code != exitLost {
		t.Errorf("status %d, want %d (lost); stderr: %s", code, exitLost, h.stderr)
	}
	if strings.Contains(h.stdout.String(), "released") {
		t.Errorf("CMD ran to its end after kill -- -%d; stdout %q", n, h.stdout)
	}
}

// TestRunScriptWithoutShebang: an executable script without "#!" runs
// through /bin/sh, as execvp(3) (and so flock(1)) runs it, instead of
// failing with "exec format error".
func TestRunScriptWithoutShebang(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "noshebang")
	// Written by another process: a descriptor open for writing here could
	// be inherited by a parallel test's fork and make the exec ETXTBSY.
	if out, err := exec.Command("sh", "-c", `echo 'printf "[%s]" "$@"' >"$0" && chmod 755 "$0"`, script).CombinedOutput(); err != nil {
		t.Fatalf("writing %s: %v %s", script, err, out)
	}
	lock := newLockPath(t)
	code, out, errOut := runCLI(t, "", "run", lock, "--", script, "a b", "-n")
	if code != 0 || out != "[a b][-n]" {
		t.Errorf("run -- %s 'a b' -n: status %d, stdout %q; want 0 and %q; stderr: %s", script, code, out, "[a b][-n]", errOut)
	}
}
