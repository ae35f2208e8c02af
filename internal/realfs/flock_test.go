//go:build linux

package realfs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gofrs/flock"
)

// flockPair takes a gofrs/flock lock on pathA, then tries the same lock on
// pathB, and reports whether the second one got in too.
func flockPair(t *testing.T, pathA, pathB string) (bothHeld bool) {
	t.Helper()
	a, b := flock.New(pathA), flock.New(pathB)
	okA, err := a.TryLock()
	if err != nil || !okA {
		t.Fatalf("flock through %s: %v, %v", pathA, okA, err)
	}
	defer a.Unlock()
	okB, err := b.TryLock()
	if err != nil {
		t.Fatalf("flock through %s: %v", pathB, err)
	}
	if okB {
		b.Unlock()
	}
	return okB
}

// TestFlockAcrossMounts: flock (gofrs/flock) excludes through one path, and
// lets two holders in through two mounts of one directory — sshfs and our
// FUSE filesystem keep flock local to each mount's inodes. This is what
// flock-based libraries silently get on such filesystems.
func TestFlockAcrossMounts(t *testing.T) {
	// Control: the local disk, one path, two open file descriptions.
	local := filepath.Join(t.TempDir(), "f.lock")
	if flockPair(t, local, local) {
		t.Fatalf("control failed: two flock holders on the local disk (%s)", local)
	}
	logf(t, "local disk: flock excludes (second TryLock refused)")

	cases := []struct{ name, a, b, backing string }{
		{"sshfs", "CRYOLOCK_SSHFS_A", "CRYOLOCK_SSHFS_B", "CRYOLOCK_SSHFS_BACKING"},
		{"fuse", "CRYOLOCK_FUSE_A", "CRYOLOCK_FUSE_B", "CRYOLOCK_FUSE_BACKING"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := need(t, c.a, c.b, c.backing)
			name := "flock-" + c.name + ".lock"
			if err := os.WriteFile(filepath.Join(d[2], name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(filepath.Join(d[2], name))
			pa, pb := filepath.Join(d[0], name), filepath.Join(d[1], name)
			same := flockPair(t, pa, pa)
			cross := flockPair(t, pa, pb)
			backing := flockPair(t, pa, filepath.Join(d[2], name))
			logf(t, "%s: same mount twice: second holder %v; mount A + mount B: second holder %v; mount A + backing directory: second holder %v",
				c.name, same, cross, backing)
			if same {
				t.Errorf("%s: flock did not exclude even within one mount", c.name)
			}
			if !cross {
				t.Errorf("%s: flock excluded across two mounts; expected two holders (the reason this lock exists)", c.name)
			}
		})
	}
}
