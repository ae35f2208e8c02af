// Package realfs holds the lock's tests on real restrictive filesystems —
// a FUSE filesystem of our own (package fusefs), sshfs mounted twice over a
// loopback sshd, and WASI under the wazero runtime — and the scripts that
// start them (scripts/up.sh, scripts/down.sh; .ci/setup-realfs.sh runs them
// in CI). The tests live in package realfs_test; the experiments that show
// violations under unsafe settings run only when CRYOLOCK_REALFS_EXPERIMENT
// is set. See FINDINGS.md for what each filesystem actually did.
package realfs

import "os"

// InCI reports whether the tests run in CI (CI=true), where a missing
// filesystem or tool is a failure rather than a skip.
func InCI() bool { return os.Getenv("CI") == "true" }
