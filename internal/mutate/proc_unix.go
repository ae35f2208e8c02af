//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// killGroup makes cmd run in its own process group and be killed with all
// its children (go test's test binary) when its context ends. The returned
// function, called after cmd ends, kills what is left of the group: helper
// processes of a test that failed or hung, orphaned by it.
func killGroup(cmd *exec.Cmd) func() {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}
