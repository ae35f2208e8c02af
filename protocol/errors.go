package protocol

import (
	"errors"
	"io/fs"
)

// Error is the error of an operation on a lock directory or one of its
// entries, in the style of [io/fs.PathError]: every error the package returns
// that is about a path is an *Error, and it wraps the cause — one of the
// package's sentinels ([ErrBadPath], [ErrLost], ...), a context's error, or
// the filesystem's error — so callers test with errors.Is and get the
// operation and the path with errors.As. An *Error never wraps another; a
// failure followed by a second one (an acquisition that gave up, then could
// not remove its entry) is an errors.Join of two.
//
// Op is one of "new" (the path or an option was refused), "lock" (the lock
// directory cannot be opened or made, the acquisition gave up with its
// context, or the directory was replaced while waiting), "enter", "stamp",
// "list", "stat", "read", "check" (a foreign entry), "reap", "withdraw" (the
// steps of an acquisition, on the entry they name), "fence", "heartbeat"
// (why a hold was lost; Unlock returns it too), "unlock" and "inspect".
// Package fsprobe uses "probe", "peer" and "cache".
type Error struct {
	Op   string // what was being done
	Path string // the lock directory, or the entry acted on
	Err  error  // why it failed
}

// Error returns "cryolock: <op> <path>: <err>". A filesystem's
// [*io/fs.PathError] for the same path is not made to repeat it: "cryolock:
// enter d.cryolock/x.1: open: permission denied".
func (e *Error) Error() string {
	msg := e.Err.Error()
	if pe, ok := e.Err.(*fs.PathError); ok && pe.Path == e.Path && e.Path != "" {
		msg = pe.Op + ": " + pe.Err.Error()
	}
	if e.Path == "" {
		return "cryolock: " + e.Op + ": " + msg
	}
	return "cryolock: " + e.Op + " " + e.Path + ": " + msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Sentinel errors. Every error the package returns about one of these
// conditions is an [*Error] that wraps the sentinel: test with errors.Is.
// Their own text is short; the [*Error] around them names the operation and
// the path.
var (
	// ErrBadPath: the lock path is unusable (its name does not end in
	// ".cryolock", it contains a NUL byte, it exists and is not a
	// directory, it is a symbolic link, or a directory above it is not a
	// directory).
	ErrBadPath = errors.New("bad lock path")
	// ErrForeign: the lock directory holds an entry the protocol does not
	// understand (a regular file whose name is not "<owner>.<ticket>", a
	// file with an entry's name that is not a regular file, or an entry whose
	// content is not a lease). It is never deleted; a human must look.
	ErrForeign = errors.New("foreign entry")
	// ErrAlreadyHeld: Lock or TryLock was called on a Lock value that holds
	// the lock or is acquiring it.
	ErrAlreadyHeld = errors.New("already held or being acquired by this Lock")
	// ErrNotHeld: Unlock was called on a Lock value that does not hold the
	// lock.
	ErrNotHeld = errors.New("lock not held")
	// ErrLost: the holder's entry was removed by someone else or could
	// not be refreshed in time, so another contender may hold the lock.
	ErrLost = errors.New("lock lost")
	// ErrReleased is the cause of a [Lock.LockContext] context cancelled by
	// Unlock.
	ErrReleased = errors.New("lock released")
	// ErrConfig: an option has an invalid value.
	ErrConfig = errors.New("invalid configuration")
)
