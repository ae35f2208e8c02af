//go:build !unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
)

// forwardedSignals are the signals `cryolock run` catches: while waiting for
// the lock they abandon the attempt, while CMD runs they are forwarded to it.
var forwardedSignals = []os.Signal{os.Interrupt}

// terminateSignal is what --kill-on-lost sends first (there is no SIGTERM
// here: it kills), killSignal what it sends after the grace period.
var (
	terminateSignal = os.Kill
	killSignal      = os.Kill
)

func notifySignals() chan os.Signal {
	c := make(chan os.Signal, 16)
	if sigs := caughtSignals(); len(sigs) > 0 { // Notify of none is of all
		signal.Notify(c, sigs...)
	}
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

// startProc starts CMD. There are no process groups here: only CMD itself
// is signalled or killed, and nothing kills it if run dies.
func startProc(argv, env []string, io stdio) (*proc, error) {
	c := exec.Command(argv[0], argv[1:]...)
	c.Env = env
	c.Stdin, c.Stdout, c.Stderr = io.in, io.out, io.err
	if err := c.Start(); err != nil {
		return nil, err
	}
	p := &proc{c: c, pid: c.Process.Pid, fg: -1, done: make(chan struct{})}
	go func() {
		p.waitErr = c.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) signal(s os.Signal) error { return p.c.Process.Signal(s) }
func (p *proc) groupAlive() bool         { return false }
func (p *proc) finish()                  {}

// shellCommand is the argv that runs line through the shell (-c).
func shellCommand(line string) []string {
	if runtime.GOOS == "windows" {
		return []string{"cmd.exe", "/C", line}
	}
	return []string{"/bin/sh", "-c", line}
}

// superviseMain exists on Linux only.
func superviseMain([]string) int {
	fmt.Fprintln(os.Stderr, "cryolock: the supervisor exists on Linux only")
	return exitUsage
}

// openNonblock: no named pipe to guard against where this builds (Windows
// has none at a path; WASI cannot open one without blocking at all).
const openNonblock = 0
