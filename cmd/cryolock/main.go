// Command cryolock runs commands under a cryolock, shows who holds one,
// measures a filesystem and runs the protocol's simulator.
//
//	cryolock run [flags] LOCKDIR -- CMD [ARGS...]   run CMD holding the lock (like flock(1))
//	cryolock run [flags] LOCKDIR -c 'SHELL COMMAND' the same, through /bin/sh -c
//	cryolock status [--json] LOCKDIR                who holds the lock, who waits, what is foreign
//	cryolock probe [--json] [--peer] DIR            measure DIR and recommend settings
//	cryolock sim [flags]                            run the deterministic simulator
//
// Each subcommand documents its flags and exit codes under --help.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/cryolock-go/cryolock/protocol"
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

const rootLong = `cryolock is a lock that works where flock and fcntl do not: NFS, SMB, sshfs,
FUSE mounts, container bind mounts and WASI sandboxes. It uses only mkdir,
directory listing, create+write, stat, set-mtime and remove, and is on-disk
compatible with the Python library cryolock 1.x.

Without arguments it prints this text and exits 64 (usage).`

// newRootCmd builds the whole command tree. Each call returns a fresh tree
// with fresh flag values, so tests can run commands in-process.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "cryolock",
		Short:         "A mutual-exclusion lock for programs that share only a directory",
		Long:          rootLong,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			_ = cmd.Usage()
			return exitCode(exitUsage, nil)
		},
	}
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.AddCommand(newRunCmd(), newStatusCmd(), newProbeCmd(), newSimCmd())
	return root
}

// version describes this binary from its build information: the module
// version (or "(devel)"), the VCS revision and whether the tree was
// modified, and the Go version.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(no build information)"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, when, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	var b strings.Builder
	b.WriteString(v)
	if rev != "" {
		fmt.Fprintf(&b, " (revision %s", rev)
		if when != "" {
			fmt.Fprintf(&b, " of %s", when)
		}
		b.WriteString(modified + ")")
	}
	if bi.GoVersion != "" {
		b.WriteString(" " + bi.GoVersion)
	}
	return b.String()
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == supervisorArg {
		os.Exit(superviseMain(os.Args[2:]))
	}
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// execute runs the command line args with the given standard streams and
// returns the exit code.
func execute(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, message(ee.err))
		}
		return ee.code
	}
	fmt.Fprintln(stderr, message(err))
	return exitUsage
}

// message renders err for the terminal (see printable), one line per error
// of an errors.Join. The lock's own errors (*protocol.Error) are printed as
// they are: they begin with "cryolock: " already. The CLI's get that prefix
// here.
func message(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var lines []string
		for _, e := range j.Unwrap() {
			lines = append(lines, e.Error())
		}
		if strings.Join(lines, "\n") == err.Error() { // an errors.Join
			for i, e := range j.Unwrap() {
				lines[i] = message(e)
			}
			return strings.Join(lines, "\n")
		}
	}
	if _, ok := err.(*protocol.Error); ok {
		return printable(err.Error())
	}
	return "cryolock: " + printable(err.Error())
}

// printable makes a message safe for a terminal: control characters
// (newlines, escape sequences) and invalid UTF-8 in it — which may come from
// file names someone else chose — are shown as Go escapes instead of being
// printed raw.
func printable(s string) string {
	if !needsQuote(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if r == '\uFFFD' || isControl(r) {
			q := strings.Trim(fmt.Sprintf("%+q", s[i:i+runeLen(s[i:])]), `"`)
			b.WriteString(q)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func runeLen(s string) int {
	for i := range s {
		if i > 0 {
			return i
		}
	}
	return len(s)
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' || r == '\u202e' || r == '\u200e' || r == '\u200f'
}

func needsQuote(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' || isControl(r) {
			return true
		}
	}
	return false
}

// quote renders a name (a path, an entry, a host) for a message: as is when
// it is plain printable text, Go-quoted (%q) when it holds control
// characters, escape codes, invalid UTF-8 or leading/trailing spaces.
func quote(s string) string {
	if s == "" || needsQuote(s) || strings.TrimSpace(s) != s {
		return fmt.Sprintf("%q", s)
	}
	return s
}
