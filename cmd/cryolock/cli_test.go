//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/cryolock-go/cryolock/protocol"
)

func TestNoArgumentsIsUsage(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCLI(t, "")
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "Usage:") || !strings.Contains(stderr, "run") {
		t.Errorf("cryolock: status %d, stdout %q, stderr %q; want 64 and the usage on stderr", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "", "no-such-command"); code != exitUsage || !strings.Contains(stderr, "no-such-command") {
		t.Errorf("cryolock no-such-command: status %d, stderr %q", code, stderr)
	}
}

// TestHelpFlagDefaults: every command's --help gives a flag's default at
// most once, and never as the word "default" (a flag Value whose String
// said so printed "(default 1ms..10ms; ...) (default default)").
func TestHelpFlagDefaults(t *testing.T) {
	t.Parallel()
	for _, cmd := range [][]string{{"run"}, {"status"}, {"probe"}, {"sim"}, {"sim", "audit"}, {"sim", "hpc"}} {
		code, stdout, _ := runCLI(t, "", append(cmd, "--help")...)
		if code != 0 {
			t.Fatalf("%v --help: status %d", cmd, code)
		}
		for _, line := range strings.Split(stdout, "\n") {
			if strings.Count(line, "(default") > 1 || strings.Contains(line, "(default default)") {
				t.Errorf("%v --help: %q", cmd, line)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, stdout, _ := runCLI(t, "", "--version")
	if code != 0 || !strings.HasPrefix(stdout, "cryolock ") {
		t.Errorf("--version: status %d, %q", code, stdout)
	}
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2025-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	if got, want := versionOf(bi), "v1.2.3 (revision abc123 of 2025-01-02T03:04:05Z, modified) go1.99"; got != want {
		t.Errorf("versionOf = %q, want %q", got, want)
	}
	if got := versionOf(&debug.BuildInfo{}); got != "(devel)" {
		t.Errorf("versionOf(empty) = %q", got)
	}
}

func TestPrintableAndQuote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, printable, quote string }{
		{"plain/name.cryolock", "plain/name.cryolock", "plain/name.cryolock"},
		{"a\nb", `a\nb`, `"a\nb"`},
		{"red\x1b[31m", `red\x1b[31m`, `"red\x1b[31m"`},
		{"bad\xffutf8", `bad\xffutf8`, `"bad\xffutf8"`},
		{"ünïcode", "ünïcode", "ünïcode"},
		{" lead", " lead", `" lead"`},
		{"", "", `""`},
	} {
		if got := printable(tc.in); got != tc.printable {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.printable)
		}
		if got := quote(tc.in); got != tc.quote {
			t.Errorf("quote(%q) = %q, want %q", tc.in, got, tc.quote)
		}
	}
}

// TestHostileNamesQuoted: a foreign entry named with a newline and an
// escape sequence is shown quoted by status, and run's error about it
// carries no raw control character.
func TestHostileNamesQuoted(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	if err := os.Mkdir(lock, 0o777); err != nil {
		t.Fatal(err)
	}
	evil := "evil\n\x1b[2J.txt"
	if err := os.WriteFile(filepath.Join(lock, evil), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCLI(t, "", "status", lock)
	if code != statusBlocked || !strings.Contains(stdout, `"evil\n\x1b[2J.txt"`) || strings.Contains(stdout, "\x1b") {
		t.Errorf("status over a hostile name: status %d, stdout %q; want it quoted", code, stdout)
	}
	code, _, stderr := runCLI(t, "", "run", lock, "--", "true")
	if code != exitForeign || strings.ContainsAny(stderr, "\x1b") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("run over a hostile name: status %d, stderr %q; want exit 65 and one line without control characters", code, stderr)
	}
}

// fakeLock is a held lock whose state the test sets.
type fakeLock struct {
	held     bool
	token    uint64
	lost     chan struct{}
	path     string
	unlocked bool
}

func (f *fakeLock) Lock(context.Context) error            { return nil }
func (f *fakeLock) TryLock(context.Context) (bool, error) { return true, nil }
func (f *fakeLock) Lost() <-chan struct{}                 { return f.lost }
func (f *fakeLock) Held() bool                            { return f.held }
func (f *fakeLock) Path() string                          { return f.path }
func (f *fakeLock) Name() string                          { return "me_1_abcdefghijkl.7" }
func (f *fakeLock) Token() uint64                         { return f.token }
func (f *fakeLock) Unlock() error {
	f.unlocked = true
	if !f.held {
		return protocol.ErrLost
	}
	return nil
}

// TestRunDoesNotStartCMDWithoutTheLock: a hold already lost when run is
// about to start CMD, or an exhausted fencing counter, means CMD never runs.
func TestRunDoesNotStartCMDWithoutTheLock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		lock  fakeLock
		code  int
		says  string
		shell bool
	}{
		{"lost", fakeLock{held: false, token: 5}, exitLost, "CMD not started", true},
		{"token exhausted", fakeLock{held: true, token: 0}, exitSoftware, "exhausted", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			marker := filepath.Join(dir, "ran")
			l := tc.lock
			l.lost, l.path = make(chan struct{}), filepath.Join(dir, "x.cryolock")
			o := &runOptions{slots: 1}
			var stderr bytes.Buffer
			err := o.runHeld(&l, []string{"touch", marker}, nil, stdio{strings.NewReader(""), &stderr, &stderr}, discardLog())
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != tc.code || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("runHeld = %v, want exit %d saying %q", err, tc.code, tc.says)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("CMD ran")
			}
			if !l.unlocked {
				t.Errorf("the lock was not released")
			}
		})
	}
}

func TestConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
		return p
	}
	report := write("report.json", `{"version":1,"dir":"/x","recommendation":{"usable":true,"lease":"3s","settle":"0s","min_backoff":"2ms","max_backoff":"20ms","stale_rule":"wallclock","reasons":[],"warnings":[]}}`)
	bare := write("rec.json", `{"usable":true,"lease":4,"settle":"0s","min_backoff":"1ms","max_backoff":"5ms","stale_rule":"observed"}`)
	unusable := write("bad.json", `{"recommendation":{"usable":false,"warnings":["mkdir does not work"]}}`)
	junk := write("junk.json", `{"hello":1}`)
	tiny := write("tiny.json", `{"usable":true,"lease":"1ms"}`)
	// A negative backoff bound was skipped silently (the run went on with
	// the default backoff).
	negMin := write("negmin.json", `{"usable":true,"lease":"5s","min_backoff":"-1s","max_backoff":"1s"}`)
	negMax := write("negmax.json", `{"usable":true,"lease":"5s","min_backoff":"0s","max_backoff":"-1s"}`)

	for _, tc := range []struct {
		file, extra string
		want        string
	}{
		{report, "", "3"},
		{bare, "", "4"},
		{report, "--lease=6", "6"}, // an explicit flag wins
	} {
		lock := newLockPath(t)
		args := []string{"run", "--config", tc.file}
		if tc.extra != "" {
			args = append(args, tc.extra)
		}
		args = append(args, lock, "-c", `cat "$CRYOLOCK_LOCKDIR"/*`)
		code, stdout, stderr := runCLI(t, "", args...)
		if code != 0 || stdout != tc.want {
			t.Errorf("%q: status %d, lease written %q, want %q; stderr %s", args, code, stdout, tc.want, stderr)
		}
	}
	for _, tc := range []struct{ file, says string }{
		{unusable, "mkdir does not work"},
		{junk, "neither a probe report"},
		{tiny, "1s..24h"},
		{negMin, "negmin.json: negative backoff -1s..1s"},
		{negMax, "negmax.json: negative backoff 0s..-1s"},
		{filepath.Join(dir, "missing.json"), "missing.json"},
		{dir, "not a regular file"},
	} {
		code, _, stderr := runCLI(t, "", "run", "--config", tc.file, newLockPath(t), "--", "true")
		if code != exitUsage || !strings.Contains(stderr, tc.says) {
			t.Errorf("--config %s: status %d, stderr %q; want 64 saying %q", tc.file, code, stderr, tc.says)
		}
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
