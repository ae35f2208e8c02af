//go:build !unix

package sim

import "time"

// selfCPU is 0 where the platform has no getrusage: the benchmarks then
// report no steps per CPU-second.
func selfCPU() time.Duration { return 0 }
