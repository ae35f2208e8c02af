package protocol_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// replacedFS is the OS filesystem whose lock directory always reads as
// replaced: every heartbeat finds the hold gone.
type replacedFS struct{ protocol.FS }

func (replacedFS) Verify(protocol.Dir) error {
	return &fs.PathError{Op: "verify", Path: "x.cryolock", Err: fmt.Errorf("%w: it is another directory now", protocol.ErrReplaced)}
}

// TestErrorsWrapSentinels: every exported sentinel is reached with
// errors.Is through the errors of the main paths, each such error is one
// *protocol.Error (errors.As gives its Op and Path) and its text starts with
// the package's prefix exactly once.
func TestErrorsWrapSentinels(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	long := protocol.WithLease(time.Minute)
	newLock := func(t *testing.T, name string, opts ...protocol.Option) *protocol.Lock {
		t.Helper()
		l, err := protocol.New(filepath.Join(tmp, name), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// lockIt holds l until the test ends. The cleanup also keeps l
	// reachable: a held Lock that becomes garbage is released.
	lockIt := func(t *testing.T, l *protocol.Lock) {
		t.Helper()
		if err := l.Lock(ctxT(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Unlock() })
	}
	for _, tc := range []struct {
		name     string
		sentinel error
		op, path string // path: relative to tmp ("" for none); "*" ends a prefix
		run      func(t *testing.T) error
	}{
		{"New: name without the suffix", protocol.ErrBadPath, "new", "jobs", func(t *testing.T) error {
			_, err := protocol.New(filepath.Join(tmp, "jobs"))
			return err
		}},
		{"New: empty path", protocol.ErrBadPath, "new", "", func(t *testing.T) error {
			_, err := protocol.New("")
			return err
		}},
		{"New: bad option", protocol.ErrConfig, "new", "cfg.cryolock", func(t *testing.T) error {
			_, err := protocol.New(filepath.Join(tmp, "cfg.cryolock"), protocol.WithLease(-time.Second))
			return err
		}},
		{"Lock: a regular file", protocol.ErrBadPath, "lock", "file.cryolock", func(t *testing.T) error {
			if err := os.WriteFile(filepath.Join(tmp, "file.cryolock"), nil, 0o666); err != nil {
				t.Fatal(err)
			}
			return newLock(t, "file.cryolock").Lock(ctxT(t, 30*time.Second))
		}},
		{"Lock: timeout", context.DeadlineExceeded, "lock", "busy.cryolock", func(t *testing.T) error {
			lockIt(t, newLock(t, "busy.cryolock", long))
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			return newLock(t, "busy.cryolock", long).Lock(ctx)
		}},
		{"Lock: cancelled", context.Canceled, "lock", "cancel.cryolock", func(t *testing.T) error {
			lockIt(t, newLock(t, "cancel.cryolock", long))
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return newLock(t, "cancel.cryolock", long).Lock(ctx)
		}},
		{"Lock: foreign entry", protocol.ErrForeign, "check", "foreign.cryolock/junk.txt", func(t *testing.T) error {
			if err := os.MkdirAll(filepath.Join(tmp, "foreign.cryolock"), 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(tmp, "foreign.cryolock", "junk.txt"), nil, 0o666); err != nil {
				t.Fatal(err)
			}
			return newLock(t, "foreign.cryolock").Lock(ctxT(t, 30*time.Second))
		}},
		{"Lock: twice", protocol.ErrAlreadyHeld, "lock", "twice.cryolock", func(t *testing.T) error {
			l := newLock(t, "twice.cryolock", long)
			lockIt(t, l)
			return l.Lock(ctxT(t, 30*time.Second))
		}},
		{"Lock: fencing slot not a file", protocol.ErrNotRegular, "fence", "fence.cryolock/.meta", func(t *testing.T) error {
			if err := os.MkdirAll(filepath.Join(tmp, "fence.cryolock", protocol.MetaDir, "fence.a"), 0o777); err != nil {
				t.Fatal(err)
			}
			return newLock(t, "fence.cryolock", protocol.WithFencing(protocol.FencingSlots)).Lock(ctxT(t, 30*time.Second))
		}},
		{"Unlock: not held", protocol.ErrNotHeld, "unlock", "free.cryolock", func(t *testing.T) error {
			return newLock(t, "free.cryolock").Unlock()
		}},
		{"Unlock: entry removed", protocol.ErrLost, "unlock", "gone.cryolock/*", func(t *testing.T) error {
			l := newLock(t, "gone.cryolock", long)
			lockIt(t, l)
			if err := os.Remove(filepath.Join(l.Path(), l.Name())); err != nil {
				t.Fatal(err)
			}
			return l.Unlock()
		}},
		{"Unlock: lost to a replaced directory", protocol.ErrReplaced, "heartbeat", "replaced.cryolock/*", func(t *testing.T) error {
			// The default lease: the heartbeat's first refresh (which
			// verifies the directory) comes after 4 s, and the watchdog's
			// "overdue" only at 7.5 s, so a loaded machine cannot turn the
			// loss into an overdue one.
			l := newLock(t, "replaced.cryolock", protocol.WithFS(replacedFS{protocol.OSFS()}))
			lockIt(t, l)
			select {
			case <-l.Lost():
			case <-ctxT(t, time.Minute).Done():
				t.Fatal("the heartbeat never noticed the replaced directory")
			}
			err := l.Unlock()
			if !errors.Is(err, protocol.ErrLost) {
				t.Errorf("Unlock = %v, want it to wrap ErrLost too", err)
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(t)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want it to wrap %v", err, tc.sentinel)
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want a *protocol.Error", err, err)
			}
			want := tc.path
			if want != "" {
				want = filepath.Join(tmp, filepath.FromSlash(tc.path))
			}
			if pe.Op != tc.op || !(pe.Path == want || strings.HasSuffix(tc.path, "*") && strings.HasPrefix(pe.Path, strings.TrimSuffix(want, "*"))) {
				t.Errorf("Op %q, Path %q; want %q, %q", pe.Op, pe.Path, tc.op, want)
			}
			cause := pe.Err.Error()
			if fe := (*fs.PathError)(nil); errors.As(pe.Err, &fe) && fe == pe.Err && fe.Path == pe.Path {
				cause = fe.Op + ": " + fe.Err.Error() // the path once
			}
			want = "cryolock: " + tc.op + " " + pe.Path + ": " + cause
			if pe.Path == "" {
				want = "cryolock: " + tc.op + ": " + cause
			}
			if msg := err.Error(); msg != want {
				t.Errorf("message %q, want %q", msg, want)
			}
			if inner := (*protocol.Error)(nil); errors.As(pe.Err, &inner) {
				t.Errorf("an *Error inside an *Error: %q", err)
			}
		})
	}
}

// TestReleasedIsTheCause: ErrReleased is the cause of a LockContext context
// ended by Unlock.
func TestReleasedIsTheCause(t *testing.T) {
	t.Parallel()
	l, err := protocol.New(filepath.Join(t.TempDir(), "a.cryolock"), protocol.WithLease(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	hctx, err := l.LockContext(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := context.Cause(hctx); !errors.Is(err, protocol.ErrReleased) {
		t.Errorf("cause %v, want ErrReleased", err)
	}
}

// TestErrorText: "cryolock: <op> <path>: <err>", the path said once when
// the cause is the filesystem's error about the same path.
func TestErrorText(t *testing.T) {
	t.Parallel()
	perm := &fs.PathError{Op: "open", Path: "d.cryolock/x.1", Err: fs.ErrPermission}
	for _, tc := range []struct {
		err  *protocol.Error
		want string
	}{
		{&protocol.Error{Op: "lock", Path: "d.cryolock", Err: context.Canceled}, "cryolock: lock d.cryolock: context canceled"},
		{&protocol.Error{Op: "new", Err: protocol.ErrBadPath}, "cryolock: new: bad lock path"},
		{&protocol.Error{Op: "enter", Path: "d.cryolock/x.1", Err: perm}, "cryolock: enter d.cryolock/x.1: open: permission denied"},
		{&protocol.Error{Op: "lock", Path: "d.cryolock", Err: perm}, "cryolock: lock d.cryolock: open d.cryolock/x.1: permission denied"},
		{&protocol.Error{Op: "read", Path: "d.cryolock/x.1", Err: fmt.Errorf("twice: %w", perm)}, "cryolock: read d.cryolock/x.1: twice: open d.cryolock/x.1: permission denied"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%#v: %q, want %q", tc.err, got, tc.want)
		}
		if !errors.Is(tc.err, tc.err.Err) {
			t.Errorf("%q does not unwrap to its Err", tc.err)
		}
	}
	var pe *fs.PathError
	if !errors.As(&protocol.Error{Op: "enter", Path: "d.cryolock/x.1", Err: perm}, &pe) || pe != perm {
		t.Error("the filesystem's *fs.PathError is not in the chain")
	}
}
