//go:build unix

package locktest

import (
	"syscall"
	"time"
)

// SelfCPU is this process's CPU time so far (user + system).
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
