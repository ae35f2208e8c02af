package protocol_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// idleSyscalls are the system calls in which the Go runtime parks a thread
// that has nothing to run (its futex sleep, the network poller, the
// monitor's sleep): a thread in one of them waits for no waiter.
var idleSyscalls = map[string]bool{
	strconv.Itoa(unix.SYS_FUTEX):           true,
	strconv.Itoa(unix.SYS_EPOLL_PWAIT):     true,
	strconv.Itoa(unix.SYS_NANOSLEEP):       true,
	strconv.Itoa(unix.SYS_CLOCK_NANOSLEEP): true,
}

// blockedThreads counts this process's threads that sit in a system call
// other than the runtime's idle waits (a waiter's flock at the gate, say):
// the threads its waiters keep. Threads the runtime started in a burst and
// keeps idle are not counted.
func blockedThreads(b *testing.B) int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		b.Skip("no /proc")
	}
	n := 0
	for _, t := range tasks {
		raw, err := os.ReadFile(filepath.Join("/proc/self/task", t.Name(), "syscall"))
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(raw))
		if len(f) == 0 || f[0] == "running" || idleSyscalls[f[0]] {
			continue
		}
		n++
	}
	return n
}
