package main

import (
	"fmt"
	"os/exec"
)

// proc is CMD as `cryolock run` manages it.
type proc struct {
	c        *exec.Cmd
	pid      int  // of the process run started (on Linux, CMD's supervisor)
	ownGroup bool // CMD runs in a process group of its own, led by pid
	fg       int  // the terminal handed to CMD's group, or -1
	done     chan struct{}
	waitErr  error // valid once done is closed
}

// supervisorArg, as the first argument, makes cryolock the supervisor of
// a CMD (see superviseMain); run passes it, people never do.
const supervisorArg = "cryolock-internal-supervisor"

// String names what run manages for messages: "CMD's process group N",
// which "kill -- -N" reaches whole (on Linux N is the pid of CMD's
// supervisor, which leads the group, not CMD's own), or "CMD (pid N)" when
// CMD shares run's group or there are no groups.
func (p *proc) String() string {
	if p.ownGroup {
		return fmt.Sprintf("CMD's process group %d", p.pid)
	}
	return fmt.Sprintf("CMD (pid %d)", p.pid)
}

// logKey is the log attribute's key for p.pid: "pgid" or "pid".
func (p *proc) logKey() string {
	if p.ownGroup {
		return "pgid"
	}
	return "pid"
}
