package protocol

import (
	"context"
	"errors"
	"sync"
)

// Do runs fn holding the lock directory path: it acquires the lock (waiting
// as long as ctx allows), calls fn with a context that is cancelled if the
// lock is lost (see [Lock.LockContext]), and releases the lock. It returns
// fn's error, joined with an error wrapping [ErrLost] if the lock was lost
// while fn ran — then fn's work may have overlapped another holder's.
//
// If fn panics (or calls runtime.Goexit), the lock is released first and the
// panic goes on: a recovered panic higher up (net/http recovers handler
// panics) does not leave the lock held for ever.
func Do(ctx context.Context, path string, fn func(ctx context.Context) error, opts ...Option) (err error) {
	l, err := New(path, opts...)
	if err != nil {
		return err
	}
	hctx, err := l.LockContext(ctx)
	if err != nil {
		return err
	}
	returned := false
	defer func() {
		if !returned {
			l.Unlock() // panicking: release, and let the panic go on
		}
	}()
	ferr := fn(hctx)
	returned = true
	return errors.Join(ferr, l.Unlock())
}

// Reentrant is a lock that the call chain holding it may take again, like
// cryolock 1.x's RLock (a reentrant lock, not a reader lock). Go has no
// goroutine identity, so ownership travels in the context: Lock returns a
// context that marks the hold, and a Lock with that context (or one derived
// from it) only counts one level deeper. Every successful Lock must be
// matched by one Unlock; the lock is released when the count returns to zero.
// Other call chains of the same process wait, in the process, for the count
// to reach zero.
//
// Make one with [NewReentrant]: the zero Reentrant's Lock returns an error
// wrapping [ErrConfig], its Unlock one wrapping [ErrNotHeld].
type Reentrant struct {
	l     *Lock
	sem   chan struct{} // in-process ownership
	mu    sync.Mutex
	depth int
	hold  *reentrantHold // the current hold; nil when not held
}

// reentrantHold identifies one hold (from the first Lock to the last
// Unlock); a context carries the hold it was made by.
type reentrantHold struct{ _ byte } // not zero-size: distinct holds get distinct pointers

type reentrantKey struct{ r *Reentrant }

// NewReentrant returns a reentrant lock on the lock directory path.
func NewReentrant(path string, opts ...Option) (*Reentrant, error) {
	l, err := New(path, opts...)
	if err != nil {
		return nil, err
	}
	return &Reentrant{l: l, sem: make(chan struct{}, 1)}, nil
}

// Lock takes the lock, or one more level of it if ctx comes from a Lock of
// this value whose hold is still the current one. The returned context
// carries the hold and is cancelled when the hold is lost or fully released.
// A context from an earlier hold, already released, does not re-enter a
// later hold of another call chain: it waits like any other.
func (r *Reentrant) Lock(ctx context.Context) (context.Context, error) {
	if r.l == nil {
		return nil, errZeroLock("lock", "")
	}
	if h, _ := ctx.Value(reentrantKey{r}).(*reentrantHold); h != nil {
		r.mu.Lock()
		if r.depth > 0 && r.hold == h {
			r.depth++
			r.mu.Unlock()
			return ctx, nil
		}
		r.mu.Unlock()
		// The hold this context came from has been released: take anew.
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, r.l.ctxErr(ctx.Err())
	}
	hctx, err := r.l.LockContext(ctx)
	if err != nil {
		<-r.sem
		return nil, err
	}
	h := new(reentrantHold)
	r.mu.Lock()
	r.depth, r.hold = 1, h
	r.mu.Unlock()
	return context.WithValue(hctx, reentrantKey{r}, h), nil
}

// Unlock undoes one Lock; the last one releases the lock (see
// [Lock.Unlock]).
func (r *Reentrant) Unlock() error {
	r.mu.Lock()
	if r.depth == 0 {
		r.mu.Unlock()
		if r.l == nil { // a zero Reentrant
			return &Error{Op: "unlock", Err: ErrNotHeld}
		}
		// Not r.l.Unlock: a Lock of another call chain may hold r.l
		// already without having counted it yet.
		return &Error{Op: "unlock", Path: r.l.dir, Err: ErrNotHeld}
	}
	r.depth--
	last := r.depth == 0
	if last {
		r.hold = nil
	}
	r.mu.Unlock()
	if !last {
		return nil
	}
	err := r.l.Unlock()
	<-r.sem
	return err
}

// Depth returns how many Locks are outstanding.
func (r *Reentrant) Depth() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.depth
}

// Lost is closed when the hold is lost (see [Lock.Lost]).
func (r *Reentrant) Lost() <-chan struct{} {
	if r.l == nil { // a zero Reentrant
		return nil
	}
	return r.l.Lost()
}
