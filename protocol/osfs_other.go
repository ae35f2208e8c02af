//go:build !unix && !wasip1

package protocol

import (
	"io/fs"
	"time"
)

const oNoFollow = 0

func isESTALE(error) bool { return false }
func isELOOP(error) bool  { return false }

func chtimesNoFollow(path string, atime, mtime time.Time) error {
	return lstatThenChtimes(path, atime, mtime)
}

func readDir(path string) ([]DirEntry, error) { return genericReadDir(path) }

func writeFile(path string, data []byte, perm fs.FileMode) error {
	return genericWriteFile(path, data, perm)
}
