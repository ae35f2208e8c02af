//go:build linux

package realfs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
)

// The cache tests measure what each pair of mounts does and log it; they
// assert only what the lock relies on (a contender's own create refreshes
// its listing), never a timing.

type mountPair struct{ name, a, b, backing string }

var pairs = []mountPair{
	{"sshfs", "CRYOLOCK_SSHFS_A", "CRYOLOCK_SSHFS_B", "CRYOLOCK_SSHFS_BACKING"},
	{"fuse", "CRYOLOCK_FUSE_A", "CRYOLOCK_FUSE_B", "CRYOLOCK_FUSE_BACKING"},
}

func listed(t *testing.T, dir, name string) bool {
	t.Helper()
	return slices.Contains(locktest.Names(t, dir), name)
}

func mtime(t *testing.T, path string) time.Time {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// waitFor polls cond every 20 ms for at most limit and returns how long it
// took to hold (or -1 if it never did).
func waitFor(limit time.Duration, cond func() bool) time.Duration {
	t0 := time.Now()
	for time.Since(t0) < limit {
		if cond() {
			return time.Since(t0)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return -1
}

// TestOwnCreateRefreshesListing: on both pairs of mounts, a listing through
// mount B that follows a create through mount B shows every file created
// (through mount A) before it, even while B's cached listing is stale. This
// is what makes create-then-list safe with settle 0 on these filesystems.
func TestOwnCreateRefreshesListing(t *testing.T) {
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			d := need(t, p.a, p.b, p.backing)
			sub := fmt.Sprintf("own-create-%d", time.Now().UnixNano())
			if err := os.Mkdir(filepath.Join(d[2], sub), 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(filepath.Join(d[2], sub))
			a, b := filepath.Join(d[0], sub), filepath.Join(d[1], sub)
			stale := 0
			for i := 0; i < 20; i++ {
				listed(t, b, "") // prime B's listing cache
				other := fmt.Sprintf("a%d", i)
				if err := os.WriteFile(filepath.Join(a, other), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if !listed(t, b, other) {
					stale++ // B's listing is cached: A's file is not seen yet
				}
				if err := os.WriteFile(filepath.Join(b, fmt.Sprintf("b%d", i)), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if !listed(t, b, other) {
					t.Fatalf("%s: after its own create, mount B's listing still lacks %s created before through mount A", p.name, other)
				}
			}
			logf(t, "%s: 20 rounds: B's cached listing missed A's new file %d times; after B's own create, never", p.name, stale)
		})
	}
}

// TestCacheLag measures, through the second mount, how long a create, a
// removal and an explicit mtime set through the first mount take to show,
// and what forces a fresh mtime: opening the file, and opening it then
// waiting out the kernel's attribute timeout.
func TestCacheLag(t *testing.T) {
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			d := need(t, p.a, p.b, p.backing)
			t.Parallel()
			sub := fmt.Sprintf("lag-%d", time.Now().UnixNano())
			if err := os.Mkdir(filepath.Join(d[2], sub), 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(filepath.Join(d[2], sub))
			a, b := filepath.Join(d[0], sub), filepath.Join(d[1], sub)
			const limit = 40 * time.Second

			listed(t, b, "")
			if err := os.WriteFile(filepath.Join(a, "f"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			create := waitFor(limit, func() bool { return listed(t, b, "f") })
			if err := os.Remove(filepath.Join(a, "f")); err != nil {
				t.Fatal(err)
			}
			remove := waitFor(limit, func() bool { return !listed(t, b, "f") })

			// Attributes: a file B has looked at, its mtime set through A.
			g := "g"
			if err := os.WriteFile(filepath.Join(a, g), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			waitFor(limit, func() bool { _, err := os.Stat(filepath.Join(b, g)); return err == nil })
			mtime(t, filepath.Join(b, g))
			want := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
			if err := os.Chtimes(filepath.Join(a, g), want, want); err != nil {
				t.Fatal(err)
			}
			statFresh := mtime(t, filepath.Join(b, g)).Equal(want)
			if _, err := os.ReadFile(filepath.Join(b, g)); err != nil {
				t.Fatal(err)
			}
			openFresh := mtime(t, filepath.Join(b, g)).Equal(want)
			attr := waitFor(limit, func() bool { return mtime(t, filepath.Join(b, g)).Equal(want) })

			// Again, now opening the file and waiting for the kernel's
			// attribute timeout (1 s: sshfs's default; the FUSE
			// mounts' CRYOLOCK_FUSE_TIMEOUT) before the stat.
			kernel := time.Second
			if p.name == "fuse" {
				kernel = fuseTimeout(t)
			}
			want2 := want.Add(time.Hour)
			mtime(t, filepath.Join(b, g))
			if err := os.Chtimes(filepath.Join(a, g), want2, want2); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			if _, err := os.ReadFile(filepath.Join(b, g)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(kernel + 100*time.Millisecond)
			openWaitFresh := mtime(t, filepath.Join(b, g)).Equal(want2)

			logf(t, "%s, seen through the other mount: create listed after %v, removal unlisted after %v, new mtime seen after %v; "+
				"fresh mtime by stat at once: %v; by open+read then stat: %v; by open+read, wait %v, stat: %v",
				p.name, create.Round(10*time.Millisecond), remove.Round(10*time.Millisecond), attr.Round(10*time.Millisecond),
				statFresh, openFresh, kernel+100*time.Millisecond, openWaitFresh)
		})
	}
}
