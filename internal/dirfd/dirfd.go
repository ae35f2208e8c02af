// Package dirfd hands the module's own packages the descriptor of a
// directory handle of protocol.OSFS on Unix, for the system calls that
// protocol.FS does not offer (linkat, renameat, openat with O_EXCL, flock
// of a file opened in the handle): package fsprobe's informational checks
// act on names in its scratch directory's handle, never on paths.
package dirfd

// Use, set by package protocol on Unix (nil elsewhere), returns the
// descriptor of d, a directory handle of protocol.OSFS, for one call, and
// done, to call once the call is over (the handle's Close leaves the
// descriptor open until then). ok is false when d is not such a handle or is
// closed.
var Use func(d any) (fd int, done func(), ok bool)
