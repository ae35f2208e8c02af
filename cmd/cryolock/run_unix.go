//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwardedSignals are the signals `cryolock run` catches: while waiting for
// the lock they abandon the attempt, while CMD runs they are forwarded to it.
var forwardedSignals = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP,
	syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
}

// terminateSignal is what --kill-on-lost sends first.
var terminateSignal os.Signal = syscall.SIGTERM

// notifySignals starts catching forwardedSignals.
func notifySignals() chan os.Signal {
	c := make(chan os.Signal, 16)
	signal.Notify(c, forwardedSignals...)
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
// process group of the terminal on stdin, stdout or stderr. CMD is started in
// the same process group, so the terminal's own signals reach it directly.
func foregroundOfTerminal() bool {
	pgrp, err := unix.Getpgid(0) // Getpgrp's signature differs on solaris
	if err != nil {
		return false
	}
	for fd := 0; fd <= 2; fd++ {
		fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
		if err == nil {
			return fg == pgrp
		}
	}
	return false
}

// childStatus is CMD's exit status as a shell reports it: the exit code, or
// 128+N if it was killed by signal N; -1 if neither.
func childStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitSignalBase + int(ws.Signal())
	}
	return ps.ExitCode()
}
