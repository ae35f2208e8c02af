//go:build unix

package protocol

import (
	"errors"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"io/fs"
)

const oNoFollow = syscall.O_NOFOLLOW

func isESTALE(err error) bool { return errors.Is(err, syscall.ESTALE) }
func isELOOP(err error) bool  { return errors.Is(err, syscall.ELOOP) }

func chtimesNoFollow(path string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "chtimes", Path: path, Err: err}
	}
	return nil
}
