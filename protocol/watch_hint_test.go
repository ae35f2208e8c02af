//go:build darwin || dragonfly || freebsd || netbsd || openbsd || windows

package protocol

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHintWatch: the kqueue (BSD, macOS) and ReadDirectoryChangesW
// (Windows) watches wake an armed waiter for an entry created or removed
// by anyone, not for a heartbeat, and end on Close.
func TestHintWatch(t *testing.T) {
	dir, d, w := watchTempDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

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

	// Close ends the watch's loop (it returns once the loop has ended),
	// and a second Close is a no-op.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
