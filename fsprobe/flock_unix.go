//go:build unix && !aix

package fsprobe

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// flockHeld is a flock(LOCK_EX) held on an open file.
type flockHeld struct{ f *os.File }

func (h *flockHeld) release() {
	unix.Flock(int(h.f.Fd()), unix.LOCK_UN)
	h.f.Close()
}

// flockTry opens path (which must exist) and tries flock(LOCK_EX|LOCK_NB).
// It returns the held lock, or (nil, nil) if the lock is held elsewhere, or
// an error if flock does not work at all.
func flockTry(path string) (*flockHeld, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, nil
	}
	if err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return &flockHeld{f}, nil
}

// probeFlock reports whether flock works on path and whether a second open
// file description of it is refused.
func probeFlock(path string) Primitive {
	h, err := flockTry(path)
	if err != nil {
		return Primitive{Error: err.Error()}
	}
	if h == nil {
		return Primitive{Error: fmt.Sprintf("flock %s: refused although no one holds it", path)}
	}
	defer h.release()
	h2, err := flockTry(path)
	if err != nil {
		return Primitive{Error: err.Error(), Note: "the first flock succeeded, the second failed with an error"}
	}
	if h2 != nil {
		h2.release()
		return Primitive{Note: "flock calls succeed but do not exclude each other even within this client (emulated as per-process POSIX locks, as on NFS, or not implemented)"}
	}
	return Primitive{Works: true, Note: "excludes within this client; whether it excludes other clients takes --peer"}
}

const haveFlock = true

// nlink returns a file's link count (0 if unknown).
func nlink(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 0
}
