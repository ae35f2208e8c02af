package protocol

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
)

// LockAll acquires every lock, all or nothing. It takes them in one global
// order (by lock directory path), so processes that lock overlapping sets
// with LockAll cannot deadlock each other: of two processes, the one that
// holds the lower path first is never waiting for the other's lower path.
// If any acquisition fails (including ctx being done), the locks already
// taken are released and the error is returned.
//
// The order is by absolute path (relative paths are resolved against the
// working directory when the lock was made), so "a.cryolock" and
// "/work/a.cryolock" sort as one; two different paths to the same directory
// through a symbolic link in a parent or two mounts still defeat it, so give
// every process the same spelling. Locking the same directory twice, or a
// nil lock, is an error wrapping [ErrConfig].
func LockAll(ctx context.Context, locks ...*Lock) error {
	for i, l := range locks {
		if l == nil {
			return &Error{Op: "lock", Err: fmt.Errorf("%w: LockAll: lock %d of %d is nil", ErrConfig, i+1, len(locks))}
		}
	}
	s := sorted(locks)
	for i := 1; i < len(s); i++ {
		if s[i].abs == s[i-1].abs {
			return &Error{Op: "lock", Path: s[i].abs, Err: fmt.Errorf("%w: LockAll: given twice (as %s and %s)", ErrConfig, s[i-1].dir, s[i].dir)}
		}
	}
	for i, l := range s {
		if err := l.Lock(ctx); err != nil {
			for j := i - 1; j >= 0; j-- {
				if uerr := s[j].Unlock(); uerr != nil {
					err = errors.Join(err, uerr)
				}
			}
			return err
		}
	}
	return nil
}

// UnlockAll releases every lock (in reverse order) and returns the errors of
// those that failed, joined.
func UnlockAll(locks ...*Lock) error {
	s := sorted(slices.DeleteFunc(slices.Clone(locks), func(l *Lock) bool { return l == nil }))
	var err error
	for i := len(s) - 1; i >= 0; i-- {
		err = errors.Join(err, s[i].Unlock())
	}
	return err
}

func sorted(locks []*Lock) []*Lock {
	s := slices.Clone(locks)
	slices.SortFunc(s, func(a, b *Lock) int { return cmp.Compare(a.abs, b.abs) })
	return s
}
