//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package protocol

import (
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/cryolock-go/cryolock/internal/statfs"
)

// Watch watches the directory d with kqueue (EVFILT_VNODE, NOTE_WRITE on a
// descriptor of the handle's own directory) when it lives on a local
// filesystem (MNT_LOCAL and a type in kqueueLocal), where a directory's
// vnode notes every entry created or removed, whoever does it; on network
// and FUSE filesystems, which note only this client's changes, it returns
// nil, and waiters poll (backing off up to the maximum of WithBackoff).
func (osFS) Watch(d Dir) (dirWatch, error) {
	p, dfd, err := use(d)
	if err != nil {
		return nil, err
	}
	defer p.done()
	st, err := statfs.FD(dfd)
	if err != nil {
		return nil, &fs.PathError{Op: "fstatfs", Path: p.path, Err: err}
	}
	if !st.Local || !kqueueLocal[st.Type] {
		return nil, nil
	}
	fd, err := openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|oEvtOnly, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p.path, Err: err}
	}
	kq, err := unix.Kqueue()
	if err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "kqueue", Path: p.path, Err: err}
	}
	unix.CloseOnExec(kq)
	var pipe [2]int // Close writes to pipe[1] to end the loop
	if err := unix.Pipe(pipe[:]); err != nil {
		unix.Close(fd)
		unix.Close(kq)
		return nil, &fs.PathError{Op: "pipe", Path: p.path, Err: err}
	}
	unix.CloseOnExec(pipe[0])
	unix.CloseOnExec(pipe[1])
	ev := make([]unix.Kevent_t, 2)
	unix.SetKevent(&ev[0], fd, unix.EVFILT_VNODE, unix.EV_ADD|unix.EV_CLEAR)
	ev[0].Fflags = unix.NOTE_WRITE | unix.NOTE_DELETE | unix.NOTE_RENAME | unix.NOTE_REVOKE
	unix.SetKevent(&ev[1], pipe[0], unix.EVFILT_READ, unix.EV_ADD)
	if _, err := unix.Kevent(kq, ev, nil, nil); err != nil {
		for _, c := range []int{fd, kq, pipe[0], pipe[1]} {
			unix.Close(c)
		}
		return nil, &fs.PathError{Op: "kevent", Path: p.path, Err: err}
	}
	w := newHintWatch()
	w.stop = func() error {
		one := []byte{1}
		_, err := unix.Write(pipe[1], one)
		return err
	}
	w.after = func() { unix.Close(pipe[0]); unix.Close(pipe[1]) } // after the loop: a write never meets a closed pipe
	go kqueueLoop(w, kq, fd, pipe[0])
	return w, nil
}

// kqueueLoop blocks a thread in kevent(2) until the directory changes (a
// hint: look again), goes away (look again, and end) or Close writes to
// the pipe.
func kqueueLoop(w *hintWatch, kq, fd, stop int) {
	defer close(w.done)
	defer unix.Close(fd)
	defer unix.Close(kq)
	out := make([]unix.Kevent_t, 8)
	for {
		n, err := unix.Kevent(kq, nil, out, nil)
		if err == unix.EINTR {
			continue
		}
		end := err != nil
		for _, e := range out[:max(n, 0)] {
			if uint64(e.Ident) == uint64(stop) || e.Fflags&(unix.NOTE_DELETE|unix.NOTE_RENAME|unix.NOTE_REVOKE) != 0 {
				end = true
			}
		}
		w.fire() // a change, the directory gone, or the end: look again
		if end {
			return
		}
	}
}

// kqueueLocal are the f_fstypename values of local filesystems, whose
// directory vnodes note every change.
var kqueueLocal = map[string]bool{
	"apfs": true, "hfs": true, "ufs": true, "ffs": true, "zfs": true, "tmpfs": true, "mfs": true,
	"msdos": true, "msdosfs": true, "exfat": true, "ext2fs": true, "hammer": true, "hammer2": true, "lfs": true,
}
