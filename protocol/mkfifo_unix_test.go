//go:build unix

package protocol

import "golang.org/x/sys/unix"

// mkfifo makes a named pipe at path, where the platform has them.
func mkfifo(path string) error { return unix.Mkfifo(path, 0o666) }
