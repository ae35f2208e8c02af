//go:build linux

package protocol

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux a listing is raw system calls: openat, getdents64 until it
// returns 0, close — without the runtime poller's fcntl and epoll_ctl calls
// that os.File adds for every open.

var direntBufs = sync.Pool{New: func() any { b := make([]byte, 8192); return &b }}

// readDirFD lists the open directory fd and closes it.
func readDirFD(fd int, path string) ([]DirEntry, error) {
	defer unix.Close(fd)
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	var out []DirEntry
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, mapErr(&fs.PathError{Op: "readdirent", Path: path, Err: err})
		}
		if n <= 0 {
			return out, nil
		}
		for off := 0; off < n; {
			// struct linux_dirent64 { u64 ino; s64 off; u16 reclen; u8 type; char name[]; }
			rec := buf[off:n]
			if len(rec) < 19 {
				return nil, &fs.PathError{Op: "readdirent", Path: path, Err: errors.New("truncated record")}
			}
			ino := *(*uint64)(unsafe.Pointer(&rec[0]))
			reclen := int(*(*uint16)(unsafe.Pointer(&rec[16])))
			if reclen < 19 || reclen > len(rec) {
				return nil, &fs.PathError{Op: "readdirent", Path: path, Err: errors.New("bad record length")}
			}
			typ := rec[18]
			name := rec[19:reclen]
			if i := indexNUL(name); i >= 0 {
				name = name[:i]
			}
			off += reclen
			if ino == 0 || string(name) == "." || string(name) == ".." {
				continue
			}
			d := DirEntry{Name: string(name)}
			switch typ {
			case unix.DT_REG:
			case unix.DT_DIR:
				d.Type = fs.ModeDir
			case unix.DT_LNK:
				d.Type = fs.ModeSymlink
			case unix.DT_FIFO:
				d.Type = fs.ModeNamedPipe
			case unix.DT_SOCK:
				d.Type = fs.ModeSocket
			case unix.DT_CHR:
				d.Type = fs.ModeDevice | fs.ModeCharDevice
			case unix.DT_BLK:
				d.Type = fs.ModeDevice
			default: // DT_UNKNOWN: the filesystem does not say; ask.
				var st unix.Stat_t
				err := unix.Fstatat(fd, d.Name, &st, unix.AT_SYMLINK_NOFOLLOW)
				if err == unix.ENOENT || err == unix.ESTALE {
					continue // removed since it was listed
				}
				if err != nil {
					return nil, mapErr(&fs.PathError{Op: "lstat", Path: path + "/" + d.Name, Err: err})
				}
				d.Type = modeType(st.Mode)
			}
			out = append(out, d)
		}
	}
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// Watch watches the directory d with inotify when it lives on a local
// filesystem, whose inotify events report every change whoever makes it; on
// network and FUSE filesystems (which report only this client's changes) it
// returns nil. The watch is on the handle's own directory (through
// /proc/self/fd), not on whatever its path names now.
func (osFS) Watch(d Dir) (DirWatch, error) {
	p, dfd, err := use(d)
	if err != nil {
		return nil, err
	}
	defer p.done()
	var st unix.Statfs_t
	if err := unix.Fstatfs(dfd, &st); err != nil {
		return nil, &fs.PathError{Op: "fstatfs", Path: p.path, Err: err}
	}
	if !localMagic[int64(st.Type)] {
		return nil, nil
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, &fs.PathError{Op: "inotify_init", Path: p.path, Err: err}
	}
	const mask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR
	if _, err := unix.InotifyAddWatch(fd, "/proc/self/fd/"+strconv.Itoa(dfd), mask); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "inotify_add_watch", Path: p.path, Err: err}
	}
	// The watch's goroutine blocks a thread in poll(2) on the inotify
	// descriptor and an eventfd that Close writes to. (Parking it in the
	// runtime's network poller instead costs no thread, but an idle
	// program's poller is often only looked at by sysmon, every 10 ms: a
	// wake-up took 5-20 ms instead of well under one.)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "eventfd", Path: p.path, Err: err}
	}
	w := &inotifyWatch{fd: fd, efd: efd, armed: make(map[*context.CancelFunc]struct{})}
	w.changes.Store(1)
	go w.loop()
	return w, nil
}

// localMagic are the statfs types of local filesystems, where inotify sees
// every change.
var localMagic = map[int64]bool{
	0xEF53:     true, // ext2/3/4
	0x58465342: true, // xfs
	0x9123683E: true, // btrfs
	0x01021994: true, // tmpfs
	0xF2F52010: true, // f2fs
	0x2FC12FC1: true, // zfs
	0x794c7630: true, // overlayfs
}

type inotifyWatch struct {
	fd, efd int // inotify and the eventfd that ends the loop; the loop closes both
	changes atomic.Uint64
	closed  atomic.Bool
	mu      sync.Mutex
	armed   map[*context.CancelFunc]struct{}
}

func (w *inotifyWatch) loop() {
	defer unix.Close(w.efd)
	defer unix.Close(w.fd)
	buf := make([]byte, 4096)
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}, {Fd: int32(w.efd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		end := err != nil || fds[1].Revents != 0 || fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0
		if !end {
			for { // drain the events: one change or many, look again once
				if n, err := unix.Read(w.fd, buf); n <= 0 || err != nil {
					break
				}
			}
		}
		w.fire() // an event, an overflow or the end: look again
		if end {
			return
		}
	}
}

func (w *inotifyWatch) fire() {
	w.changes.Add(1)
	w.mu.Lock()
	for c := range w.armed {
		(*c)()
		delete(w.armed, c)
	}
	w.mu.Unlock()
}

func (w *inotifyWatch) Changes() uint64 { return w.changes.Load() }

func (w *inotifyWatch) Arm(ctx context.Context, since uint64) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(ctx)
	w.mu.Lock()
	w.armed[&cancel] = struct{}{}
	w.mu.Unlock()
	if w.changes.Load() != since {
		cancel()
	}
	return c, func() {
		w.mu.Lock()
		delete(w.armed, &cancel)
		w.mu.Unlock()
		cancel()
	}
}

func (w *inotifyWatch) Close() error {
	if w.closed.Swap(true) {
		return nil
	}
	one := [8]byte{1}
	_, err := unix.Write(w.efd, one[:])
	return err
}
