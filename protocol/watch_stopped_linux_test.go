package protocol

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// inotifyWatches counts the watches of the inotify descriptor fd
// (/proc/self/fdinfo lists one "inotify wd:" line each).
func inotifyWatches(t *testing.T, fd int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "inotify wd:")
}

// TestStoppedInstanceUntouched: a watch that outlived its inotify instance
// (its directory was removed, its waiters still hold it) must not add or
// remove watches through the instance's descriptor number, which may be
// another instance's by then. Here that number is a live inotify
// descriptor, as a new instance's would be: nothing may be added to it.
func TestStoppedInstanceUntouched(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x_1.1"), []byte("10"), 0o666); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	in := &inotifyInstance{fd: fd, byKey: make(map[dirKey]*sharedWatch), byWD: make(map[int32]*sharedWatch),
		files: make(map[int32]*fileWatch), stopped: true}
	d, err := OSFS().OpenDir(nil, dir, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w := &sharedWatch{in: in, armed: make(map[*armed]struct{})}
	r := &watchRef{w: w, d: d}

	ctx, done := r.armEntries(context.Background(), []string{"x_1.1"})
	if n := inotifyWatches(t, fd); n != 0 {
		t.Errorf("armEntries added %d watches through a stopped instance's descriptor", n)
	}
	if len(in.files) != 0 {
		t.Errorf("armEntries registered %d entry watches in a stopped instance", len(in.files))
	}
	if ctx.Err() != nil {
		t.Error("armEntries woke its waiter at once (it should poll, not spin)")
	}
	done()
	if w.activate(d) {
		t.Error("activate reported a directory watch through a stopped instance")
	}
	if n := inotifyWatches(t, fd); n != 0 {
		t.Errorf("activate added %d watches through a stopped instance's descriptor", n)
	}
}
