//go:build darwin || dragonfly || freebsd || netbsd || openbsd || windows

package protocol

import (
	"context"
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

	checkWatchWakes(ctx, t, dir, d, w)

	// Close ends the watch's loop (it returns once the loop has ended),
	// and a second Close is a no-op.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
