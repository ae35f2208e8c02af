//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// forwardedSignals are the signals `cryolock run` catches: while waiting for
// the lock they abandon the attempt, while CMD runs they are forwarded to
// its process group.
var forwardedSignals = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP,
	syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
}

// terminateSignal is what --kill-on-lost sends first, killSignal what it
// sends after the grace period.
var (
	terminateSignal os.Signal = syscall.SIGTERM
	killSignal      os.Signal = syscall.SIGKILL
)

// notifySignals starts catching forwardedSignals, but for those ignored at
// start (see caughtSignals).
func notifySignals() chan os.Signal {
	c := make(chan os.Signal, 16)
	if sigs := caughtSignals(); len(sigs) > 0 { // Notify of none is of all
		signal.Notify(c, sigs...)
	}
	return c
}

// stopSignals stops catching them.
func stopSignals(c chan os.Signal) { signal.Stop(c) }

// signalNumber returns s's number (for the exit status 128+N).
func signalNumber(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return int(n)
	}
	return 0
}

// fromTerminal reports whether s is one a terminal sends to its whole
// foreground process group (Ctrl-C, Ctrl-\).
func fromTerminal(s os.Signal) bool { return s == syscall.SIGINT || s == syscall.SIGQUIT }

// foregroundOfTerminal reports whether this process is in the foreground
// process group of the terminal on stdin, stdout or stderr.
func foregroundOfTerminal() bool { return terminalFD() >= 0 }

// terminalFD returns the descriptor (0, 1 or 2) of the controlling terminal
// whose foreground process group this process is in, or -1; see
// chooseTerminal.
func terminalFD() int {
	pgrp, err := unix.Getpgid(0) // Getpgrp's signature differs on solaris
	if err != nil {
		return -1
	}
	fg := [3]int{-1, -1, -1}
	for fd := range fg {
		if g, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err == nil {
			fg[fd] = g
		}
	}
	return chooseTerminal(pgrp, fg, slices.Contains(ignoredAtStart, os.Signal(syscall.SIGINT)), term.IsTerminal(0))
}

// chooseTerminal decides which terminal run is in the foreground of, and
// so hands to CMD's group: fg[fd] is the foreground process group of the
// controlling terminal on descriptor fd (-1 if fd is not one), pgrp run's
// own group. The first of stdin, stdout and stderr that is the controlling
// terminal counts; run is in its foreground if its group is the terminal's
// foreground group.
//
// Except for a background job of a shell without job control: such a
// shell (sh -c "cryolock run ... & ...") starts "cmd &" in its own
// process group, which may be the terminal's foreground group, but with
// SIGINT ignored and stdin from /dev/null (POSIX). Taking the terminal
// there would steal it from the script (Ctrl-C would hit CMD, the script's
// own reads from the terminal would fail), so with SIGINT ignored at start
// and stdin not a terminal run leaves the terminal alone. A foreground run
// with SIGINT ignored (trap "" INT) still has the terminal on stdin and
// gets it.
func chooseTerminal(pgrp int, fg [3]int, sigintIgnored, stdinTTY bool) int {
	if sigintIgnored && !stdinTTY {
		return -1
	}
	for fd, g := range fg {
		if g >= 0 {
			if g == pgrp {
				return fd
			}
			return -1
		}
	}
	return -1
}

// signal sends s to CMD's process group, or to CMD alone when it shares
// run's group.
func (p *proc) signal(s os.Signal) error {
	n, ok := s.(syscall.Signal)
	if !ok || !p.ownGroup {
		return p.c.Process.Signal(s)
	}
	return syscall.Kill(-p.pid, n)
}

// groupAlive reports whether any process is left in CMD's own group.
func (p *proc) groupAlive() bool {
	return p.ownGroup && syscall.Kill(-p.pid, 0) == nil
}

// finish takes the terminal back from CMD's group, if run gave it away.
func (p *proc) finish() {
	if p.fg >= 0 {
		if pgrp, err := unix.Getpgid(0); err == nil { // Getpgrp's signature differs on solaris
			takeTerminal(p.fg, pgrp)
		}
	}
}

// shellCommand is the argv that runs line through the shell (-c).
func shellCommand(line string) []string { return []string{"/bin/sh", "-c", line} }

// childStatus is CMD's exit status as a shell reports it: the exit code, or
// 128+N if it was killed by signal N; -1 if neither.
func childStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitSignalBase + int(ws.Signal())
	}
	return ps.ExitCode()
}

// startCmd starts c. If the kernel will not execute c's file (ENOEXEC: an
// executable script without "#!"), it starts it through /bin/sh instead,
// as execvp(3), and so flock(1), does; it returns the command that runs.
func startCmd(c *exec.Cmd) (*exec.Cmd, error) {
	err := c.Start()
	if !errors.Is(err, unix.ENOEXEC) {
		return c, err
	}
	sh := exec.Command("/bin/sh", append([]string{c.Path}, c.Args[1:]...)...)
	sh.Env, sh.Dir, sh.SysProcAttr = c.Env, c.Dir, c.SysProcAttr
	sh.Stdin, sh.Stdout, sh.Stderr = c.Stdin, c.Stdout, c.Stderr
	if sh.Start() != nil {
		return c, err // the original error names CMD
	}
	return sh, nil
}

// openNonblock is the open flag that keeps opening a named pipe from
// waiting for a writer (readSmallFile).
const openNonblock = syscall.O_NONBLOCK
