//go:build wasip1

package protocol

import (
	"errors"
	"io/fs"
	"syscall"
	"time"
)

const oNoFollow = syscall.O_NOFOLLOW

func isESTALE(err error) bool { return errors.Is(err, syscall.ESTALE) }
func isELOOP(err error) bool  { return errors.Is(err, syscall.ELOOP) }

func chtimesNoFollow(path string, atime, mtime time.Time) error {
	return lstatThenChtimes(path, atime, mtime)
}

func readDir(path string) ([]DirEntry, error) { return genericReadDir(path) }

func writeFile(path string, data []byte, perm fs.FileMode) error {
	return genericWriteFile(path, data, perm)
}
