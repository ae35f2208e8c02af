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
// anything is read or written, and reads are bounded by [MaxRead]. Elsewhere
// (Windows, WASI, js, Plan 9) the primitives take paths built from the
// directory's path: a lock directory swapped for a symbolic link between two
// calls there can redirect the calls that follow until [FS.Verify] notices
// (at the next heartbeat), and a symbolic link planted as an entry is
// refused by a check made just before the call, not by the call itself.
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

// badDir is OpenDir's error for a path that is not a directory.
func badDir(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s: %w", ErrBadPath, path, err)
	case isELOOP(err) || errors.Is(err, errSymlink):
		return fmt.Errorf("%w: %s is a symbolic link; give the real directory", ErrBadPath, path)
	case isENOTDIR(err):
		return fmt.Errorf("%w: %s exists and is not a directory", ErrBadPath, path)
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
