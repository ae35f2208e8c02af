//go:build unix

package protocol_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// TestBadPathMessages: a lock path that cannot be a lock directory is
// refused with ErrBadPath and a message that names the path and says what
// is wrong with it — and the file the user named by mistake is left as it
// was. A NUL byte is refused by New (the system call said only "invalid
// argument", without ErrBadPath); a path whose parent is a regular file
// used to be reported as "exists and is not a directory", though nothing
// exists at the path.
func TestBadPathMessages(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	file := filepath.Join(root, "notes.txt")
	if err := os.WriteFile(file, []byte("precious"), 0o666); err != nil {
		t.Fatal(err)
	}
	lockFile := filepath.Join(root, "file.cryolock")
	if err := os.WriteFile(lockFile, []byte("precious"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		says       []string // in the message besides the path
		saysNot    string
	}{
		{"NUL byte", filepath.Join(root, "a\x00b.cryolock"), []string{"NUL"}, ""},
		{"parent is a file", filepath.Join(file, "x.cryolock"), []string{"not a directory", "parent"}, "exists"},
		{"grandparent is a file", filepath.Join(file, "sub", "x.cryolock"), []string{"not a directory", "parent"}, "exists"},
		{"the path is a file", lockFile, []string{"exists and is not a directory"}, "parent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			l, err := protocol.New(tc.path)
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				err = l.Lock(ctx)
				if err == nil {
					l.Unlock()
				}
			}
			if !errors.Is(err, protocol.ErrBadPath) {
				t.Fatalf("err = %v, want ErrBadPath", err)
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Path != tc.path {
				t.Errorf("err = %v, want a *protocol.Error with Path %q", err, tc.path)
			}
			msg := err.Error()
			for _, s := range tc.says {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q does not say %q", msg, s)
				}
			}
			if tc.saysNot != "" && strings.Contains(msg, tc.saysNot) {
				t.Errorf("message %q says %q", msg, tc.saysNot)
			}
		})
	}
	for _, f := range []string{file, lockFile} {
		if b, err := os.ReadFile(f); err != nil || string(b) != "precious" {
			t.Errorf("%s: %q, %v; want it untouched", f, b, err)
		}
	}
}

// TestReadFenceBadPath: ReadFence takes a lock directory's path as New
// does. Given "" it read the working directory's .meta, and given a
// directory whose name lacks the suffix it read that one: both answered
// "no token issued yet" (0, nil) instead of saying the path is wrong.
func TestReadFenceBadPath(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, p := range []string{"", root, filepath.Join(root, "a\x00b.cryolock")} {
		n, err := protocol.ReadFence(nil, p)
		if !errors.Is(err, protocol.ErrBadPath) {
			t.Errorf("ReadFence(%q) = %d, %v; want ErrBadPath", p, n, err)
			continue
		}
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Op != "fence" || pe.Path != p {
			t.Errorf("ReadFence(%q): %#v, want a *protocol.Error with Op fence and the path", p, err)
		}
	}
}
