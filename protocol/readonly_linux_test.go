package protocol_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadOnlyMount locks a directory on a read-only filesystem (a tmpfs
// remounted read-only): the error must name the path and nothing may hang.
// Root ignores permission bits, so a read-only mount is how root gets a
// directory it cannot write.
func TestReadOnlyMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs (the read-only-permission case covers non-root)")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("none", mnt, "tmpfs", 0, ""); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): missing CAP_SYS_ADMIN", err)
	}
	defer syscall.Unmount(mnt, 0)
	dir := filepath.Join(mnt, "ro.cryolock")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("none", mnt, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	err := newLock(t, dir).Lock(ctxT(t, 5*time.Second))
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("got %v, want EROFS naming %s", err, dir)
	}
	// And a lock directory that does not exist yet cannot be created.
	err = newLock(t, filepath.Join(mnt, "new.cryolock")).Lock(ctxT(t, 5*time.Second))
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "new.cryolock") {
		t.Fatalf("got %v, want EROFS naming new.cryolock", err)
	}
}
