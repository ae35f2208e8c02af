package protocol

import (
	"io/fs"
	"time"
)

// FS is the whole of what the protocol asks of a filesystem. Nothing else is
// used on the lock's path: no O_EXCL, no link, no rename, no flock. Every
// method takes a slash-separated path as the lock built it (the lock
// directory joined with an entry name) and must not follow a symbolic link in
// the final component.
//
// Errors should wrap the fs package's sentinels where they apply
// (fs.ErrNotExist for a missing entry, including NFS's ESTALE;
// fs.ErrExist; fs.ErrPermission), because the protocol decides on them.
//
// Atomicity asked of each primitive is stated in docs/PROOF.md; in short, a
// listing must show every entry whose creation completed before the listing
// started and no entry whose removal completed before it started (or, on a
// filesystem with a bounded listing lag, do so after Config.Settle), while
// WriteFile need not be atomic: readers may see the file empty or partly
// written.
type FS interface {
	// MkdirAll creates a directory and any missing parents.
	MkdirAll(path string, perm fs.FileMode) error
	// ReadDir lists a directory, in any order.
	ReadDir(path string) ([]DirEntry, error)
	// ReadFile returns a regular file's content. On filesystems with
	// close-to-open consistency (NFS) opening the file revalidates its
	// attributes, so a Stat right after a ReadFile is fresh.
	ReadFile(path string) ([]byte, error)
	// WriteFile creates the file (or truncates an existing one) and writes
	// data. It must not use O_EXCL semantics and must not follow a symbolic
	// link planted at path.
	WriteFile(path string, data []byte, perm fs.FileMode) error
	// Stat describes an entry without following a symbolic link.
	Stat(path string) (FileInfo, error)
	// Chtimes sets an entry's access and modification times. It must fail
	// with fs.ErrNotExist rather than create a missing entry.
	Chtimes(path string, atime, mtime time.Time) error
	// Remove removes a file or an empty directory.
	Remove(path string) error
}

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
}

// IsRegular reports whether the entry is a regular file.
func (fi FileInfo) IsRegular() bool { return fi.Mode.IsRegular() }
