//go:build !windows && !wasip1 && !js

package protocol

import (
	"io/fs"

	"github.com/google/renameio/v2"
)

// renameWrite replaces path atomically (temporary file, fsync, rename).
var renameWrite = func(path string, data []byte, perm fs.FileMode) error {
	return renameio.WriteFile(path, data, perm)
}
