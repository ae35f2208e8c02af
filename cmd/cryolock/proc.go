package main

import "os/exec"

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
