//go:build !unix

package main

import "os/exec"

// killGroup leaves cmd as it is: without process groups, the context kills
// only the direct child.
func killGroup(cmd *exec.Cmd) func() { return func() {} }
