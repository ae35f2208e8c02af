//go:build linux && cryolock_nolinkname

package protocol

import "golang.org/x/sys/unix"

// gateFlockBlocks reports whether gateFlock hands its P off while it blocks
// (see gate_flock_linux.go): not with the tag cryolock_nolinkname.
const gateFlockBlocks = false

// gateFlock takes fd's flock exclusively, blocking until it can: an
// ordinary system call, during which the runtime's monitor polls (see
// gate_flock_linux.go).
func gateFlock(fd int) error { return unix.Flock(fd, unix.LOCK_EX) }
