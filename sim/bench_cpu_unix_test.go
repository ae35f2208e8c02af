//go:build unix

package sim

import (
	"syscall"
	"time"
)

// selfCPU is this process's CPU time so far (user + system), for the
// benchmarks' steps per CPU-second: on a shared, loaded machine wall-clock
// rates say more about the neighbours than about the simulator.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
