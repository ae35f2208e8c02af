// Package realfs holds the lock's tests on real restrictive filesystems —
// a FUSE filesystem of our own (package fusefs), sshfs mounted twice over a
// loopback sshd, and WASI under the wazero runtime — and the scripts that
// start them (scripts/up.sh, scripts/down.sh; .ci/setup-realfs.sh runs them
// in CI). The tests live in package realfs_test; the experiments that show
// violations under unsafe settings run only when CRYOLOCK_REALFS_EXPERIMENT
// is set. See FINDINGS.md for what each filesystem actually did.
//
// The suite runs only when asked for with CRYOLOCK_REALFS=1 (.ci/run sets
// it): a plain `go test ./...` builds nothing, starts no service and mounts
// nothing here, and says so in one line. When asked for, a run as root with
// the tools installed starts the filesystems itself (scripts/up.sh) unless
// CI already did; a missing component then skips the tests that need it,
// except in CI (CI=true), where it fails them.
package realfs

import (
	"flag"
	"fmt"
	"os"
)

// RequestVar is the environment variable that asks for the real-filesystem
// suite: set it to 1 to run it.
const RequestVar = "CRYOLOCK_REALFS"

// Requested reports whether the real-filesystem suite was asked for
// (CRYOLOCK_REALFS=1).
func Requested() bool { return os.Getenv(RequestVar) == "1" }

// InCI reports whether the tests run in CI (CI=true), where a missing
// filesystem or tool is a failure rather than a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// NotRequested is the one line a test binary of the suite prints when the
// suite was not asked for; pkg names the package.
func NotRequested(pkg string) string {
	return fmt.Sprintf("%s: real-filesystem suite not requested (set %s=1)", pkg, RequestVar)
}

// SkipUnlessRequested is called by the TestMain of each test package of the
// suite before m.Run. When the suite was not asked for, it says so in one
// line and makes m.Run run no test (so nothing is built, started or
// mounted, and the package passes as "[no tests to run]"); it reports
// whether the suite runs.
//
// The line goes to the controlling terminal when there is one: `go test
// ./...` shows nothing of a passing package's output but its summary (not
// even stderr) unless -v is given, and the one line is the point. Without a
// terminal (CI, pipes) it goes to stderr, shown with -v.
func SkipUnlessRequested(pkg string) bool {
	if Requested() {
		return true
	}
	line := NotRequested(pkg) + "\n"
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		_, err = tty.WriteString(line)
		tty.Close()
		if err != nil {
			fmt.Fprint(os.Stderr, line)
		}
	} else {
		fmt.Fprint(os.Stderr, line)
	}
	if flag.Set("test.skip", ".") != nil {
		flag.Set("test.run", "^$")
	}
	return false
}
