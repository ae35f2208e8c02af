//go:build unix && !aix

package fsprobe

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/cryolock-go/cryolock/internal/dirfd"
	"github.com/cryolock-go/cryolock/protocol"
)

// xdir is a directory where the informational checks (O_EXCL, link,
// rename, flock) act: a descriptor of its own, so that every check names a
// single component relative to it, follows no symbolic link and never
// blocks on a FIFO, and a directory renamed or replaced under the probe
// redirects nothing.
type xdir struct {
	fd   int
	path string // for messages
}

// openXdir returns an xdir on the directory of the handle d (path is d's
// path, for messages): a duplicate of d's descriptor when d is a handle of
// protocol.OSFS; else (an Options.FS of the caller's) the directory opened
// at path without following a symbolic link in its last component.
func openXdir(d protocol.Dir, path string) (*xdir, error) {
	if dirfd.Use != nil {
		if fd, done, ok := dirfd.Use(d); ok {
			nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
			done()
			if err != nil {
				return nil, &fs.PathError{Op: "dup", Path: path, Err: err}
			}
			return &xdir{fd: nfd, path: path}, nil
		}
	}
	fd, err := retryEINTR(func() (int, error) {
		return unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &xdir{fd: fd, path: path}, nil
}

func (x *xdir) close() { unix.Close(x.fd) }

func (x *xdir) join(name string) string { return x.path + "/" + name }

const newFileFlags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC

// createExcl creates the file name with O_EXCL.
func (x *xdir) createExcl(name string) error {
	fd, err := retryEINTR(func() (int, error) { return unix.Openat(x.fd, name, newFileFlags, 0o666) })
	if err != nil {
		return &fs.PathError{Op: "open", Path: x.join(name), Err: err}
	}
	return unix.Close(fd)
}

// writeNew creates the file name (which must not exist) holding data.
func (x *xdir) writeNew(name string, data []byte) error {
	fd, err := retryEINTR(func() (int, error) { return unix.Openat(x.fd, name, newFileFlags, 0o666) })
	if err != nil {
		return &fs.PathError{Op: "open", Path: x.join(name), Err: err}
	}
	for len(data) > 0 {
		n, err := retryEINTR(func() (int, error) { return unix.Write(fd, data) })
		if err != nil {
			unix.Close(fd)
			return &fs.PathError{Op: "write", Path: x.join(name), Err: err}
		}
		data = data[n:]
	}
	if err := unix.Close(fd); err != nil {
		return &fs.PathError{Op: "close", Path: x.join(name), Err: err}
	}
	return nil
}

// link makes newname a hard link to oldname (not following a symbolic
// link).
func (x *xdir) link(oldname, newname string) error {
	if err := linkat(x, oldname, newname); err != nil {
		return &fs.PathError{Op: "link", Path: x.join(newname), Err: err}
	}
	return nil
}

// rename renames oldname over newname.
func (x *xdir) rename(oldname, newname string) error {
	if err := unix.Renameat(x.fd, oldname, x.fd, newname); err != nil {
		return &fs.PathError{Op: "rename", Path: x.join(newname), Err: err}
	}
	return nil
}

// fileID identifies an entry: device, inode and link count.
type fileID struct{ dev, ino, nlink uint64 }

func (a fileID) same(b fileID) bool { return a.dev == b.dev && a.ino == b.ino }

// lstat describes the entry name without following a symbolic link.
func (x *xdir) lstat(name string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(x.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fileID{}, &fs.PathError{Op: "lstat", Path: x.join(name), Err: err}
	}
	return fileID{uint64(st.Dev), uint64(st.Ino), uint64(st.Nlink)}, nil
}

// maxCheckRead bounds readFile: the checks' files hold a few bytes.
const maxCheckRead = 64

// readFile reads at most maxCheckRead+1 bytes of the regular file name,
// opened without following a symbolic link and without blocking.
func (x *xdir) readFile(name string) ([]byte, error) {
	path := x.join(name)
	fd, err := retryEINTR(func() (int, error) {
		return unix.Openat(x.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if err := fstatRegular(fd, path, false); err != nil {
		return nil, err
	}
	buf := make([]byte, maxCheckRead+1)
	n := 0
	for n < len(buf) {
		m, err := retryEINTR(func() (int, error) { return unix.Read(fd, buf[n:]) })
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	return buf[:n], nil
}

// fstatRegular refuses, with an error naming path and wrapping
// protocol.ErrNotRegular, an open file that is not a regular file or, with
// oneLink, that has another name (a hard link planted at the name, maybe to
// a file outside the directory).
func fstatRegular(fd int, path string, oneLink bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w (%s): refused, maybe planted by another user", protocol.ErrNotRegular, "a "+kindOf(uint32(st.Mode)))}
	}
	if oneLink && st.Nlink > 1 {
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w (a file with %d links: another name for it exists, maybe outside the directory): refused, maybe planted by another user", protocol.ErrNotRegular, st.Nlink)}
	}
	return nil
}

// openFlock opens the regular file name for flock: read-write (an
// exclusive lock emulated by fcntl, as on NFS, needs it), without following
// a symbolic link, without blocking, and refusing anything but a regular
// file with a single name.
func (x *xdir) openFlock(name string) (int, error) {
	path := x.join(name)
	fd, err := retryEINTR(func() (int, error) {
		return unix.Openat(x.fd, name, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK) || errors.Is(err, unix.ENXIO) {
			err = fmt.Errorf("%w (%w): refused, maybe planted by another user", protocol.ErrNotRegular, err)
		}
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if err := fstatRegular(fd, path, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
