package protocol

import (
	"errors"
	"fmt"
	"io/fs"
)

// OSFS returns the operating system's filesystem. It follows the rules of
// [FS]: no O_EXCL, link, rename or flock; NFS's ESTALE reads as
// fs.ErrNotExist.
//
// On Unix systems every primitive is a system call relative to the open
// directory handle (openat, fstatat and utimensat with AT_SYMLINK_NOFOLLOW,
// unlinkat, mkdirat; listings read the handle itself), files are opened with
// O_NOFOLLOW|O_NONBLOCK and checked with fstat to be regular files before
// anything is read or written (a file about to be written must also have no
// other name: a hard link planted at the name is refused), and reads are
// bounded by [MaxRead].
//
// On Windows the directory handle is opened with FILE_FLAG_BACKUP_SEMANTICS
// and FILE_FLAG_OPEN_REPARSE_POINT and refused if it is a reparse point
// (symbolic link, junction, mount point); every entry is opened with
// NtCreateFile relative to it and FILE_OPEN_REPARSE_POINT, checked through
// its handle (GetFileInformationByHandle) to be a regular file before it is
// read or written, stamped through its handle (SetFileTime) and removed
// through its handle (FileDispositionInformationEx with POSIX semantics);
// listings read a new handle to the same directory; any reparse point is
// listed as a symbolic link. Verify compares the volume serial number and
// the 64-bit file index (on ReFS, whose identifiers are 128 bits, two
// directories could in principle share one). Residual risks: where POSIX
// deletion is missing (Windows before 10 1607, FAT, Wine 8, some SMB
// servers) a removed entry stays listed, though no longer openable, until
// every handle to it is closed (a contender reading it at that moment);
// and another program that opens an entry without FILE_SHARE_DELETE (the C
// runtime's open, the Go os package, virus scanners) makes its removal fail
// with a sharing violation while it has it open (Remove tries again for
// about 130 ms).
//
// Elsewhere (WASI, js, Plan 9) the primitives take paths built from the
// directory's path: a lock directory swapped for a symbolic link between two
// calls there can redirect the calls that follow until [FS.Verify] notices
// (at the next heartbeat), and a symbolic link planted as an entry is
// refused by a check made just before the call, not by the call itself.
// WASI has no FIFO file type and no non-blocking open: a FIFO (or socket)
// planted in the lock directory is listed and stat'ed as a regular file, and
// opening it blocks the call, past any context deadline, until a writer
// (reader) comes. Give a WASI program a lock directory that only trusted
// users can write. The same holds of hard links: on WASI a hard link
// planted at a fencing-token file's name is written through (on Unix and
// Windows a file with more than one link is refused).
func OSFS() FS { return osFS{} }

type osFS struct{}

// staleHandle is NFS's ESTALE seen through errors.Is: the entry is gone.
type staleHandle struct{ err error }

func (e staleHandle) Error() string        { return e.err.Error() }
func (e staleHandle) Unwrap() error        { return e.err }
func (e staleHandle) Is(target error) bool { return target == fs.ErrNotExist }

func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if isESTALE(err) {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return &fs.PathError{Op: pe.Op, Path: pe.Path, Err: staleHandle{pe.Err}}
		}
		return staleHandle{err}
	}
	return err
}

// nofollowErr turns the ELOOP that O_NOFOLLOW gives for a symlink into an
// error that says so.
func nofollowErr(op, path string, err error) error {
	if isELOOP(err) {
		return &fs.PathError{Op: op, Path: path, Err: fmt.Errorf("%w: %w: refusing to follow a symbolic link", ErrNotRegular, errSymlink)}
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}

var errSymlink = errors.New("is a symbolic link")

// errParentNotDir is why a path whose parent is not a directory (a regular
// file on the way) cannot be a lock directory.
var errParentNotDir = errors.New("a component of its parent is not a directory")

// badDir is OpenDir's error for a path that is not a directory.
func badDir(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: %w", ErrBadPath, err)}
	case isELOOP(err) || errors.Is(err, errSymlink):
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: a symbolic link; give the real directory", ErrBadPath)}
	case errors.Is(err, errParentNotDir):
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: %w", ErrBadPath, errParentNotDir)}
	case isENOTDIR(err):
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: exists and is not a directory", ErrBadPath)}
	}
	return mapErr(&fs.PathError{Op: "open", Path: path, Err: err})
}

func notRegularErr(op, path string, mode fs.FileMode) error {
	return &fs.PathError{Op: op, Path: path, Err: fmt.Errorf("%w (%v)", ErrNotRegular, mode.Type())}
}

func isOSFS(f FS) bool {
	_, ok := f.(osFS)
	return ok
}

// writeAll writes data through write (one write(2) or WriteFile call) until
// all of it is written, and closes with close; a short write is an error.
func writeAll(path string, data []byte, write func([]byte) (int, error), close func() error) error {
	var werr error
	for len(data) > 0 {
		n, err := write(data)
		if err != nil {
			werr = &fs.PathError{Op: "write", Path: path, Err: err}
			break
		}
		if n == 0 {
			werr = &fs.PathError{Op: "write", Path: path, Err: errors.New("short write")}
			break
		}
		data = data[n:]
	}
	if err := close(); err != nil && werr == nil {
		werr = &fs.PathError{Op: "close", Path: path, Err: err}
	}
	return mapErr(werr)
}

// replaced is Verify's error for a directory handle no longer at path: err
// from looking the path up, or what is there now.
func replaced(path string, err error, symlink, notDir bool) error {
	why := "it is another directory now"
	switch {
	case err != nil:
		why = err.Error()
	case symlink:
		why = "it is a symbolic link now"
	case notDir:
		why = "it is not a directory now"
	}
	return &fs.PathError{Op: "verify", Path: path, Err: fmt.Errorf("%w: %s", ErrReplaced, why)}
}
