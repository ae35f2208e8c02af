//go:build linux && !cryolock_nolinkname

package protocol

import (
	_ "unsafe" // for go:linkname

	"golang.org/x/sys/unix"
)

// The gate's waiters block in flock(2) (gate.wait). A goroutine in an
// ordinary system call keeps its P, and while any P is held so the runtime's
// monitor thread (sysmon) does not sleep: it wakes every 20 µs for the
// call's first millisecond, then at doubling intervals until it takes the P
// away after 10 ms — about 60 wake-ups per wait, however long. A
// cryolock hand-off ends one such wait in every acquisition, so that
// polling was a fifth to a third of a contended acquisition's CPU, and grew
// with the waits (README, Performance). gateFlock tells the runtime instead
// that the call blocks, as the runtime's own blocking waits do
// (runtime.notetsleepg): the P is handed off at once, and with nothing else
// to run the process sleeps whole.
//
// entersyscallblock and exitsyscall are runtime internals that the Go
// project keeps reachable for this use, signatures unchanged (go.dev/issue/
// 67401). Building with the tag cryolock_nolinkname uses unix.Flock
// instead (gate_flock_nolinkname_linux.go). The gate is only a hint
// (waiters decide from listings), so either way the lock's rules are the
// same.

//go:linkname entersyscallblock runtime.entersyscallblock
func entersyscallblock()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()

// gateFlockBlocks reports whether gateFlock hands its P off while it blocks
// (tests compare against it).
const gateFlockBlocks = true

// gateFlock takes fd's flock exclusively, blocking until it can. Between
// entersyscallblock and exitsyscall the goroutine runs without a P: only
// the raw system call (assembly, no stack check, no instrumentation) may
// run there, as in the syscall package's own Syscall.
//
//go:nosplit
//go:norace
//go:noinline
func gateFlock(fd int) error {
	entersyscallblock()
	_, _, e := unix.RawSyscall6(unix.SYS_FLOCK, uintptr(fd), unix.LOCK_EX, 0, 0, 0, 0)
	exitsyscall()
	if e != 0 {
		return e
	}
	return nil
}
