//go:build unix

package protocol

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOSFSMatchesOS checks the OS filesystem's listing against the standard
// library's, with every kind of entry, and the symlink rules of FS.
func TestOSFSMatchesOS(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "reg.1"), []byte("10"), 0o666)
	os.Mkdir(filepath.Join(dir, ".meta"), 0o777)
	os.Symlink("reg.1", filepath.Join(dir, "link.2"))
	// A named pipe where the platform has them (not on Windows).
	mkfifo(filepath.Join(dir, "fifo.3"))
	for i := 0; i < 300; i++ { // more than one getdents buffer
		os.WriteFile(filepath.Join(dir, "n"+strings.Repeat("x", 40)+"_"+string(rune('a'+i%26))+filepath.Base(t.Name())+"."+strconv.Itoa(i)), nil, 0o666)
	}
	fsys := OSFS()
	d, err := fsys.OpenDir(nil, dir, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := fsys.ReadDir(d)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadDir(dir)
	if len(got) != len(want) {
		t.Fatalf("ReadDir: %d entries, os.ReadDir %d", len(got), len(want))
	}
	slices.SortFunc(got, func(a, b DirEntry) int { return strings.Compare(a.Name, b.Name) })
	for i := range want {
		if got[i].Name != want[i].Name() || got[i].Type != want[i].Type() {
			t.Errorf("entry %d: %+v, want %s %v", i, got[i], want[i].Name(), want[i].Type())
		}
	}

	old := time.Unix(1_000_000_000, 0)
	if err := fsys.Chtimes(d, "missing.9", old, old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Chtimes on a missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.9")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Chtimes created a file")
	}
	if _, err := fsys.OpenDir(d, "reg.1", false, 0); !errors.Is(err, ErrBadPath) {
		t.Errorf("OpenDir of a regular file: %v, want ErrBadPath", err)
	}

	link := "link.2"
	if lfi, err := os.Lstat(filepath.Join(dir, link)); err != nil || lfi.Mode()&fs.ModeSymlink == 0 {
		// Wine 8 makes a host symbolic link transparent: nothing on
		// this system can see it as a link.
		t.Skipf("the symbolic link is not one to the os package here (%v): the no-follow checks need a system that has them", err)
	}
	if err := fsys.WriteFile(d, link, []byte("x"), 0o666); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("WriteFile through a symlink: %v", err)
	}
	if _, _, err := fsys.ReadFile(d, link); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile of a symlink: %v, want ErrNotRegular", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "reg.1")); string(b) != "10" {
		t.Errorf("symlink target changed: %q", b)
	}
	fi, err := fsys.Stat(d, link)
	if err != nil || fi.Mode&fs.ModeSymlink == 0 {
		t.Errorf("Stat followed a symlink: %v %v", fi.Mode, err)
	}
	if err := fsys.Chtimes(d, link, old, old); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "reg.1")); fi.ModTime().Equal(old) {
		t.Error("Chtimes followed a symlink")
	}
	if _, err := fsys.OpenDir(d, "link.2", false, 0); !errors.Is(err, ErrBadPath) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("OpenDir of a symlink: %v, want ErrBadPath naming the symbolic link", err)
	}
}
