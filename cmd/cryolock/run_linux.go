package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// startProc starts CMD (argv) in a process group of its own, under a
// supervisor: a copy of this program (/proc/self/exe, so a replaced or
// deleted binary still works) that leads the group, starts CMD in it and
// waits for it. The supervisor's parent-death signal tells it when run dies,
// however it dies, and it then kills the whole group. When run is in the
// foreground of a terminal, the group gets the terminal.
//
// The parent-death signal fires when the OS thread that started the child
// exits, not the process: the starting goroutine therefore keeps its thread
// locked until the supervisor is reaped, so the Go runtime never retires
// that thread under it.
func startProc(argv, env []string, io stdio) (*proc, error) {
	fg := terminalFD()
	args := append([]string{supervisorArg, strconv.Itoa(os.Getpid()), "--"}, argv...)
	c := exec.Command("/proc/self/exe", args...)
	c.Args[0] = "cryolock"
	c.Env = env
	c.Stdin, c.Stdout, c.Stderr = io.in, io.out, io.err
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if fg >= 0 {
		c.SysProcAttr.Foreground = true
		c.SysProcAttr.Ctty = fg
	}
	p := &proc{c: c, ownGroup: true, fg: fg, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := c.Start(); err != nil {
			started <- err
			return
		}
		p.pid = c.Process.Pid
		if fg >= 0 {
			signal.Ignore(syscall.SIGTTOU) // see takeTerminal
			go p.watchStops()
		}
		started <- nil
		p.waitErr = c.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// Codes of a SIGCHLD siginfo (si_code).
const cldStopped = 5

// watchStops gives job control back to the shell when CMD's group is
// stopped at the terminal (Ctrl-Z): it takes the terminal back, stops run's
// own group so that the shell sees the job stopped, and once resumed in the
// foreground ("fg") hands the terminal to CMD's group again and continues
// it. It returns when the supervisor exits.
func (p *proc) watchStops() {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, p.pid, &info, unix.WSTOPPED|unix.WEXITED|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || info.Code != cldStopped {
			return // exited (left for Wait to reap) or reaped already
		}
		// Consume the stop report, leaving any exit for Wait.
		_ = unix.Waitid(unix.P_PID, p.pid, &info, unix.WSTOPPED|unix.WNOHANG, nil)
		me := unix.Getpgrp()
		takeTerminal(p.fg, me)
		_ = unix.Kill(0, unix.SIGSTOP) // returns once the shell continues us
		if fg, err := unix.IoctlGetInt(p.fg, unix.TIOCGPGRP); err == nil && fg == me {
			takeTerminal(p.fg, p.pid)
		}
		_ = unix.Kill(-p.pid, unix.SIGCONT)
	}
}

// superviseMain is the supervisor of a CMD (see startProc), started as
// "cryolock cryolock-internal-supervisor PPID -- CMD [ARGS...]" where PPID
// is run's pid. It exits with CMD's status as a shell reports it (128+N
// for a signal), which run passes on.
func superviseMain(args []string) int {
	if len(args) < 3 || args[1] != "--" {
		fmt.Fprintln(os.Stderr, "cryolock: the supervisor is started by cryolock run only")
		return exitUsage
	}
	ppid, err := strconv.Atoi(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "cryolock: the supervisor is started by cryolock run only")
		return exitUsage
	}
	argv := args[2:]
	// Every signal run forwards reaches the whole group, CMD included: the
	// supervisor only has to survive them. The parent-death signal
	// (SIGTERM) is told apart by the parent having changed. Signals that
	// run left ignored (see caughtSignals) stay ignored here too, so that
	// CMD inherits them ignored.
	sigc := make(chan os.Signal, 16)
	if sigs := caughtSignals(); len(sigs) > 0 { // Notify of none is of all
		signal.Notify(sigc, sigs...)
	}
	orphaned := func() bool { return os.Getppid() != ppid }
	if orphaned() {
		killGroup()
	}
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	c, err = startCmd(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cryolock: run:", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return exitNotFound
		}
		return exitCannotExec
	}
	done := make(chan struct{})
	go func() {
		_ = c.Wait()
		close(done)
	}()
	for {
		select {
		case <-sigc:
			if orphaned() {
				killGroup()
			}
		case <-done:
			if code := childStatus(c.ProcessState); code >= 0 {
				return code
			}
			return exitSoftware
		}
	}
}

// killGroup kills the supervisor's whole process group, itself included.
func killGroup() {
	_ = unix.Kill(0, unix.SIGKILL)
	select {} // the signal is on its way
}
