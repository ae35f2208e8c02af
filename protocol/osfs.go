package protocol

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// OSFS returns the operating system's filesystem. It follows the rules of
// [FS]: no O_EXCL, link, rename or flock; a symbolic link in the final
// component is never followed (O_NOFOLLOW and AT_SYMLINK_NOFOLLOW where the
// platform has them); NFS's ESTALE reads as fs.ErrNotExist.
func OSFS() FS { return osFS{} }

type osFS struct{}

func (osFS) MkdirAll(path string, perm fs.FileMode) error {
	return mapErr(os.MkdirAll(path, perm))
}

func (osFS) ReadDir(path string) ([]DirEntry, error) {
	return readDir(path)
}

func (osFS) ReadFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, mapErr(nofollowErr(path, err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSpecSize+1))
	return b, mapErr(err)
}

func (osFS) WriteFile(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm)
}

func (osFS) Stat(path string) (FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return FileInfo{}, mapErr(err)
	}
	return FileInfo{Size: fi.Size(), ModTime: fi.ModTime(), Mode: fi.Mode()}, nil
}

func (osFS) Chtimes(path string, atime, mtime time.Time) error {
	return mapErr(chtimesNoFollow(path, atime, mtime))
}

func (osFS) Remove(path string) error { return mapErr(os.Remove(path)) }

// maxSpecSize bounds what ReadFile reads: a spec file holds a few bytes.
const maxSpecSize = 4096

// genericWriteFile is the portable create+write: open with O_CREATE|O_TRUNC
// (never O_EXCL), write, close. A short write or a failed close is an error.
func genericWriteFile(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|oNoFollow, perm)
	if err != nil {
		return mapErr(nofollowErr(path, err))
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	return mapErr(errors.Join(werr, cerr))
}

func genericReadDir(path string) ([]DirEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, mapErr(err)
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]DirEntry, len(des))
	for i, d := range des {
		out[i] = DirEntry{Name: d.Name(), Type: d.Type()}
	}
	return out, nil
}

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
func nofollowErr(path string, err error) error {
	if isELOOP(err) {
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: refusing to follow a symbolic link", errSymlink)}
	}
	return err
}

var errSymlink = errors.New("is a symbolic link")

// lstatThenChtimes is the fallback where the platform cannot set times
// without following a symbolic link: it refuses a symlink seen by Lstat (a
// link planted between the two calls is not caught) and never creates.
func lstatThenChtimes(path string, atime, mtime time.Time) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &fs.PathError{Op: "chtimes", Path: path, Err: errSymlink}
	}
	return os.Chtimes(path, atime, mtime)
}

func isOSFS(f FS) bool {
	_, ok := f.(osFS)
	return ok
}
