// Command cryolock runs commands under a cryolock, shows who holds one,
// measures a filesystem and runs the protocol's simulator.
//
//	cryolock run [flags] LOCKDIR -- CMD [ARGS...]   run CMD holding the lock (like flock(1))
//	cryolock status [--json] LOCKDIR                who holds the lock, who waits, what is foreign
//	cryolock probe [--json] [--peer] DIR            measure DIR and recommend settings
//	cryolock sim [flags]                            run the deterministic simulator
//
// Each subcommand documents its flags and exit codes under --help.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code out of a subcommand.
type exitError struct {
	code int
	err  error // may be nil: exit silently with code
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode wraps err (possibly nil) so that main exits with code.
func exitCode(code int, err error) error { return &exitError{code: code, err: err} }

// Exit codes shared by the subcommands.
const (
	exitUsage = 64 // EX_USAGE: bad flags or arguments
	exitFail  = 1  // the operation failed
)

// root is the top-level command; each subcommand's file adds itself in init.
var root = &cobra.Command{
	Use:   "cryolock",
	Short: "A mutual-exclusion lock for programs that share only a directory",
	Long: `cryolock is a lock that works where flock and fcntl do not: NFS, SMB, sshfs,
FUSE mounts, container bind mounts and WASI sandboxes. It uses only mkdir,
directory listing, create+write, stat, set-mtime and remove, and is on-disk
compatible with the Python library cryolock 1.x.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line args and returns the exit code.
func run(args []string) int {
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "cryolock:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "cryolock:", err)
	return exitUsage
}
