package fsprobe

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// scrHostileWorld makes, under a fresh directory every user can traverse, a
// world-writable directory without the sticky bit (where the probe runs)
// and a root-only victim file in a 0755 directory. It skips the test unless
// it runs as root with setpriv available (.ci/run runs as root).
func scrHostileWorld(t *testing.T) (work, victim string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: acts as uid 65534 through setpriv against a probe run as root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux) to act as uid 65534")
	}
	base, err := os.MkdirTemp("", "fsprobe-hostile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	work, vdir := filepath.Join(base, "work"), filepath.Join(base, "victim")
	for _, d := range []string{work, vdir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for d, m := range map[string]os.FileMode{base: 0o755, vdir: 0o755, work: 0o777} {
		if err := os.Chmod(d, m); err != nil {
			t.Fatal(err)
		}
	}
	victim = filepath.Join(vdir, "secret")
	if err := os.WriteFile(victim, []byte("root's secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return work, victim
}

// scrAsNobody runs script with sh as uid/gid 65534, with args as $1...
func scrAsNobody(t *testing.T, script string, args ...string) {
	t.Helper()
	cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-euc", script, "sh"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as uid 65534: %s: %v\n%s", script, err, out)
	}
}

func scrVictimIntact(t *testing.T, victim string) {
	t.Helper()
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "root's secret\n" {
		t.Errorf("the victim %s was written: it holds %q", victim, b)
	}
}

// The scratch directory swapped mid-probe (renamed away by another user in
// a world-writable parent without the sticky bit, and replaced by that
// user's directory holding rename-dst, a symbolic link to a root-only file):
// the O_EXCL, link, rename and flock checks went on by path in the
// attacker's directory (truncating and writing the victim through the
// link), and the cleanup's RemoveAll removed the attacker's directory while
// the probe's real scratch directory was left behind. Now every check acts
// on the scratch directory's handle and the cleanup removes only the names
// the probe created, in that handle, and the directory by name only while
// it is still the one the probe made.
func TestProbeScratchSwappedMidProbe(t *testing.T) {
	work, victim := scrHostileWorld(t)
	var scratch string
	swapped := false
	hook := func(step string) {
		if step != "hard-link" || swapped {
			return
		}
		swapped = true
		m, _ := filepath.Glob(filepath.Join(work, ScratchPrefix+"*"))
		if len(m) != 1 {
			t.Errorf("scratch directories at step %s: %v", step, m)
			return
		}
		scratch = m[0]
		scrAsNobody(t, `mv "$1" "$1.moved" && mkdir "$1" && ln -s "$2" "$1/rename-dst" && echo mine > "$1/attacker-file"`, scratch, victim)
	}
	r, err := Probe(context.Background(), work, Options{Samples: 2, step: hook})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if !swapped || scratch == "" {
		t.Fatal("the hook never swapped the scratch directory")
	}
	scrVictimIntact(t, victim)
	if b, err := os.ReadFile(filepath.Join(scratch, "attacker-file")); err != nil || string(b) != "mine\n" {
		t.Errorf("the attacker's directory %s was touched: attacker-file: %q, %v", scratch, b, err)
	}
	if fi, err := os.Lstat(filepath.Join(scratch, "rename-dst")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the attacker's rename-dst was replaced: %v, %v", fi, err)
	}
	// The probe's own directory, renamed away, holds nothing the probe made.
	if names, err := os.ReadDir(scratch + ".moved"); err != nil {
		t.Errorf("the probe's scratch directory, renamed: %v", err)
	} else if len(names) > 0 {
		t.Errorf("left in the probe's own scratch directory: %v", names)
	}
	// The checks ran in the probe's own directory, not the attacker's.
	pr := r.Primitives
	for _, p := range []Primitive{pr.Excl, pr.HardLink, pr.RenameOver, pr.Flock} {
		if !p.Works {
			t.Errorf("a check failed in the probe's own directory: %+v", p)
		}
	}
	t.Logf("warnings: %q", r.Recommendation.Warnings)
	if !slices.ContainsFunc(r.Recommendation.Warnings, func(w string) bool { return strings.Contains(w, scratch) }) {
		t.Errorf("no warning names the scratch directory %s left behind: %q", scratch, r.Recommendation.Warnings)
	}
}

// The cleanup also leaves alone a scratch directory that was swapped at the
// last step, and removes its own otherwise (no warning).
func TestProbeScratchRemovedWhenUnswapped(t *testing.T) {
	work, _ := scrHostileWorld(t)
	r, err := Probe(context.Background(), work, Options{Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	empty(t, work)
	for _, w := range r.Recommendation.Warnings {
		if strings.Contains(w, ScratchPrefix) {
			t.Errorf("unexpected warning: %s", w)
		}
	}
}
