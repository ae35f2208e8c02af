//go:build unix && !linux

package protocol

import "io/fs"

func readDir(path string) ([]DirEntry, error) { return genericReadDir(path) }

func writeFile(path string, data []byte, perm fs.FileMode) error {
	return genericWriteFile(path, data, perm)
}
