package protocol

import "errors"

// Sentinel errors. Every error the package returns that is about one of these
// conditions wraps the sentinel, so callers test with errors.Is; the message
// names the path involved.
var (
	// ErrBadPath: the lock path is unusable (its name does not end in
	// ".cryolock", it is a regular file, or it is a symbolic link).
	ErrBadPath = errors.New("bad lock path")
	// ErrForeign: the lock directory holds an entry the protocol does not
	// understand (a regular file whose name is not "<owner>.<ticket>", a
	// spec-named entry that is not a regular file, or a spec file whose
	// content is not a lease). It is never deleted; a human must look.
	ErrForeign = errors.New("foreign entry in lock directory")
	// ErrAlreadyHeld: Lock or TryLock was called on a Lock value that holds
	// the lock or is acquiring it.
	ErrAlreadyHeld = errors.New("lock already held or being acquired by this Lock value")
	// ErrNotHeld: Unlock was called on a Lock value that does not hold the
	// lock.
	ErrNotHeld = errors.New("lock not held")
	// ErrLost: the holder's spec file was removed by someone else or could
	// not be refreshed in time, so another contender may hold the lock.
	ErrLost = errors.New("lock lost")
	// ErrReleased is the cause of a [Lock.LockContext] context cancelled by
	// Unlock.
	ErrReleased = errors.New("lock released")
	// ErrConfig: an option has an invalid value.
	ErrConfig = errors.New("invalid configuration")
)
