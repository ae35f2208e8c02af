package stale

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"
	"time"
)

// Clock is the time a [Keeper] needs: a monotonic reading and a sleep that
// ends early when its context is done.
type Clock interface {
	Mono() time.Duration
	Sleep(ctx context.Context, d time.Duration) error
}

// ErrOverdue is returned by [Keeper.Run] when the keeper could not refresh
// the entry within the safe part of the lease (a long pause, or refreshes that
// kept failing): from then on another observer may rightly judge the entry
// stale, so its owner must consider the lock lost.
var ErrOverdue = errors.New("heartbeat overdue")

// ErrUnchanged is the error of a refresh after which the entry's mtime, as
// [Keeper.Stat] reports it, is not later than the last counted one: observers
// may have seen no heartbeat (coarse mtimes, a filesystem that ignores
// set-times), or may see an mtime they saw before (a wall clock stepped back:
// A, B, A), so the refresh does not count. See docs/PROOF.md, Invariant M.
var ErrUnchanged = errors.New("refresh left the mtime unchanged")

// ErrGone is returned by [Keeper.Run] when the entry disappeared: someone
// removed it, so its owner no longer holds anything.
var ErrGone = errors.New("entry gone")

// The keeper's schedule, as fractions of the lease:
//
//	refresh period   uniformly random in [0.4, 0.5] × lease
//	retry after fail lease/16
//	overdue at       0.75 × lease after the start of the last good refresh
//
// Observers judge an entry stale no earlier than one lease after they first
// see its latest mtime (Observed), or one lease after that mtime minus the
// clock skew (WallClock); the quarter lease left between "overdue" and
// "stale" absorbs clock-rate drift, scheduling delay and the time the owner
// needs to act on the news.
const (
	periodMin  = 0.4
	periodSpan = 0.1
	retryDiv   = 16
	overdueNum = 3
	overdueDen = 4
)

// Period returns the refresh period the keeper uses for lease d and jitter u
// in [0,1).
func Period(d time.Duration, u float64) time.Duration {
	return time.Duration(float64(d) * (periodMin + periodSpan*u))
}

// OverdueAfter returns how long after its last good refresh an owner with
// lease d must consider its lock lost.
func OverdueAfter(d time.Duration) time.Duration { return d / overdueDen * overdueNum }

// Keeper refreshes one entry's mtime so that its owner does not look stale.
// Fill the fields, then call Run in its own goroutine.
type Keeper struct {
	// Lease is the owner's lease; a Forever lease needs no refresh and Run
	// just waits for its context.
	Lease Lease
	// Clock supplies time.
	Clock Clock
	// Touch sets the entry's mtime to now. It must fail with an error
	// wrapping fs.ErrNotExist when the entry is gone, and must never create
	// it.
	Touch func() error
	// Stat, if set, returns the entry's mtime as an observer would see
	// it. Then a refresh counts only if it advanced that mtime: the keeper
	// reads it once before its first refresh and after every Touch, and
	// a Touch after which it is not later than the last counted value is
	// a failed refresh (wrapping [ErrUnchanged]), retried like any other.
	// So the counted mtimes of an entry strictly increase and no observer
	// can see one twice. Without Stat every successful Touch counts,
	// which is safe only if every Touch is known to write a new mtime.
	Stat func() (time.Time, error)
	// Jitter returns a uniformly random number in [0,1).
	Jitter func() float64
	// LastOK is the monotonic time at which the last good refresh started;
	// for a new entry, the time just before it was created.
	LastOK time.Duration
	// OnRefresh, if set, is called after each good refresh with its start.
	OnRefresh func(start time.Duration)
	// Go and OnLost, if both set, add a watchdog: before its first refresh
	// Run starts (with Go) a goroutine that calls OnLost with an error
	// wrapping [ErrOverdue] as soon as 0.75 × lease passes without a good
	// refresh, even while a refresh is stuck inside Touch (a hung network
	// filesystem). Run itself cannot notice then: it is waiting for Touch.
	// Holds shorter than one refresh period never start it.
	Go     func(f func())
	OnLost func(err error)

	last atomic.Int64 // LastOK, shared with the watchdog
}

// Run refreshes the entry until ctx is done, then returns nil. It returns an
// error wrapping [ErrGone] if the entry vanished and [ErrOverdue] if a refresh
// could not be made in time; either means the owner lost the lock.
func (k *Keeper) Run(ctx context.Context) error {
	if k.Lease.Forever {
		<-ctx.Done()
		return nil
	}
	d := k.Lease.D
	overdue := OverdueAfter(d)
	next := Period(d, k.Jitter())
	k.last.Store(int64(k.LastOK))
	watching := false
	var lastErr error
	var mtime time.Time // the last counted mtime (with Stat)
	haveMtime := false
	for {
		wait := k.LastOK + next - k.Clock.Mono()
		if err := k.Clock.Sleep(ctx, max(wait, 0)); err != nil || ctx.Err() != nil {
			return nil
		}
		start := k.Clock.Mono()
		if start-k.LastOK >= overdue {
			if lastErr != nil {
				return fmt.Errorf("%w: no good refresh for %v (last error: %v)", ErrOverdue, start-k.LastOK, lastErr)
			}
			return fmt.Errorf("%w: no refresh for %v (lease %v): the process was paused or starved", ErrOverdue, start-k.LastOK, d)
		}
		if !watching && k.Go != nil && k.OnLost != nil {
			watching = true
			k.Go(func() { k.watchdog(ctx, overdue) })
		}
		var err error
		if k.Stat != nil && !haveMtime {
			if mtime, err = k.Stat(); err == nil {
				haveMtime = true
			}
		}
		if err == nil {
			err = k.Touch()
		}
		if err == nil && k.Stat != nil {
			var m time.Time
			if m, err = k.Stat(); err == nil {
				if !m.After(mtime) {
					err = fmt.Errorf("%w (%v after %v)", ErrUnchanged, m, mtime)
				} else {
					mtime = m
				}
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err == nil:
			k.LastOK, lastErr = start, nil
			k.last.Store(int64(start))
			if k.OnRefresh != nil {
				k.OnRefresh(start)
			}
			next = Period(d, k.Jitter())
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w: %w", ErrGone, err)
		default:
			lastErr = err
			// Retry soon, but never later than the overdue point.
			next = min(start-k.LastOK+d/retryDiv, overdue)
		}
	}
}

// watchdog calls OnLost once no good refresh has started for overdue, then
// returns; it also returns when ctx is done.
func (k *Keeper) watchdog(ctx context.Context, overdue time.Duration) {
	for {
		last := time.Duration(k.last.Load())
		wait := last + overdue - k.Clock.Mono()
		if wait <= 0 {
			k.OnLost(fmt.Errorf("%w: no good refresh for %v (a refresh may be stuck in the filesystem)", ErrOverdue, k.Clock.Mono()-last))
			return
		}
		if err := k.Clock.Sleep(ctx, wait); err != nil || ctx.Err() != nil {
			return
		}
	}
}
