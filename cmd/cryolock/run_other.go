//go:build !unix

package main

import (
	"os"
	"os/signal"
)

// forwardedSignals are the signals `cryolock run` catches: while waiting for
// the lock they abandon the attempt, while CMD runs they are forwarded to it.
var forwardedSignals = []os.Signal{os.Interrupt}

// terminateSignal is what --kill-on-lost sends first (there is no SIGTERM
// here: it kills).
var terminateSignal = os.Kill

func notifySignals() chan os.Signal {
	c := make(chan os.Signal, 16)
	signal.Notify(c, forwardedSignals...)
	return c
}

func stopSignals(c chan os.Signal) { signal.Stop(c) }

func signalNumber(s os.Signal) int {
	if s == os.Interrupt {
		return 2
	}
	return 0
}

func fromTerminal(os.Signal) bool         { return false }
func foregroundOfTerminal() bool          { return false }
func childStatus(ps *os.ProcessState) int { return ps.ExitCode() }
