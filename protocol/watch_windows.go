//go:build windows

package protocol

import (
	"io/fs"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Watch watches the directory d with ReadDirectoryChangesW (on a new
// handle to the handle's own directory, not whatever its path names now)
// when it lives on a local volume (a fixed, removable or RAM disk), where
// the notifications report every entry created or removed, whoever does it;
// on network shares (UNC paths, mapped drives) it returns nil, and waiters
// poll (backing off up to the maximum of WithBackoff).
func (osFS) Watch(d Dir) (dirWatch, error) {
	p := asWin(d)
	if !localVolume(p.path) {
		return nil, nil
	}
	// No FILE_SYNCHRONOUS_IO_*: an asynchronous handle, for overlapped I/O.
	h, err := p.reopen(windows.FILE_LIST_DIRECTORY|windows.SYNCHRONIZE, 0)
	if err != nil {
		return nil, err
	}
	done, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		windows.CloseHandle(h)
		return nil, &fs.PathError{Op: "CreateEvent", Path: p.path, Err: err}
	}
	stop, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		windows.CloseHandle(h)
		windows.CloseHandle(done)
		return nil, &fs.PathError{Op: "CreateEvent", Path: p.path, Err: err}
	}
	w := newHintWatch()
	w.stop = func() error { return windows.SetEvent(stop) }
	w.after = func() { windows.CloseHandle(stop) } // after the loop: SetEvent never meets a closed handle
	// Changes are collected only once the first ReadDirectoryChangesW is
	// issued: return when it is, so that a change right after Watch
	// returns is not missed.
	ready := make(chan struct{})
	go changesLoop(w, h, done, stop, ready)
	select {
	case <-ready:
	case <-w.done:
	}
	return w, nil
}

// changesLoop blocks a thread waiting for ReadDirectoryChangesW to
// complete (a hint: look again) or for Close to signal stop.
func changesLoop(w *hintWatch, h, done, stop windows.Handle, ready chan struct{}) {
	defer close(w.done)
	defer windows.CloseHandle(done)
	defer windows.CloseHandle(h)
	buf := make([]uint32, 1024) // DWORD-aligned, 4 KB; the events are not read: any is a hint
	ov := new(windows.Overlapped)
	for {
		*ov = windows.Overlapped{HEvent: done}
		windows.ResetEvent(done)
		const mask = windows.FILE_NOTIFY_CHANGE_FILE_NAME | windows.FILE_NOTIFY_CHANGE_DIR_NAME
		if err := windows.ReadDirectoryChanges(h, (*byte)(unsafe.Pointer(&buf[0])), uint32(4*len(buf)), false, mask, nil, ov, 0); err != nil {
			w.fire() // the directory is gone, or cannot be watched: look again
			return
		}
		if ready != nil {
			close(ready)
			ready = nil
		}
		ev, err := windows.WaitForMultipleObjects([]windows.Handle{done, stop}, false, windows.INFINITE)
		if err != nil || ev != windows.WAIT_OBJECT_0 {
			windows.CancelIoEx(h, ov)
			var n uint32
			windows.GetOverlappedResult(h, ov, &n, true) // the buffer is free once this returns
			w.fire()
			return
		}
		var n uint32
		err = windows.GetOverlappedResult(h, ov, &n, false)
		w.fire() // changes, an overflow (n == 0) or an error: look again
		if err != nil && err != windows.ERROR_NOTIFY_ENUM_DIR {
			return
		}
	}
}

// localVolume reports whether path is on a local volume (not a UNC path,
// and a drive type of fixed, removable or RAM disk).
func localVolume(path string) bool {
	if strings.HasPrefix(path, `\\`) && !strings.HasPrefix(path, `\\?\`) && !strings.HasPrefix(path, `\\.\`) {
		return false
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return false
	}
	buf := make([]uint16, windows.MAX_LONG_PATH)
	if err := windows.GetVolumePathName(p, &buf[0], uint32(len(buf))); err != nil {
		return false
	}
	root := windows.UTF16ToString(buf)
	if strings.HasPrefix(root, `\\`) && !strings.HasPrefix(root, `\\?\`) {
		return false
	}
	switch windows.GetDriveType(&buf[0]) {
	case windows.DRIVE_FIXED, windows.DRIVE_REMOVABLE, windows.DRIVE_RAMDISK:
		return true
	}
	return false
}
