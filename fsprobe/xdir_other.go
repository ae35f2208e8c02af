//go:build !unix || aix

package fsprobe

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cryolock-go/cryolock/protocol"
)

// xdir is a directory where the informational checks (O_EXCL, link,
// rename, flock) act. Where the *at system calls are missing (Windows,
// WASI, Plan 9, AIX) it is a path, and every check acts on a path under
// it, as before: residual risk, a directory renamed or replaced under the
// probe by another user (a world-writable parent without the sticky bit)
// redirects the checks to that user's directory. The protocol's own
// primitives still act on the scratch directory's handle.
type xdir struct{ path string }

func openXdir(d protocol.Dir, path string) (*xdir, error) { return &xdir{path: path}, nil }

func (x *xdir) close() {}

func (x *xdir) join(name string) string { return filepath.Join(x.path, name) }

func (x *xdir) createExcl(name string) error {
	f, err := os.OpenFile(x.join(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	return f.Close()
}

func (x *xdir) writeNew(name string, data []byte) error {
	f, err := os.OpenFile(x.join(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

func (x *xdir) link(oldname, newname string) error { return os.Link(x.join(oldname), x.join(newname)) }

func (x *xdir) rename(oldname, newname string) error {
	return os.Rename(x.join(oldname), x.join(newname))
}

// fileID identifies an entry (by os.SameFile) with its link count (0:
// unknown on these platforms).
type fileID struct {
	fi    os.FileInfo
	nlink uint64
}

func (a fileID) same(b fileID) bool { return os.SameFile(a.fi, b.fi) }

func (x *xdir) lstat(name string) (fileID, error) {
	fi, err := os.Lstat(x.join(name))
	return fileID{fi: fi}, err
}

// maxCheckRead bounds readFile: the checks' files hold a few bytes.
const maxCheckRead = 64

func (x *xdir) readFile(name string) ([]byte, error) {
	path := x.join(name)
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: protocol.ErrNotRegular}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxCheckRead+1))
}
