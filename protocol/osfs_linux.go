//go:build linux

package protocol

import (
	"errors"
	"io/fs"
	"sync"
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
