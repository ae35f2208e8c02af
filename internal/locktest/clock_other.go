//go:build !linux

package locktest

import "time"

// Now reads the wall clock in nanoseconds (on platforms without a
// machine-wide monotonic clock reachable here; good enough on one machine
// whose clock is not stepped during a test).
func Now() int64 { return time.Now().UnixNano() }
