//go:build unix

package fsprobe

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/cryolock-go/cryolock/protocol"
)

const canCache = true

// readCache reads lockDir/.meta/name without following a symbolic link at
// any of those three components and without blocking: the lock directory
// and .meta are opened O_DIRECTORY|O_NOFOLLOW, the file relative to .meta's
// handle O_NONBLOCK|O_NOFOLLOW, then fstat'ed; only a regular file of at most
// MaxCacheSize bytes is read, and only if this process's effective uid or
// root owns it (errNotOwnCache). A missing component is fs.ErrNotExist.
func readCache(lockDir, name string) ([]byte, error) {
	dfd, err := openDirNoFollow(unix.AT_FDCWD, lockDir, lockDir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	meta := filepath.Join(lockDir, MetaDir)
	mfd, err := openDirNoFollow(dfd, MetaDir, meta)
	if err != nil {
		return nil, err
	}
	defer unix.Close(mfd)
	path := filepath.Join(meta, name)
	fd, err := retryEINTR(func() (int, error) {
		return unix.Openat(mfd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		if what := describeAt(mfd, name); what != "" {
			return nil, foreignErr(path, what)
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, foreignErr(path, "not a regular file ("+kindOf(uint32(st.Mode))+")")
	}
	if euid := os.Geteuid(); int(st.Uid) != euid && st.Uid != 0 {
		// Another user wrote it (or planted it): not this process's
		// cache, whatever it says. Cached probes and replaces it.
		return nil, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: owned by uid %d, not by this process's uid %d or root", errNotOwnCache, st.Uid, euid)}
	}
	if st.Size > MaxCacheSize {
		return nil, foreignErr(path, fmt.Sprintf("%d bytes, more than a report (at most %d)", st.Size, MaxCacheSize))
	}
	const limit = MaxCacheSize + 1
	buf := make([]byte, 0, min(int(st.Size)+512, limit))
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), limit-len(buf)))
		}
		n, err := unix.Read(fd, buf[len(buf):min(cap(buf), limit)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
	return nil, foreignErr(path, fmt.Sprintf("more than %d bytes, more than a report", MaxCacheSize))
}

// writeCache writes data to lockDir/.meta/name: it opens the lock directory
// and .meta (creating .meta if missing) without following links, writes a
// temporary file in .meta relative to that handle (O_EXCL|O_NOFOLLOW),
// syncs it and renames it over name with renameat on the same handle, so
// that no step goes through a path a symbolic link could redirect.
func writeCache(lockDir, name string, data []byte) (err error) {
	dfd, err := openDirNoFollow(unix.AT_FDCWD, lockDir, lockDir)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	meta := filepath.Join(lockDir, MetaDir)
	mfd, err := openDirNoFollow(dfd, MetaDir, meta)
	if errors.Is(err, fs.ErrNotExist) {
		if err := unix.Mkdirat(dfd, MetaDir, 0o777); err != nil && err != unix.EEXIST {
			return &fs.PathError{Op: "mkdir", Path: meta, Err: err}
		}
		mfd, err = openDirNoFollow(dfd, MetaDir, meta)
	}
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	tmp := "." + name + ".tmp" + randHex()
	fd, err := retryEINTR(func() (int, error) {
		return unix.Openat(mfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o666)
	})
	if err != nil {
		return &fs.PathError{Op: "create", Path: filepath.Join(meta, tmp), Err: err}
	}
	defer func() {
		if err != nil {
			unix.Unlinkat(mfd, tmp, 0)
		}
	}()
	werr := writeAll(fd, data)
	if werr == nil {
		werr = unix.Fsync(fd)
	}
	if cerr := unix.Close(fd); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return &fs.PathError{Op: "write", Path: filepath.Join(meta, tmp), Err: werr}
	}
	if err := unix.Renameat(mfd, tmp, mfd, name); err != nil {
		return &fs.PathError{Op: "rename", Path: filepath.Join(meta, name), Err: err}
	}
	_ = unix.Fsync(mfd) // best effort: make the rename durable
	return nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// openDirNoFollow opens name relative to dirfd as a directory without
// following a symbolic link in its last component; path names it in errors.
// A symbolic link or a non-directory there is refused as foreign (the lock
// directory itself: a bad path).
func openDirNoFollow(dirfd int, name, path string) (int, error) {
	fd, err := retryEINTR(func() (int, error) {
		return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err == nil {
		return fd, nil
	}
	if errors.Is(err, unix.ENOENT) {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if what := describeAt(dirfd, name); what != "" && what != "directory" {
		if dirfd == unix.AT_FDCWD {
			return -1, &protocol.Error{Op: "cache", Path: path, Err: fmt.Errorf("%w: %s", protocol.ErrBadPath, what)}
		}
		return -1, foreignErr(path, "not a directory ("+what+")")
	}
	return -1, &fs.PathError{Op: "open", Path: path, Err: err}
}

// describeAt says what name relative to dirfd is, without following a
// link ("" if it cannot be told).
func describeAt(dirfd int, name string) string {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return ""
	}
	return kindOf(uint32(st.Mode))
}

// kindOf names a file type from a stat mode.
func kindOf(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symbolic link"
	case unix.S_IFIFO:
		return "named pipe"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	}
	return fmt.Sprintf("file type %#o", mode&unix.S_IFMT)
}

func retryEINTR(f func() (int, error)) (int, error) {
	for {
		fd, err := f()
		if err != unix.EINTR {
			return fd, err
		}
	}
}
