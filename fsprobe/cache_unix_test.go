//go:build unix

package fsprobe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cryolock-go/cryolock/protocol"
)

// plantedLockDir returns a lock directory with an empty .meta, and the cache
// file's path in it for this host.
func plantedLockDir(t *testing.T) (lockDir, cache string) {
	t.Helper()
	lockDir = filepath.Join(t.TempDir(), "x.cryolock")
	if err := os.MkdirAll(filepath.Join(lockDir, MetaDir), 0o777); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	return lockDir, CachePath(lockDir, host)
}

// cachedWithin runs Cached and fails the test if it has not returned after
// 30 s (a hang, not a slow run: a correct Cached refuses at once).
func cachedWithin(t *testing.T, lockDir string) (Report, error) {
	t.Helper()
	type result struct {
		r   Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := Cached(context.Background(), lockDir, Options{})
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		return res.r, res.err
	case <-time.After(30 * time.Second):
		t.Fatalf("Cached(%s) hangs", lockDir)
		return Report{}, nil
	}
}

// wantForeign checks that err reports the planted path as foreign.
func wantForeign(t *testing.T, err error, path string) {
	t.Helper()
	if !errors.Is(err, protocol.ErrForeign) || !strings.Contains(err.Error(), path) {
		t.Fatalf("got error %v, want one wrapping ErrForeign and naming %s", err, path)
	}
}

// Issue 11, item 2: a cache file that is a symbolic link to /dev/zero made
// Cached read forever (out of memory).
func TestCachedRefusesSymlinkToDevZero(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	lockDir, cache := plantedLockDir(t)
	if err := os.Symlink("/dev/zero", cache); err != nil {
		t.Fatal(err)
	}
	_, err := cachedWithin(t, lockDir)
	wantForeign(t, err, cache)
	if target, err := os.Readlink(cache); err != nil || target != "/dev/zero" {
		t.Errorf("the planted link was touched: %q, %v", target, err)
	}
}

// Issue 11, item 2: a 1 GiB cache file (sparse: no disk used) was read whole.
func TestCachedRefusesHugeFile(t *testing.T) {
	lockDir, cache := plantedLockDir(t)
	f, err := os.Create(cache)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Truncate(cache, 1<<30); err != nil {
		t.Skipf("cannot make a sparse file: %v", err)
	}
	_, err = cachedWithin(t, lockDir)
	wantForeign(t, err, cache)
	if fi, err := os.Lstat(cache); err != nil || fi.Size() != 1<<30 {
		t.Errorf("the planted file was touched: %v", err)
	}
	// One byte over the bound is refused too; the read itself is bounded.
	if err := os.Truncate(cache, MaxCacheSize+1); err != nil {
		t.Fatal(err)
	}
	_, err = readCache(lockDir, filepath.Base(cache))
	wantForeign(t, err, cache)
}

// Issue 11, item 2: a named pipe at the cache file blocked open(2) forever.
func TestCachedRefusesFIFO(t *testing.T) {
	lockDir, cache := plantedLockDir(t)
	if err := unix.Mkfifo(cache, 0o666); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := cachedWithin(t, lockDir)
	wantForeign(t, err, cache)
	if fi, err := os.Lstat(cache); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the planted pipe was touched: %v", err)
	}
}

// Issue 11, item 3: a static .meta symbolic link made Cached replace
// victim/fsprobe-<host>.json.
func TestCachedMetaSymlink(t *testing.T) {
	lockDir := filepath.Join(t.TempDir(), "x.cryolock")
	victim := t.TempDir()
	if err := os.Mkdir(lockDir, 0o777); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	name := cacheName(host)
	victimFile := filepath.Join(victim, name)
	if err := os.WriteFile(victimFile, []byte("precious"), 0o666); err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(lockDir, MetaDir)
	if err := os.Symlink(victim, meta); err != nil {
		t.Fatal(err)
	}
	_, err := cachedWithin(t, lockDir)
	checkVictim(t, victim, victimFile)
	wantForeign(t, err, meta)
	// The writer refuses on its own too (a link planted after the read).
	if err := writeCache(lockDir, name, []byte("{}")); !errors.Is(err, protocol.ErrForeign) {
		t.Errorf("writeCache through a .meta link: %v", err)
	}
	checkVictim(t, victim, victimFile)
}

// A link planted at the cache name after the read is replaced by the rename,
// never written through.
func TestWriteCacheReplacesLinkNotTarget(t *testing.T) {
	lockDir, cache := plantedLockDir(t)
	victim := t.TempDir()
	victimFile := filepath.Join(victim, "file")
	if err := os.WriteFile(victimFile, []byte("precious"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victimFile, cache); err != nil {
		t.Fatal(err)
	}
	if err := writeCache(lockDir, filepath.Base(cache), []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(cache); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("cache is not a regular file after the write: %v", err)
	}
	checkVictim(t, victim, victimFile)
	// Nothing but the cache is left in .meta.
	if ents, _ := os.ReadDir(filepath.Dir(cache)); len(ents) != 1 {
		t.Errorf(".meta holds %v", ents)
	}
}

// The lock directory itself as a symbolic link is a bad path, not followed.
func TestCachedLockDirSymlink(t *testing.T) {
	real := t.TempDir()
	lockDir := filepath.Join(t.TempDir(), "x.cryolock")
	if err := os.Symlink(real, lockDir); err != nil {
		t.Fatal(err)
	}
	_, err := cachedWithin(t, lockDir)
	if !errors.Is(err, protocol.ErrBadPath) {
		t.Fatalf("got %v, want ErrBadPath", err)
	}
	if ents, _ := os.ReadDir(real); len(ents) != 0 {
		t.Errorf("the link's target was written: %v", ents)
	}
}

func checkVictim(t *testing.T, victim, victimFile string) {
	t.Helper()
	if b, err := os.ReadFile(victimFile); err != nil || string(b) != "precious" {
		t.Errorf("victim file changed: %.60q, %v", b, err)
	}
	if ents, _ := os.ReadDir(victim); len(ents) != 1 {
		t.Errorf("victim directory holds %v", ents)
	}
}
