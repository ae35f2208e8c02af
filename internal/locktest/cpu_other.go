//go:build !unix

package locktest

import "time"

// SelfCPU is 0 where there is no getrusage: CPU figures are only measured
// on Unix.
func SelfCPU() time.Duration { return 0 }
