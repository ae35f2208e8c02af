//go:build unix && !linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// startProc starts CMD (argv) in a process group of its own — unless run is
// in the foreground of a terminal: without Linux's waitid there is no
// portable way here to give job control (Ctrl-Z) back to the shell, so CMD
// then stays in run's group, which the terminal already treats as one job,
// and run signals CMD alone. Nothing kills CMD if run is SIGKILLed.
func startProc(argv, env []string, io stdio) (*proc, error) {
	c := exec.Command(argv[0], argv[1:]...)
	c.Env = env
	c.Stdin, c.Stdout, c.Stderr = io.in, io.out, io.err
	own := terminalFD() < 0
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: own}
	c, err := startCmd(c)
	if err != nil {
		return nil, err
	}
	p := &proc{c: c, pid: c.Process.Pid, ownGroup: own, fg: -1, done: make(chan struct{})}
	go func() {
		p.waitErr = c.Wait()
		close(p.done)
	}()
	return p, nil
}

// superviseMain exists on Linux only.
func superviseMain([]string) int {
	fmt.Fprintln(os.Stderr, "cryolock: the supervisor exists on Linux only")
	return exitUsage
}
