//go:build linux && !386 && !arm && !mips && !mipsle

package fusefs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/internal/realfs"
	"github.com/cryolock-go/cryolock/internal/realfs/fusefs"
	"golang.org/x/sys/unix"
)

// TestMain runs no test unless the real-filesystem suite was asked for
// (CRYOLOCK_REALFS=1): the tests mount FUSE filesystems.
func TestMain(m *testing.M) {
	realfs.SkipUnlessRequested("internal/realfs/fusefs")
	os.Exit(m.Run())
}

// mountTwice serves one backing directory at two mount points in this
// process, or skips (fails in CI) where FUSE cannot be mounted: it needs
// /dev/fuse, root and fusermount3 or fusermount (go-fuse mounts and unmounts
// through them).
func mountTwice(t *testing.T, o fusefs.Options) (backing, a, b string) {
	t.Helper()
	var missing []string
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing = append(missing, "/dev/fuse")
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	if !haveFusermount() {
		missing = append(missing, "fusermount3 or fusermount (Debian: apt-get install fuse3)")
	}
	if len(missing) > 0 {
		msg := "mounting FUSE needs " + strings.Join(missing, ", ")
		if realfs.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	backing, a, b = filepath.Join(dir, "backing"), filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, d := range []string{backing, a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, mp := range []string{a, b} {
		srv, err := fusefs.Mount(backing, mp, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := srv.Unmount(); err != nil {
				t.Errorf("unmount %s: %v", mp, err)
			}
		})
	}
	return backing, a, b
}

// haveFusermount reports whether go-fuse can find its helper: fusermount3
// or fusermount, in PATH or in /bin.
func haveFusermount() bool {
	for _, name := range []string{"fusermount3", "fusermount"} {
		if _, err := exec.LookPath(name); err == nil {
			return true
		}
		if _, err := exec.LookPath("/bin/" + name); err == nil {
			return true
		}
	}
	return false
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestListTTL: with a listing TTL far longer than the test, each mount sees
// its own creates and removals at once and the other mount's never.
func TestListTTL(t *testing.T) {
	_, a, b := mountTwice(t, fusefs.Options{ListTTL: time.Hour})
	if err := os.Mkdir(filepath.Join(a, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	a, b = filepath.Join(a, "d"), filepath.Join(b, "d")
	locktest.Names(t, a)
	locktest.Names(t, b) // both take their snapshot: empty
	touch(t, filepath.Join(a, "x"))
	touch(t, filepath.Join(b, "y"))
	if got := locktest.Names(t, a); !slices.Equal(got, []string{"x"}) {
		t.Errorf("mount A lists %v, want [x] (its own create only)", got)
	}
	if got := locktest.Names(t, b); !slices.Equal(got, []string{"y"}) {
		t.Errorf("mount B lists %v, want [y] (its own create only)", got)
	}
	// The other's file exists all the same: lookups are not cached here.
	if _, err := os.Stat(filepath.Join(b, "x")); err != nil {
		t.Errorf("stat through B of the file created through A: %v", err)
	}
	if err := os.Remove(filepath.Join(b, "y")); err != nil {
		t.Fatal(err)
	}
	if got := locktest.Names(t, b); len(got) != 0 {
		t.Errorf("mount B lists %v after removing its only file, want nothing", got)
	}
	if got := locktest.Names(t, a); !slices.Equal(got, []string{"x"}) {
		t.Errorf("mount A lists %v, want [x] (B's create and removal unseen)", got)
	}
}

// TestFlockLocalToMount: flock excludes within one mount and not across two
// mounts of the same backing file.
func TestFlockLocalToMount(t *testing.T) {
	backing, a, b := mountTwice(t, fusefs.Options{})
	touch(t, filepath.Join(backing, "f"))
	lock := func(path string) (*os.File, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	fa, err := lock(filepath.Join(a, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	if f, err := lock(filepath.Join(a, "f")); err == nil {
		f.Close()
		t.Error("a second flock through the same mount succeeded")
	}
	fb, err := lock(filepath.Join(b, "f"))
	if err != nil {
		t.Errorf("flock through the other mount was refused (%v): locks are forwarded after all", err)
	} else {
		fb.Close()
	}
}
