//go:build !unix

package protocol_test

import (
	"testing"
	"time"
)

// childCPU skips the benchmark where there is no /proc to read a child's
// CPU time from.
func childCPU(b *testing.B, pid int) time.Duration {
	b.Skipf("no /proc/%d/stat to read a child's CPU time on this platform", pid)
	return 0
}
