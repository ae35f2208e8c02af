//go:build linux

package realfs_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/cryolock-go/cryolock/internal/realfs"
)

// TestMain turns the test binary into a helper process when the environment
// asks for one (the counter tests re-execute it on the mounts). Otherwise it
// runs no test unless the suite was asked for (CRYOLOCK_REALFS=1), and then
// makes sure the filesystems are there: in CI .ci/setup-realfs.sh started
// them and exported their places; a developer's run starts them itself with
// scripts/up.sh (as root, with the tools installed) and stops them after.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperVar); mode != "" {
		os.Exit(helperMain(mode))
	}
	if !realfs.SkipUnlessRequested("internal/realfs") {
		os.Exit(m.Run())
	}
	down := setUp()
	code := m.Run()
	if down != nil {
		down()
	}
	os.Exit(code)
}

// upLog is what scripts/up.sh said on stderr, for the skip messages.
var upLog string

// setUp starts the filesystems with scripts/up.sh when the environment does
// not already name them, and returns the function that stops them.
func setUp() func() {
	if os.Getenv("CRYOLOCK_REALFS_STATE") != "" {
		return nil
	}
	if os.Geteuid() != 0 {
		upLog = "not root: FUSE and sshd need root (run `bash .ci/setup-realfs.sh` as root, or the tests as root)"
		return nil
	}
	state, err := os.MkdirTemp("", "cryolock-realfs-")
	if err != nil {
		upLog = err.Error()
		return nil
	}
	_, file, _, _ := runtime.Caller(0)
	scripts := filepath.Join(filepath.Dir(file), "scripts")
	var out, errb bytes.Buffer
	cmd := exec.Command("bash", filepath.Join(scripts, "up.sh"), state)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		errb.WriteString(err.Error())
	}
	upLog = strings.TrimSpace(errb.String())
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			os.Setenv(k, unquote(v))
		}
	}
	return func() {
		out, err := exec.Command("bash", filepath.Join(scripts, "down.sh"), state).CombinedOutput()
		if err != nil || len(out) > 0 {
			fmt.Fprintf(os.Stderr, "realfs: down.sh %s: %v\n%s", state, err, out)
		}
		// Remove only what is left once nothing is mounted any more: never
		// recurse into a mount.
		if b, _ := os.ReadFile("/proc/mounts"); !strings.Contains(string(b), " "+state+"/") {
			os.RemoveAll(state)
		} else {
			fmt.Fprintf(os.Stderr, "realfs: mounts left under %s; not removing it\n", state)
		}
	}
}

// unquote undoes bash's printf %q for the plain paths up.sh prints.
func unquote(s string) string { return strings.ReplaceAll(s, `\`, "") }

// need returns the values of the environment variables names, or ends the
// test: in CI (CI=true) a missing component is a failure, elsewhere a skip
// naming exactly what is missing.
func need(t *testing.T, names ...string) []string {
	t.Helper()
	var vals, missing []string
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			missing = append(missing, n)
		}
		vals = append(vals, v)
	}
	if len(missing) == 0 {
		return vals
	}
	msg := fmt.Sprintf("missing %s (set by .ci/setup-realfs.sh or internal/realfs/scripts/up.sh)", strings.Join(missing, ", "))
	if upLog != "" {
		msg += "; setup said: " + upLog
	}
	if realfs.InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return nil
}

var reportMu sync.Mutex

// logf logs a measurement, and appends it to the file named by
// CRYOLOCK_REALFS_REPORT when set (CI prints that file after the tests, so
// the numbers show without -v).
func logf(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	t.Log(msg)
	p := os.Getenv("CRYOLOCK_REALFS_REPORT")
	if p == "" {
		return
	}
	reportMu.Lock()
	defer reportMu.Unlock()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Logf("report %s: %v", p, err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s: %s\n", t.Name(), msg)
}
