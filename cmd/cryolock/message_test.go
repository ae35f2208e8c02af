package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cryolock-go/cryolock/protocol"
)

// TestLockErrorsPrintedAsTheyAre: the lock's errors reach stderr as the
// library wrote them, "cryolock: " once, then the operation and the path;
// the CLI's own errors get the prefix from main.
func TestLockErrorsPrintedAsTheyAre(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file.cryolock")
	foreign := filepath.Join(tmp, "foreign.cryolock")
	for _, err := range []error{os.WriteFile(file, nil, 0o666), os.Mkdir(foreign, 0o777), os.WriteFile(filepath.Join(foreign, "junk"), nil, 0o666)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args []string
		want string // the whole of stderr
	}{
		{[]string{"run", filepath.Join(tmp, "x.lock"), "--", "true"},
			"cryolock: new " + filepath.Join(tmp, "x.lock") + `: bad lock path: the lock directory's name must end in ".cryolock"` + "\n"},
		{[]string{"status", filepath.Join(tmp, "x.lock")},
			"cryolock: new " + filepath.Join(tmp, "x.lock") + `: bad lock path: the lock directory's name must end in ".cryolock"` + "\n"},
		{[]string{"run", file, "--", "true"},
			"cryolock: lock " + file + ": open: bad lock path: exists and is not a directory\n"},
		{[]string{"run", foreign, "--", "true"},
			"cryolock: check " + filepath.Join(foreign, "junk") + ": foreign entry: the name is not <owner>.<ticket>; it was left untouched, remove it by hand if it is junk\n"},
		{[]string{"run", "--settle", "1s", "--lease", "2s", filepath.Join(tmp, "c.cryolock"), "--", "true"},
			"cryolock: new " + filepath.Join(tmp, "c.cryolock") + ": invalid configuration: settle delay 1s must be below a quarter of the lease 2s\n"},
		{[]string{"run", "--nonblock", "--timeout", "1s", filepath.Join(tmp, "c.cryolock"), "--", "true"},
			"cryolock: run: --timeout and --nonblock exclude each other\n"},
	} {
		if _, _, stderr := runCLI(t, "", tc.args...); stderr != tc.want {
			t.Errorf("cryolock %q: stderr\n%q, want\n%q", tc.args, stderr, tc.want)
		}
	}
}

// TestMessageOfJoin: a joined error prints one line per error, each with
// one "cryolock: " prefix; other multi-error wrappers print as one message.
func TestMessageOfJoin(t *testing.T) {
	t.Parallel()
	lib := &protocol.Error{Op: "unlock", Path: "a.cryolock/x.1", Err: protocol.ErrLost}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{lib, "cryolock: unlock a.cryolock/x.1: lock lost"},
		{errors.New("run: oops"), "cryolock: run: oops"},
		{errors.Join(errors.New("run: CMD failed"), lib), "cryolock: run: CMD failed\ncryolock: unlock a.cryolock/x.1: lock lost"},
		{errors.Join(errors.New("a\nb"), lib), `cryolock: a\nb` + "\ncryolock: unlock a.cryolock/x.1: lock lost"},
		{exitCode(1, lib).(*exitError).err, "cryolock: unlock a.cryolock/x.1: lock lost"},
		{&multi{[]error{lib, protocol.ErrBadPath}}, "cryolock: both"},
	} {
		if got := message(tc.err); got != tc.want {
			t.Errorf("message(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

type multi struct{ errs []error }

func (m *multi) Error() string   { return "both" }
func (m *multi) Unwrap() []error { return m.errs }
