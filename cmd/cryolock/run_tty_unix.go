//go:build unix && !aix

package main

import "golang.org/x/sys/unix"

// takeTerminal makes pgrp the foreground process group of the terminal fd.
// SIGTTOU is ignored (from giving the terminal away on) so that a process
// in the background may do it.
func takeTerminal(fd, pgrp int) {
	_ = unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, pgrp)
}
