//go:build unix

package protocol

import "syscall"

// mkfifo makes a named pipe at path, where the platform has them.
func mkfifo(path string) error { return syscall.Mkfifo(path, 0o666) }
