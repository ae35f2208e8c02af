package protocol

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// watchTempDir opens a fresh temporary directory and watches it with the
// OS filesystem's watch, skipping the test where that filesystem cannot be
// watched; the test's cleanup closes both.
func watchTempDir(t *testing.T) (string, Dir, dirWatch) {
	t.Helper()
	dir := t.TempDir()
	d, w := watchDir(t, dir)
	return dir, d, w
}

// watchDir opens dir and watches it as watchTempDir does.
func watchDir(t *testing.T, dir string) (Dir, dirWatch) {
	t.Helper()
	d, err := OSFS().OpenDir(nil, dir, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	w, err := OSFS().(watcher).Watch(d)
	if err != nil {
		t.Fatal(err)
	}
	if w == nil {
		t.Skip("the temp dir is not on a local filesystem this system can watch")
	}
	t.Cleanup(func() { w.Close() })
	return d, w
}

// checkWatchWakes: the watch w of dir (open as d) wakes an armed waiter at
// once for a stale counter, for an entry created or removed by anyone (the
// os package here, not the handle), and not for a heartbeat (set mtime).
func checkWatchWakes(ctx context.Context, t *testing.T, dir string, d Dir, w dirWatch) {
	t.Helper()
	// A stale counter fires at once.
	c, done := w.Arm(ctx, w.Changes()-1)
	if c.Err() == nil {
		t.Fatal("Arm with an old counter did not fire at once")
	}
	done()

	// A creation and a removal (by the os package, not through the handle)
	// each fire an armed context.
	for _, change := range []func(p string) error{
		func(p string) error { return os.WriteFile(p, nil, 0o666) },
		os.Remove,
	} {
		c, done := w.Arm(ctx, w.Changes())
		if err := change(filepath.Join(dir, "x.1")); err != nil {
			t.Fatal(err)
		}
		<-c.Done()
		if ctx.Err() != nil {
			t.Fatal("no event for a change in the watched directory")
		}
		done()
	}

	// A heartbeat (set mtime) is not a change worth waking for.
	c, done = w.Arm(ctx, w.Changes())
	os.WriteFile(filepath.Join(dir, "y.1"), nil, 0o666)
	<-c.Done() // the creation's event has arrived
	done()
	since := w.Changes()
	now := time.Now()
	if err := OSFS().Chtimes(d, "y.1", now, now); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	c, done = w.Arm(short, since)
	<-c.Done() // only the 100ms timeout may end this
	done()
	if short.Err() == nil {
		t.Fatal("a Chtimes woke the watch")
	}
}
