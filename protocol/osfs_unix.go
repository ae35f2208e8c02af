//go:build unix

package protocol

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func isESTALE(err error) bool  { return errors.Is(err, syscall.ESTALE) }
func isELOOP(err error) bool   { return errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) }
func isENOTDIR(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

// fdDir is a directory handle: an O_DIRECTORY|O_NOFOLLOW descriptor and the
// identity (device, inode) of the directory it opened. Close does not close the
// descriptor under a call in flight (a heartbeat's refresh racing a
// release): the last user closes it, so a descriptor number is never reused
// by a call that meant the lock directory.
type fdDir struct {
	path string

	mu       sync.Mutex
	fd       int
	refs     int // calls in flight
	closed   bool
	known    bool   // dev and ino are set (see ident)
	dev, ino uint64 // the descriptor's directory
}

// ident returns the (device, inode) of the directory d opened, from an
// fstat of its descriptor at the first call. A descriptor's inode never
// changes, so this is what an fstat at open would have said; asking late
// keeps the system call off the fast path (a short uncontended hold never
// asks). The fstat runs outside d.mu: on a network filesystem it may wait
// on the server, and Close must not wait with it.
func (d *fdDir) ident() (dev, ino uint64, err error) {
	d.mu.Lock()
	known, dev, ino := d.known, d.dev, d.ino
	d.mu.Unlock()
	if known {
		return dev, ino, nil
	}
	p, fd, err := use(d)
	if err != nil {
		return 0, 0, err
	}
	defer p.done()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, 0, mapErr(&fs.PathError{Op: "fstat", Path: d.path, Err: err})
	}
	d.mu.Lock()
	d.dev, d.ino, d.known = uint64(st.Dev), uint64(st.Ino), true
	d.mu.Unlock()
	return uint64(st.Dev), uint64(st.Ino), nil
}

func (d *fdDir) Path() string { return d.path }

func (d *fdDir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.refs > 0 {
		return nil // the last call in flight closes it
	}
	return d.closeFD()
}

// closeFD closes the descriptor; d.mu is held.
func (d *fdDir) closeFD() error {
	err := unix.Close(d.fd)
	d.fd = -1
	if err != nil {
		return &fs.PathError{Op: "close", Path: d.path, Err: err}
	}
	return nil
}

func (d *fdDir) join(name string) string { return d.path + "/" + name }

// use returns d's handle and its descriptor for one call, or an error
// wrapping fs.ErrClosed; the caller calls d.done after the call.
func use(dir Dir) (*fdDir, int, error) {
	d, ok := dir.(*fdDir)
	if !ok {
		panic("protocol: a Dir of another FS passed to OSFS")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, -1, &fs.PathError{Op: "use", Path: d.path, Err: fs.ErrClosed}
	}
	d.refs++
	return d, d.fd, nil
}

func (d *fdDir) done() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refs--; d.refs == 0 && d.closed {
		d.closeFD()
	}
}

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC

func retry[T any](f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if err != unix.EINTR {
			return v, err
		}
	}
}

func openat(dirfd int, name string, flags int, perm uint32) (int, error) {
	return retry(func() (int, error) { return unix.Openat(dirfd, name, flags, perm) })
}

func (osFS) OpenDir(parent Dir, name string, create bool, perm fs.FileMode) (Dir, error) {
	dirfd, path := unix.AT_FDCWD, ""
	if parent != nil {
		p, fd, err := use(parent)
		if err != nil {
			return nil, err
		}
		defer p.done()
		dirfd, path = fd, p.join(name)
	} else {
		// Open the cleaned path, not name: with a trailing slash ("l/")
		// O_NOFOLLOW does not stop the kernel from following a symbolic
		// link l (TestOpenDirTrailingSlashSymlink).
		path = cleanPath(name)
		name = path
	}
	open := func() (int, error) { return openat(dirfd, name, dirFlags, 0) }
	fd, err := open()
	if err == unix.ENOENT && create {
		if parent == nil {
			err = os.MkdirAll(path, perm)
		} else {
			err = unix.Mkdirat(dirfd, name, uint32(perm.Perm()))
			if err == unix.EEXIST {
				err = nil
			}
		}
		if err != nil {
			return nil, mapErr(&fs.PathError{Op: "mkdir", Path: path, Err: unwrapPath(err)})
		}
		fd, err = open()
	}
	if err == unix.ENOTDIR || isELOOP(err) {
		// Say exactly what is there: O_DIRECTORY|O_NOFOLLOW gives ENOTDIR
		// or ELOOP (EMLINK on FreeBSD) for a symbolic link.
		// A path whose parent is not a directory gives ENOTDIR too.
		var st unix.Stat_t
		switch serr := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); {
		case serr == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK:
			err = errSymlink
		case serr == unix.ENOTDIR:
			err = errParentNotDir
		}
	}
	if err != nil {
		return nil, badDir(path, err)
	}
	return &fdDir{fd: fd, path: path}, nil
}

// cleanPath is filepath.Clean(p), without Clean's byte-by-byte rewrite
// when nothing in p can change: a Lock opens its directory by the path New
// cleaned on every Lock (TestCleanPath compares the two).
func cleanPath(p string) string {
	if p == "" || strings.HasSuffix(p, "/") || strings.HasPrefix(p, "./") ||
		strings.Contains(p, "//") || strings.Contains(p, "/.") {
		return filepath.Clean(p)
	}
	return p
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (osFS) ReadDir(d Dir) ([]DirEntry, error) {
	p, dfd, err := use(d)
	if err != nil {
		return nil, err
	}
	defer p.done()
	fd, err := openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, mapErr(&fs.PathError{Op: "open", Path: p.path, Err: err})
	}
	return readDirFD(fd, p.path)
}

func (osFS) ReadFile(d Dir, name string) ([]byte, FileInfo, error) {
	p, dfd, err := use(d)
	if err != nil {
		return nil, FileInfo{}, err
	}
	defer p.done()
	path := p.join(name)
	fd, err := openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err == unix.ENXIO {
		// A socket (Linux refuses to open one).
		return nil, FileInfo{}, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w (a socket)", ErrNotRegular)}
	}
	if err != nil {
		return nil, FileInfo{}, mapErr(nofollowErr("open", path, err))
	}
	defer unix.Close(fd)
	fi, err := fstatRegular(fd, "read", path)
	if err != nil {
		return nil, fi, err
	}
	buf := make([]byte, min(fi.Size, MaxRead)+1)
	n := 0
	for n < len(buf) {
		m, err := retry(func() (int, error) { return unix.Read(fd, buf[n:]) })
		if err != nil {
			return nil, fi, mapErr(&fs.PathError{Op: "read", Path: path, Err: err})
		}
		if m == 0 {
			break
		}
		n += m
	}
	// Describe the file as of after the read: a size that differs from n
	// tells a write in progress (stale.ParseEntry).
	fi, err = fstatRegular(fd, "read", path)
	if err != nil {
		return nil, fi, err
	}
	return buf[:n], fi, nil
}

// fstatRegular describes an open file and refuses anything but a regular
// file.
func fstatRegular(fd int, op, path string) (FileInfo, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return FileInfo{}, mapErr(&fs.PathError{Op: "fstat", Path: path, Err: err})
	}
	fi := fileInfo(&st)
	if !fi.IsRegular() {
		return fi, notRegularErr(op, path, fi.Mode)
	}
	return fi, nil
}

func fileInfo(st *unix.Stat_t) FileInfo {
	sec, nsec := st.Mtim.Unix()
	return FileInfo{Size: st.Size, ModTime: time.Unix(sec, nsec), Mode: modeType(uint32(st.Mode)) | fs.FileMode(st.Mode&0o777), Links: uint64(st.Nlink)}
}

func (osFS) WriteFile(d Dir, name string, data []byte, perm fs.FileMode) error {
	p, dfd, err := use(d)
	if err != nil {
		return err
	}
	defer p.done()
	path := p.join(name)
	// No O_TRUNC at open: a FIFO or device planted at the name is refused
	// by the fstat below before anything happens to it.
	fd, err := openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, uint32(perm.Perm()))
	switch err {
	case unix.ENXIO:
		// O_WRONLY|O_NONBLOCK on a FIFO (or socket) with no reader.
		return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w (a FIFO or socket)", ErrNotRegular)}
	case unix.EISDIR:
		return notRegularErr("open", path, fs.ModeDir)
	}
	if err != nil {
		return mapErr(nofollowErr("open", path, err))
	}
	var werr error
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		werr = &fs.PathError{Op: "fstat", Path: path, Err: err}
	} else if fi := fileInfo(&st); !fi.IsRegular() {
		werr = notRegularErr("write", path, fi.Mode)
	} else if fi.Links > 1 {
		// Another name for the same file: a hard link planted at the name
		// would have us truncate and write a file we did not create,
		// wherever its other name is (TestWriteFileRefusesHardLink).
		werr = &fs.PathError{Op: "write", Path: path, Err: fmt.Errorf("%w (a file with %d links: another name for it exists, maybe outside the lock directory)", ErrNotRegular, fi.Links)}
	} else if fi.Size > 0 {
		if err := unix.Ftruncate(fd, 0); err != nil {
			werr = &fs.PathError{Op: "truncate", Path: path, Err: err}
		}
	}
	if werr != nil {
		unix.Close(fd)
		return mapErr(werr)
	}
	return writeAll(path, data, func(b []byte) (int, error) {
		return retry(func() (int, error) { return unix.Write(fd, b) })
	}, func() error { return unix.Close(fd) })
}

func (osFS) Stat(d Dir, name string) (FileInfo, error) {
	p, dfd, err := use(d)
	if err != nil {
		return FileInfo{}, err
	}
	defer p.done()
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return FileInfo{}, mapErr(&fs.PathError{Op: "lstat", Path: p.join(name), Err: err})
	}
	return fileInfo(&st), nil
}

func (osFS) Chtimes(d Dir, name string, atime, mtime time.Time) error {
	p, dfd, err := use(d)
	if err != nil {
		return err
	}
	defer p.done()
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return mapErr(&fs.PathError{Op: "chtimes", Path: p.join(name), Err: err})
	}
	return nil
}

func (osFS) Remove(d Dir, name string) error {
	p, dfd, err := use(d)
	if err != nil {
		return err
	}
	defer p.done()
	err = unix.Unlinkat(dfd, name, 0)
	if err == unix.EISDIR || err == unix.EPERM {
		var st unix.Stat_t
		if unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR)
		}
	}
	if err != nil {
		return mapErr(&fs.PathError{Op: "remove", Path: p.join(name), Err: err})
	}
	return nil
}

func (osFS) Verify(d Dir) error {
	p, ok := d.(*fdDir)
	if !ok {
		panic("protocol: a Dir of another FS passed to OSFS")
	}
	dev, ino, err := p.ident()
	if err != nil {
		if errors.Is(err, fs.ErrClosed) {
			return err
		}
		// The handle's own directory is gone (NFS: ESTALE).
		return replaced(p.path, err, false, false)
	}
	var st unix.Stat_t
	err = unix.Lstat(p.path, &st)
	if err == nil && uint64(st.Dev) == dev && uint64(st.Ino) == ino {
		return nil
	}
	return replaced(p.path, err, st.Mode&unix.S_IFMT == unix.S_IFLNK, st.Mode&unix.S_IFMT != unix.S_IFDIR)
}

func modeType(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return 0
}
