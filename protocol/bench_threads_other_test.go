//go:build !linux

package protocol_test

import "testing"

// blockedThreads skips the benchmark where there is no /proc/self/task to
// read the threads' system calls from.
func blockedThreads(b *testing.B) int {
	b.Skip("no /proc/self/task/*/syscall on this platform")
	return 0
}
