//go:build unix && !aix

package fsprobe

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// flockHeld is a flock(LOCK_EX) held on an open file.
type flockHeld struct{ fd int }

func (h *flockHeld) release() {
	unix.Flock(h.fd, unix.LOCK_UN)
	unix.Close(h.fd)
}

// flockTry opens the regular file name in x (which must exist; see
// xdir.openFlock) and tries flock(LOCK_EX|LOCK_NB). It returns the held
// lock, or (nil, nil) if the lock is held elsewhere, or an error if the
// file was refused or flock does not work at all.
func flockTry(x *xdir, name string) (*flockHeld, error) {
	fd, err := x.openFlock(name)
	if err != nil {
		return nil, err
	}
	err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		unix.Close(fd)
		return nil, nil
	}
	if err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "flock", Path: x.join(name), Err: err}
	}
	return &flockHeld{fd}, nil
}

// probeFlock reports whether flock works on the file name in x and whether
// a second open file description of it is refused.
func probeFlock(x *xdir, name string) Primitive {
	h, err := flockTry(x, name)
	if err != nil {
		return Primitive{Error: err.Error()}
	}
	if h == nil {
		return Primitive{Error: fmt.Sprintf("flock %s: refused although no one holds it", x.join(name))}
	}
	defer h.release()
	h2, err := flockTry(x, name)
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
