//go:build !unix && !windows

package protocol

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// On platforms without the *at system calls (WASI, js, Plan 9) a
// directory handle is its path and the identity it had when opened; every
// primitive builds a path from it. See OSFS for the residual risk.

type pathDir struct {
	path string
	fi   os.FileInfo
}

func (d *pathDir) Path() string              { return d.path }
func (d *pathDir) Close() error              { return nil }
func (d *pathDir) join(name string) string   { return filepath.Join(d.path, name) }
func isENOTDIR(err error) bool               { return errors.Is(err, errNotDir) }
func isELOOP(err error) bool                 { return errors.Is(err, errSymlink) }
func isESTALE(error) bool                    { return false }
func asPath(d Dir) *pathDir                  { return d.(*pathDir) }
func modeType(m fs.FileMode) fs.FileMode     { return m.Type() }
func (osFS) Watch(Dir) (dirWatch, error)     { return nil, nil }
func (osFS) Remove(d Dir, name string) error { return mapErr(os.Remove(asPath(d).join(name))) }

var errNotDir = errors.New("not a directory")

func (osFS) OpenDir(parent Dir, name string, create bool, perm fs.FileMode) (Dir, error) {
	path := filepath.Clean(name)
	if parent != nil {
		path = asPath(parent).join(name)
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := os.MkdirAll(path, perm); err != nil {
			return nil, mapErr(err)
		}
		fi, err = os.Lstat(path)
	}
	switch {
	case err != nil:
		return nil, badDir(path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, badDir(path, errSymlink)
	case !fi.IsDir():
		return nil, badDir(path, errNotDir)
	}
	return &pathDir{path: path, fi: fi}, nil
}

func (osFS) ReadDir(d Dir) ([]DirEntry, error) {
	des, err := os.ReadDir(asPath(d).path)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]DirEntry, len(des))
	for i, e := range des {
		out[i] = DirEntry{Name: e.Name(), Type: e.Type()}
	}
	return out, nil
}

// lstatRegular refuses a name that is not a regular file (checked just
// before the call that follows: a race remains).
func lstatRegular(op, path string) (FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return FileInfo{}, mapErr(err)
	}
	info := FileInfo{Size: fi.Size(), ModTime: fi.ModTime(), Mode: fi.Mode()}
	if !fi.Mode().IsRegular() {
		return info, notRegularErr(op, path, fi.Mode())
	}
	return info, nil
}

func (osFS) ReadFile(d Dir, name string) ([]byte, FileInfo, error) {
	path := asPath(d).join(name)
	if _, err := lstatRegular("read", path); err != nil {
		return nil, FileInfo{}, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, FileInfo{}, mapErr(nofollowErr("open", path, err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, FileInfo{}, mapErr(err)
	}
	fi := FileInfo{Size: st.Size(), ModTime: st.ModTime(), Mode: st.Mode()}
	if !st.Mode().IsRegular() {
		return nil, fi, notRegularErr("read", path, st.Mode())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxRead+1))
	if err != nil {
		return nil, fi, mapErr(err)
	}
	if st, err = f.Stat(); err != nil {
		return nil, fi, mapErr(err)
	}
	return b, FileInfo{Size: st.Size(), ModTime: st.ModTime(), Mode: st.Mode()}, nil
}

func (osFS) WriteFile(d Dir, name string, data []byte, perm fs.FileMode) error {
	path := asPath(d).join(name)
	if _, err := lstatRegular("write", path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|oNoFollow, perm)
	if err != nil {
		return mapErr(nofollowErr("open", path, err))
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	return mapErr(errors.Join(werr, cerr))
}

func (osFS) Stat(d Dir, name string) (FileInfo, error) {
	fi, err := os.Lstat(asPath(d).join(name))
	if err != nil {
		return FileInfo{}, mapErr(err)
	}
	return FileInfo{Size: fi.Size(), ModTime: fi.ModTime(), Mode: fi.Mode()}, nil
}

func (osFS) Chtimes(d Dir, name string, atime, mtime time.Time) error {
	path := asPath(d).join(name)
	fi, err := os.Lstat(path)
	if err != nil {
		return mapErr(err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &fs.PathError{Op: "chtimes", Path: path, Err: errSymlink}
	}
	return mapErr(os.Chtimes(path, atime, mtime))
}

func (osFS) Verify(d Dir) error {
	p := asPath(d)
	fi, err := os.Lstat(p.path)
	if err == nil && os.SameFile(fi, p.fi) {
		return nil
	}
	if err != nil {
		return replaced(p.path, err, false, false)
	}
	return replaced(p.path, nil, fi.Mode()&fs.ModeSymlink != 0, !fi.IsDir())
}
