//go:build windows

package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows a directory handle is a handle opened with
// FILE_FLAG_BACKUP_SEMANTICS|FILE_FLAG_OPEN_REPARSE_POINT (or, inside a
// parent, NtCreateFile with FILE_OPEN_REPARSE_POINT relative to the
// parent's handle) that is refused if it is a reparse point (a symbolic
// link, junction or mount point); every entry is opened with NtCreateFile
// relative to that handle, without following a reparse point, and then
// read, described, stamped or removed through its own handle. See OSFS.

func isENOTDIR(err error) bool {
	return errors.Is(err, errNotDir) || errors.Is(err, windows.ERROR_DIRECTORY)
}
func isELOOP(err error) bool { return errors.Is(err, errSymlink) }
func isESTALE(error) bool    { return false }

var errNotDir = errors.New("not a directory")

// winDir is a directory handle and the identity (volume serial number,
// file index) it had when opened. As on Unix (fdDir), Close does not close
// the handle under a call in flight (a heartbeat's refresh racing a
// release): the last user closes it, so a handle value is never reused by
// a call that meant the lock directory.
type winDir struct {
	path string
	vol  uint32
	idx  uint64

	mu     sync.Mutex
	h      windows.Handle
	refs   int // calls in flight
	closed bool
}

func (d *winDir) Path() string { return d.path }

func (d *winDir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.refs > 0 {
		return nil // the last call in flight closes it
	}
	return d.closeHandle()
}

// closeHandle closes the handle (with d.mu held).
func (d *winDir) closeHandle() error {
	err := windows.CloseHandle(d.h)
	d.h = windows.InvalidHandle
	if err != nil {
		return &fs.PathError{Op: "close", Path: d.path, Err: err}
	}
	return nil
}

// use returns the handle for a call, which must call done after it.
func (d *winDir) use() (windows.Handle, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return windows.InvalidHandle, &fs.PathError{Op: "use", Path: d.path, Err: fs.ErrClosed}
	}
	d.refs++
	return d.h, nil
}

func (d *winDir) done() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refs--; d.refs == 0 && d.closed {
		d.closeHandle()
	}
}

func (d *winDir) join(name string) string { return d.path + `\` + name }

func asWin(d Dir) *winDir {
	w, ok := d.(*winDir)
	if !ok {
		panic("protocol: a Dir of another FS passed to OSFS")
	}
	return w
}

const shareAll = windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE

// errBadName is the error for a name that is not one path component (or
// that names an alternate data stream, a device or a parent).
var errBadName = errors.New("not a single file name")

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `\/:`) {
		return errBadName
	}
	return nil
}

// ntStatus is the NTSTATUS an NtCreateFile or NtSetInformationFile call
// failed with, if it is one.
func ntStatus(err error) (windows.NTStatus, bool) {
	var st windows.NTStatus
	ok := errors.As(err, &st)
	return st, ok
}

// ntErr turns an NTSTATUS into the Win32 error the os package's callers
// know (which errors.Is matches against fs.ErrNotExist, fs.ErrExist,
// fs.ErrPermission); a file being deleted is gone.
func ntErr(err error) error {
	st, ok := ntStatus(err)
	if !ok {
		return err
	}
	if st == windows.STATUS_DELETE_PENDING {
		return fmt.Errorf("%w (delete pending)", windows.ERROR_FILE_NOT_FOUND)
	}
	return st.Errno()
}

// openAt opens name inside d without following a reparse point in it.
func (d *winDir) openAt(name string, access, disposition, options, attrs uint32) (windows.Handle, error) {
	if err := checkName(name); err != nil {
		return windows.InvalidHandle, err
	}
	u, err := windows.NewNTUnicodeString(name)
	if err != nil {
		return windows.InvalidHandle, err
	}
	root, err := d.use()
	if err != nil {
		return windows.InvalidHandle, err
	}
	defer d.done()
	oa := windows.OBJECT_ATTRIBUTES{RootDirectory: root, ObjectName: u, Attributes: windows.OBJ_CASE_INSENSITIVE}
	oa.Length = uint32(unsafe.Sizeof(oa))
	var h windows.Handle
	var iosb windows.IO_STATUS_BLOCK
	err = windows.NtCreateFile(&h, access|windows.SYNCHRONIZE, &oa, &iosb, nil, attrs, shareAll, disposition,
		options|windows.FILE_OPEN_REPARSE_POINT|windows.FILE_SYNCHRONOUS_IO_NONALERT, 0, 0)
	if err != nil {
		return windows.InvalidHandle, err
	}
	return h, nil
}

func isSharingViolation(err error) bool {
	st, ok := ntStatus(err)
	return ok && st == windows.STATUS_SHARING_VIOLATION
}

// openErr describes a failed openAt of path.
func openErr(op, path string, err error) error {
	if st, ok := ntStatus(err); ok && st == windows.STATUS_FILE_IS_A_DIRECTORY {
		return notRegularErr(op, path, fs.ModeDir)
	}
	return mapErr(&fs.PathError{Op: op, Path: path, Err: ntErr(err)})
}

func handleInfo(h windows.Handle, op, path string) (windows.ByHandleFileInformation, error) {
	var bi windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &bi); err != nil {
		return bi, &fs.PathError{Op: op, Path: path, Err: err}
	}
	return bi, nil
}

// modeOf maps file attributes to a mode: any reparse point is reported as
// a symbolic link (the protocol never follows one nor treats it as a
// regular file).
func modeOf(attrs uint32) fs.FileMode {
	m := fs.FileMode(0o666)
	if attrs&windows.FILE_ATTRIBUTE_READONLY != 0 {
		m = 0o444
	}
	switch {
	case attrs&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0:
		m |= fs.ModeSymlink
	case attrs&windows.FILE_ATTRIBUTE_DIRECTORY != 0:
		m |= fs.ModeDir | 0o111
	}
	return m
}

func infoOf(bi *windows.ByHandleFileInformation) FileInfo {
	return FileInfo{
		Size:    int64(bi.FileSizeHigh)<<32 | int64(bi.FileSizeLow),
		ModTime: time.Unix(0, bi.LastWriteTime.Nanoseconds()),
		Mode:    modeOf(bi.FileAttributes),
		Links:   uint64(bi.NumberOfLinks),
	}
}

// regularByHandle describes an open file and refuses anything but a
// regular file (a reparse point, a directory).
func regularByHandle(h windows.Handle, op, path string) (FileInfo, error) {
	bi, err := handleInfo(h, op, path)
	if err != nil {
		return FileInfo{}, err
	}
	fi := infoOf(&bi)
	switch {
	case fi.Mode&fs.ModeSymlink != 0:
		return fi, nofollowErr(op, path, errSymlink)
	case !fi.IsRegular():
		return fi, notRegularErr(op, path, fi.Mode)
	}
	if t, err := windows.GetFileType(h); err == nil && t != windows.FILE_TYPE_DISK {
		return fi, notRegularErr(op, path, fs.ModeDevice)
	}
	if op == "write" && fi.Links > 1 {
		// Another name for the same file: a hard link planted at the name
		// would have us truncate and write a file we did not create.
		return fi, &fs.PathError{Op: op, Path: path, Err: fmt.Errorf("%w (a file with %d links: another name for it exists, maybe outside the lock directory)", ErrNotRegular, fi.Links)}
	}
	return fi, nil
}

// newDir checks that h is a directory and not a reparse point, and wraps
// it; it closes h on error.
func newDir(h windows.Handle, path string) (Dir, error) {
	bi, err := handleInfo(h, "stat", path)
	switch {
	case err != nil:
		windows.CloseHandle(h)
		return nil, mapErr(err)
	case bi.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0:
		windows.CloseHandle(h)
		return nil, badDir(path, errSymlink)
	case bi.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY == 0:
		windows.CloseHandle(h)
		return nil, badDir(path, errNotDir)
	}
	return &winDir{h: h, path: path, vol: bi.VolumeSerialNumber, idx: uint64(bi.FileIndexHigh)<<32 | uint64(bi.FileIndexLow)}, nil
}

// openPath opens the file or directory at path without following a
// reparse point in its final component.
func openPath(path string, access uint32) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return windows.InvalidHandle, err
	}
	return windows.CreateFile(p, access, shareAll, nil, windows.OPEN_EXISTING,
		windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
}

const dirAccess = windows.FILE_LIST_DIRECTORY | windows.FILE_READ_ATTRIBUTES | windows.SYNCHRONIZE

func (osFS) OpenDir(parent Dir, name string, create bool, perm fs.FileMode) (Dir, error) {
	if parent != nil {
		p := asWin(parent)
		path := p.join(name)
		disp := uint32(windows.FILE_OPEN)
		if create {
			disp = windows.FILE_OPEN_IF
		}
		h, err := p.openAt(name, dirAccess, disp, windows.FILE_DIRECTORY_FILE, windows.FILE_ATTRIBUTE_NORMAL)
		if err != nil {
			if st, ok := ntStatus(err); ok && st == windows.STATUS_NOT_A_DIRECTORY {
				// A regular file, or a symbolic link to one: say which.
				if fi, serr := (osFS{}).Stat(parent, name); serr == nil && fi.Mode&fs.ModeSymlink != 0 {
					return nil, badDir(path, errSymlink)
				}
				return nil, badDir(path, errNotDir)
			}
			return nil, badDir(path, ntErr(err))
		}
		return newDir(h, path)
	}
	path := filepath.Clean(name)
	h, err := openPath(path, dirAccess)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := os.MkdirAll(path, perm); err != nil {
			return nil, mapErr(err)
		}
		h, err = openPath(path, dirAccess)
	}
	if err != nil {
		return nil, badDir(path, err)
	}
	return newDir(h, path)
}

// The layout of FILE_ID_BOTH_DIR_INFO (one entry of a listing by handle).
const (
	dirInfoNext     = 0
	dirInfoAttrs    = 56
	dirInfoNameLen  = 60
	dirInfoName     = 104
	dirInfoMinEntry = dirInfoName
)

// reopen opens the directory of d itself again (NtCreateFile relative to
// its handle with an empty name: the same directory, whatever its path
// names now).
func (d *winDir) reopen(access, options uint32) (windows.Handle, error) {
	u, err := windows.NewNTUnicodeString("")
	if err != nil {
		return windows.InvalidHandle, err
	}
	root, err := d.use()
	if err != nil {
		return windows.InvalidHandle, err
	}
	defer d.done()
	oa := windows.OBJECT_ATTRIBUTES{RootDirectory: root, ObjectName: u}
	oa.Length = uint32(unsafe.Sizeof(oa))
	var h windows.Handle
	var iosb windows.IO_STATUS_BLOCK
	err = windows.NtCreateFile(&h, access, &oa, &iosb, nil, 0, shareAll, windows.FILE_OPEN,
		options|windows.FILE_DIRECTORY_FILE|windows.FILE_OPEN_REPARSE_POINT, 0, 0)
	if err != nil {
		return windows.InvalidHandle, &fs.PathError{Op: "open", Path: d.path, Err: ntErr(err)}
	}
	return h, nil
}

// ReadDir lists the directory of the handle, not whatever its path names
// now: through a new handle to it (an enumeration on a handle may be
// served from what that handle read before: Wine's is), with
// GetFileInformationByHandleEx(FileIdBothDirectoryInfo) until
// ERROR_NO_MORE_FILES.
func (osFS) ReadDir(d Dir) ([]DirEntry, error) {
	p := asWin(d)
	h, err := p.reopen(dirAccess, windows.FILE_SYNCHRONOUS_IO_NONALERT)
	if err != nil {
		return nil, mapErr(err)
	}
	defer windows.CloseHandle(h)
	buf := make([]byte, 64*1024)
	class := uint32(windows.FileIdBothDirectoryInfo)
	var out []DirEntry
	for {
		err := windows.GetFileInformationByHandleEx(h, class, &buf[0], uint32(len(buf)))
		if err == windows.ERROR_NO_MORE_FILES {
			return out, nil
		}
		if err != nil {
			return nil, mapErr(&fs.PathError{Op: "readdir", Path: p.path, Err: err})
		}
		for off := 0; ; {
			rec := buf[off:]
			if len(rec) < dirInfoMinEntry {
				return nil, &fs.PathError{Op: "readdir", Path: p.path, Err: errors.New("truncated record")}
			}
			next := int(binary.LittleEndian.Uint32(rec[dirInfoNext:]))
			attrs := binary.LittleEndian.Uint32(rec[dirInfoAttrs:])
			n := int(binary.LittleEndian.Uint32(rec[dirInfoNameLen:]))
			if dirInfoName+n > len(rec) || n%2 != 0 {
				return nil, &fs.PathError{Op: "readdir", Path: p.path, Err: errors.New("bad record length")}
			}
			u := make([]uint16, n/2)
			for i := range u {
				u[i] = binary.LittleEndian.Uint16(rec[dirInfoName+2*i:])
			}
			if name := string(utf16.Decode(u)); name != "." && name != ".." {
				out = append(out, DirEntry{Name: name, Type: modeOf(attrs).Type()})
			}
			if next == 0 {
				break
			}
			if next < dirInfoMinEntry || next > len(rec) {
				return nil, &fs.PathError{Op: "readdir", Path: p.path, Err: errors.New("bad record offset")}
			}
			off += next
		}
	}
}

func (osFS) ReadFile(d Dir, name string) ([]byte, FileInfo, error) {
	p := asWin(d)
	path := p.join(name)
	h, err := p.openAt(name, windows.GENERIC_READ, windows.FILE_OPEN, windows.FILE_NON_DIRECTORY_FILE, 0)
	if err != nil {
		return nil, FileInfo{}, openErr("open", path, err)
	}
	defer windows.CloseHandle(h)
	fi, err := regularByHandle(h, "read", path)
	if err != nil {
		return nil, fi, err
	}
	buf := make([]byte, min(fi.Size, MaxRead)+1)
	n := 0
	for n < len(buf) {
		var m uint32
		err := windows.ReadFile(h, buf[n:], &m, nil)
		if err == windows.ERROR_HANDLE_EOF {
			break
		}
		if err != nil {
			return nil, fi, mapErr(&fs.PathError{Op: "read", Path: path, Err: err})
		}
		if m == 0 {
			break
		}
		n += int(m)
	}
	// Describe the file as of after the read: a size that differs from n
	// tells a write in progress (stale.ParseEntry).
	fi, err = regularByHandle(h, "read", path)
	if err != nil {
		return nil, fi, err
	}
	return buf[:n], fi, nil
}

func (osFS) WriteFile(d Dir, name string, data []byte, perm fs.FileMode) error {
	p := asWin(d)
	path := p.join(name)
	attrs := uint32(windows.FILE_ATTRIBUTE_NORMAL)
	if perm&0o200 == 0 {
		attrs = windows.FILE_ATTRIBUTE_READONLY
	}
	// FILE_OPEN_IF, not FILE_OVERWRITE_IF: a reparse point or anything
	// else planted at the name is refused below before it is truncated.
	h, err := p.openAt(name, windows.GENERIC_WRITE|windows.FILE_READ_ATTRIBUTES, windows.FILE_OPEN_IF, windows.FILE_NON_DIRECTORY_FILE, attrs)
	if err != nil {
		return openErr("open", path, err)
	}
	var werr error
	if fi, err := regularByHandle(h, "write", path); err != nil {
		werr = err
	} else if fi.Size > 0 {
		if err := windows.SetEndOfFile(h); err != nil { // the position is 0
			werr = &fs.PathError{Op: "truncate", Path: path, Err: err}
		}
	}
	if werr != nil {
		windows.CloseHandle(h)
		return mapErr(werr)
	}
	return writeAll(path, data, func(b []byte) (int, error) {
		var n uint32
		err := windows.WriteFile(h, b, &n, nil)
		return int(n), err
	}, func() error { return windows.CloseHandle(h) })
}

func (osFS) Stat(d Dir, name string) (FileInfo, error) {
	p := asWin(d)
	path := p.join(name)
	h, err := p.openAt(name, windows.FILE_READ_ATTRIBUTES, windows.FILE_OPEN, 0, 0)
	if err != nil {
		return FileInfo{}, mapErr(&fs.PathError{Op: "lstat", Path: path, Err: ntErr(err)})
	}
	defer windows.CloseHandle(h)
	bi, err := handleInfo(h, "lstat", path)
	if err != nil {
		return FileInfo{}, mapErr(err)
	}
	return infoOf(&bi), nil
}

// Chtimes sets the times through a handle to the entry itself (a reparse
// point's own times, never its target's), opened without creating it.
func (osFS) Chtimes(d Dir, name string, atime, mtime time.Time) error {
	p := asWin(d)
	path := p.join(name)
	h, err := p.openAt(name, windows.FILE_WRITE_ATTRIBUTES, windows.FILE_OPEN, 0, 0)
	if err != nil {
		return mapErr(&fs.PathError{Op: "chtimes", Path: path, Err: ntErr(err)})
	}
	defer windows.CloseHandle(h)
	a, m := windows.NsecToFiletime(atime.UnixNano()), windows.NsecToFiletime(mtime.UnixNano())
	if err := windows.SetFileTime(h, nil, &a, &m); err != nil {
		return mapErr(&fs.PathError{Op: "chtimes", Path: path, Err: err})
	}
	return nil
}

// Remove removes the entry through a handle to it (a reparse point
// itself, never its target): with POSIX semantics where the system and
// the filesystem have them (the name goes at once, even while another
// process has the file open), else as DeleteFile does (the name goes when
// the last handle to the file is closed).
func (osFS) Remove(d Dir, name string) error {
	p := asWin(d)
	path := p.join(name)
	h, err := p.openAt(name, windows.DELETE, windows.FILE_OPEN, 0, 0)
	// Another process that has the file open without FILE_SHARE_DELETE
	// (a contender reading it with the C runtime's open, as Python does;
	// a virus scanner) refuses the removal while it reads: try again a
	// few times, for up to about 130 ms in all.
	for wait := time.Millisecond; isSharingViolation(err) && wait <= 64*time.Millisecond; wait *= 2 {
		time.Sleep(wait)
		h, err = p.openAt(name, windows.DELETE, windows.FILE_OPEN, 0, 0)
	}
	if err != nil {
		return mapErr(&fs.PathError{Op: "remove", Path: path, Err: ntErr(err)})
	}
	defer windows.CloseHandle(h)
	var iosb windows.IO_STATUS_BLOCK
	flags := uint32(windows.FILE_DISPOSITION_DELETE | windows.FILE_DISPOSITION_POSIX_SEMANTICS | windows.FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE)
	err = windows.NtSetInformationFile(h, &iosb, (*byte)(unsafe.Pointer(&flags)), uint32(unsafe.Sizeof(flags)), windows.FileDispositionInformationEx)
	if st, ok := ntStatus(err); ok && (st == windows.STATUS_INVALID_INFO_CLASS || st == windows.STATUS_INVALID_PARAMETER ||
		st == windows.STATUS_NOT_SUPPORTED || st == windows.STATUS_NOT_IMPLEMENTED) {
		// Windows before 10 1607, filesystems without POSIX semantics
		// (FAT), Wine 8.
		del := uint32(1) // FILE_DISPOSITION_INFORMATION{DeleteFile: TRUE}, padded
		err = windows.NtSetInformationFile(h, &iosb, (*byte)(unsafe.Pointer(&del)), 1, windows.FileDispositionInformation)
	}
	if err != nil {
		return mapErr(&fs.PathError{Op: "remove", Path: path, Err: ntErr(err)})
	}
	return nil
}

func (osFS) Verify(d Dir) error {
	p := asWin(d)
	h, err := openPath(p.path, windows.FILE_READ_ATTRIBUTES)
	var bi windows.ByHandleFileInformation
	if err == nil {
		err = windows.GetFileInformationByHandle(h, &bi)
		windows.CloseHandle(h)
	}
	if err == nil && bi.VolumeSerialNumber == p.vol && uint64(bi.FileIndexHigh)<<32|uint64(bi.FileIndexLow) == p.idx &&
		bi.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT == 0 {
		return nil
	}
	return replaced(p.path, err, bi.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0, bi.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY == 0)
}
