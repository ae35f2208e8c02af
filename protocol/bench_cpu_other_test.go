//go:build !unix

package protocol_test

import "time"

// selfCPU is this process's CPU time so far: not measured here (0).
func selfCPU() time.Duration { return 0 }
