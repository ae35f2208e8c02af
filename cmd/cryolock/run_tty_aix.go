//go:build aix

package main

// takeTerminal does nothing on AIX, whose TIOCSPGRP does not fit the ioctl
// wrapper's int request: CMD then stays out of the terminal's foreground
// group, as on other platforms when run is not in the foreground.
func takeTerminal(fd, pgrp int) {}
