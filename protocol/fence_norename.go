//go:build windows || wasip1 || js

package protocol

import "io/fs"

// renameWrite is nil where renameio is not available.
var renameWrite func(path string, data []byte, perm fs.FileMode) error
