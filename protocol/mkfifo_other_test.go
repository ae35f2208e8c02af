//go:build !unix

package protocol

import (
	"errors"
	"runtime"
)

// mkfifo fails where the platform has no named pipes in directories.
func mkfifo(string) error { return errors.New("no named pipes in directories on " + runtime.GOOS) }
