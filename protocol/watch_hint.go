//go:build darwin || dragonfly || freebsd || netbsd || openbsd || windows

package protocol

import (
	"context"
	"sync"
	"sync/atomic"
)

// hintWatch is the dirWatch of the kqueue and ReadDirectoryChangesW
// watches: a loop, in a goroutine of its own, calls fire for each batch of
// changes (and once more when it ends); Close asks the loop to end and
// waits until it has.
type hintWatch struct {
	changes atomic.Uint64
	closed  atomic.Bool
	mu      sync.Mutex
	armed   map[*context.CancelFunc]struct{}
	stop    func() error  // wakes the loop so that it ends
	done    chan struct{} // closed by the loop when it has ended
	after   func()        // releases what the loop used, after it ended
}

func newHintWatch() *hintWatch {
	w := &hintWatch{armed: make(map[*context.CancelFunc]struct{}), done: make(chan struct{})}
	w.changes.Store(1)
	return w
}

func (w *hintWatch) fire() {
	w.changes.Add(1)
	w.mu.Lock()
	for c := range w.armed {
		(*c)()
		delete(w.armed, c)
	}
	w.mu.Unlock()
}

func (w *hintWatch) Changes() uint64 { return w.changes.Load() }

func (w *hintWatch) Arm(ctx context.Context, since uint64) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(ctx)
	w.mu.Lock()
	w.armed[&cancel] = struct{}{}
	w.mu.Unlock()
	if w.changes.Load() != since {
		cancel()
	}
	return c, func() {
		w.mu.Lock()
		delete(w.armed, &cancel)
		w.mu.Unlock()
		cancel()
	}
}

func (w *hintWatch) Close() error {
	if w.closed.Swap(true) {
		return nil
	}
	err := w.stop()
	<-w.done
	if w.after != nil {
		w.after()
	}
	return err
}
