package protocol

import (
	"context"
	"fmt"
)

// Semaphore admits at most n holders at once among every process that uses
// the same lock directory with the same n. It is the mutex protocol with one
// rule generalised (see docs/PROTOCOL.md): an entry holds when fewer than n
// others are live in a listing made after its creation. All contenders on a
// directory must agree on n.
//
// Entries do not record their kind, so do not mix kinds on one directory:
// a mutex ([New]) on a semaphore's directory holds only when no other entry
// is live, but a semaphore contender that enters after it counts it as one of
// its n holders and may hold beside it. The bound of n holders in all still
// holds; the mutex's exclusion does not (docs/PROTOCOL.md §7).
//
// Like a [Lock], a Semaphore value holds at most one slot; use one value per
// concurrent holder.
type Semaphore struct {
	l *Lock
	n int
}

// NewSemaphore returns a semaphore of n slots on the lock directory path.
func NewSemaphore(path string, n int, opts ...Option) (*Semaphore, error) {
	l, err := newLock(path, exclusive, n, opts)
	if err != nil {
		return nil, err
	}
	return &Semaphore{l: l, n: n}, nil
}

// Slots returns n.
func (s *Semaphore) Slots() int { return s.n }

// Acquire takes a slot, waiting until one is free or ctx is done.
func (s *Semaphore) Acquire(ctx context.Context) error { return s.l.Lock(ctx) }

// AcquireContext takes a slot like Acquire and returns a context that is
// cancelled when the slot is lost or released (see [Lock.LockContext]).
func (s *Semaphore) AcquireContext(ctx context.Context) (context.Context, error) {
	return s.l.LockContext(ctx)
}

// TryAcquire makes one attempt to take a slot without waiting.
func (s *Semaphore) TryAcquire(ctx context.Context) (bool, error) { return s.l.TryLock(ctx) }

// Release gives the slot back (see [Lock.Unlock]).
func (s *Semaphore) Release() error { return s.l.Unlock() }

// Lost is closed when the current slot is lost (see [Lock.Lost]).
func (s *Semaphore) Lost() <-chan struct{} { return s.l.Lost() }

// Lock returns the underlying lock (for its Path, Name, Held and Config).
func (s *Semaphore) Lock() *Lock { return s.l }

// RWLock is a reader–writer lock across processes: many readers or one
// writer. Readers mark their entries as shared (an owner ending in "-r", see
// nonce.SharedOwner); a reader holds when no writer's entry is live, a
// writer when no other entry at all is live. A waiting writer keeps its entry
// in the directory, which keeps new readers out: a stream of readers cannot
// starve writers (writers can delay readers indefinitely, though).
//
// cryolock 1.x contenders and mutexes ([New]) on the same directory see
// readers as ordinary exclusive entries, which is safe.
//
// An RWLock value holds either the read lock or the write lock, never both;
// use one value per concurrent holder.
type RWLock struct {
	r, w *Lock
}

// NewRWLock returns a reader–writer lock on the lock directory path. Fencing
// options apply to the writer side only.
func NewRWLock(path string, opts ...Option) (*RWLock, error) {
	r, err := newLock(path, shared, 1, opts)
	if err != nil {
		return nil, err
	}
	w, err := newLock(path, exclusive, 1, opts)
	if err != nil {
		return nil, err
	}
	return &RWLock{r: r, w: w}, nil
}

func (rw *RWLock) other(l *Lock) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy {
		return fmt.Errorf("cryolock: %s: %w (this RWLock value holds or is acquiring the other side)", l.dir, ErrAlreadyHeld)
	}
	return nil
}

// RLock takes the read lock, waiting until no writer holds or waits.
func (rw *RWLock) RLock(ctx context.Context) error {
	if err := rw.other(rw.w); err != nil {
		return err
	}
	return rw.r.Lock(ctx)
}

// RLockContext is RLock returning a context cancelled when the read hold
// ends (see [Lock.LockContext]).
func (rw *RWLock) RLockContext(ctx context.Context) (context.Context, error) {
	if err := rw.other(rw.w); err != nil {
		return nil, err
	}
	return rw.r.LockContext(ctx)
}

// TryRLock makes one attempt at the read lock without waiting.
func (rw *RWLock) TryRLock(ctx context.Context) (bool, error) {
	if err := rw.other(rw.w); err != nil {
		return false, err
	}
	return rw.r.TryLock(ctx)
}

// RUnlock releases the read lock.
func (rw *RWLock) RUnlock() error { return rw.r.Unlock() }

// Lock takes the write lock, waiting until no reader or writer holds.
func (rw *RWLock) Lock(ctx context.Context) error {
	if err := rw.other(rw.r); err != nil {
		return err
	}
	return rw.w.Lock(ctx)
}

// LockContext is Lock returning a context cancelled when the write hold ends.
func (rw *RWLock) LockContext(ctx context.Context) (context.Context, error) {
	if err := rw.other(rw.r); err != nil {
		return nil, err
	}
	return rw.w.LockContext(ctx)
}

// TryLock makes one attempt at the write lock without waiting.
func (rw *RWLock) TryLock(ctx context.Context) (bool, error) {
	if err := rw.other(rw.r); err != nil {
		return false, err
	}
	return rw.w.TryLock(ctx)
}

// Unlock releases the write lock.
func (rw *RWLock) Unlock() error { return rw.w.Unlock() }

// RLost is closed when the current read hold is lost.
func (rw *RWLock) RLost() <-chan struct{} { return rw.r.Lost() }

// Lost is closed when the current write hold is lost.
func (rw *RWLock) Lost() <-chan struct{} { return rw.w.Lost() }

// Token returns the fencing token of the current write hold (see
// [Lock.Token]).
func (rw *RWLock) Token() uint64 { return rw.w.Token() }

// Reader and Writer return the two sides as plain locks (for Path, Name,
// Held and Config).
func (rw *RWLock) Reader() *Lock { return rw.r }

// Writer returns the write side; see Reader.
func (rw *RWLock) Writer() *Lock { return rw.w }
