package protocol

import (
	"errors"

	"io/fs"
	"time"

	"github.com/cryolock-go/cryolock/stale"
)

// FS is the whole of what the protocol asks of a filesystem. Nothing else is
// used on the lock's path: no O_EXCL, no link, no rename, no flock. (The OS
// filesystem's optional hints — a directory watch, and on Linux a flock of
// a local lock directory that queues the host's waiters — only decide when
// a waiter looks again, never what it decides.)
//
// Every primitive acts on a name inside a directory handle ([Dir]) that
// OpenDir opened once without following a symbolic link, so that a lock
// directory swapped for a symbolic link (or for another directory) while a
// contender waits or holds cannot redirect a single call: names are single
// path components, never paths, and no primitive follows a symbolic link in
// them. The protocol opens the lock directory once per acquisition and keeps
// the handle for the whole hold; [FS.Verify] tells whether the handle is
// still the directory at its path.
//
// Errors should wrap the fs package's sentinels where they apply
// (fs.ErrNotExist for a missing entry, including NFS's ESTALE;
// fs.ErrExist; fs.ErrPermission), and [ErrNotRegular] for a name that is
// not a regular file where one is needed, because the protocol decides on
// them.
//
// Atomicity asked of each primitive is stated in docs/PROOF.md; in short, a
// listing must show every entry whose creation completed before the listing
// started and no entry whose removal completed before it started (or, on a
// filesystem with a bounded listing lag, do so after the settle delay of WithSettle), while
// WriteFile need not be atomic: readers may see the file empty or partly
// written.
type FS interface {
	// OpenDir opens the directory name inside parent or, when parent is
	// nil, the directory at the path name (whose earlier components may be
	// symbolic links: they are the caller's choice). It never follows a
	// symbolic link in the final component: such a link, or anything
	// else that is not a directory, is an error wrapping [ErrBadPath]
	// (wrapping fs.ErrNotExist if missing). With create it first creates
	// the directory if missing (with perm, before the umask; with a nil
	// parent, missing parents too).
	OpenDir(parent Dir, name string, create bool, perm fs.FileMode) (Dir, error)
	// ReadDir lists d, in any order, without "." and "..".
	ReadDir(d Dir) ([]DirEntry, error)
	// ReadFile opens the regular file name in d without blocking (a FIFO
	// or device planted there must not hang the caller) and without
	// following a symbolic link, and returns at most MaxRead+1 bytes of it
	// with its FileInfo from the opened handle, taken after the read (so
	// that a size that differs from what was read shows a write in
	// progress). Anything but a regular
	// file is an error wrapping [ErrNotRegular]. On filesystems with
	// close-to-open consistency (NFS) opening the file revalidates its
	// attributes, so the FileInfo is fresh.
	ReadFile(d Dir, name string) ([]byte, FileInfo, error)
	// WriteFile creates the file name in d (or truncates an existing
	// regular file) and writes data. It must not use O_EXCL semantics, must
	// not follow a symbolic link, must not block, and must not truncate or
	// write anything but a regular file ([ErrNotRegular]).
	WriteFile(d Dir, name string, data []byte, perm fs.FileMode) error
	// Stat describes the entry name in d without following a symbolic link.
	Stat(d Dir, name string) (FileInfo, error)
	// Chtimes sets the access and modification times of the entry name in
	// d, without following a symbolic link. It must fail with
	// fs.ErrNotExist rather than create a missing entry.
	Chtimes(d Dir, name string, atime, mtime time.Time) error
	// Remove removes the file (or empty directory) name in d.
	Remove(d Dir, name string) error
	// Verify reports an error wrapping [ErrReplaced] if d is no longer the
	// directory at the path it was opened at (renamed, removed, or
	// replaced by another directory or a symbolic link).
	Verify(d Dir) error
}

// Dir is a directory handle opened by an [FS].
type Dir interface {
	// Path is the directory's path when it was opened (for messages).
	Path() string
	// Close releases the handle.
	Close() error
}

// MaxRead bounds what [FS.ReadFile] returns: MaxRead+1 bytes at most, so
// that a caller can tell a longer file. Entries and fencing-token files are
// a few bytes long.
const MaxRead = stale.MaxContentSize

// ErrNotRegular is wrapped by an [FS]'s error for a name that is not a
// regular file (a symbolic link, FIFO, device, socket or directory) where
// the protocol reads or writes one. The protocol treats such an entry as
// foreign: reported, never touched.
var ErrNotRegular = errors.New("not a regular file")

// ErrReplaced is wrapped by [FS.Verify]'s error when a directory handle no
// longer names the directory at its path. A holder whose lock directory was
// replaced is told it lost the lock.
var ErrReplaced = errors.New("directory replaced")

// DirEntry is one entry of a directory listing.
type DirEntry struct {
	Name string
	// Type holds the type bits of the entry's mode (fs.ModeDir,
	// fs.ModeSymlink, ...; zero for a regular file).
	Type fs.FileMode
}

// FileInfo is what Stat reports of an entry.
type FileInfo struct {
	Size    int64
	ModTime time.Time
	// Mode holds the entry's type and permission bits.
	Mode fs.FileMode
	// Links is the file's number of names (hard links); 0 where the FS
	// does not say. A file with more than one may have a name outside the
	// lock directory: the protocol never quotes its content in a message.
	Links uint64
}

// IsRegular reports whether the entry is a regular file.
func (fi FileInfo) IsRegular() bool { return fi.Mode.IsRegular() }
