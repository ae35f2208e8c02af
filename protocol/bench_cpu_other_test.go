//go:build !unix

package protocol_test

import (
	"testing"
	"time"
)

// selfCPU is 0 where the platform has no getrusage: BenchmarkIdle's CPU
// figures are only measured on Unix.
func selfCPU() time.Duration { return 0 }

// childCPU skips the benchmark where there is no /proc to read a child's
// CPU time from.
func childCPU(b *testing.B, pid int) time.Duration {
	b.Skipf("no /proc/%d/stat to read a child's CPU time on this platform", pid)
	return 0
}
