package fsprobe

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBindMount probes a bind mount of a directory and runs the two-party
// mode across the original path and the bind mount (one kernel, so the
// listing lag is only the polling, but two mount entries).
func TestBindMount(t *testing.T) {
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	os.Mkdir(src, 0o777)
	os.Mkdir(dst, 0o777)
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount (needs root or a mount namespace): %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dst, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dst, err)
		}
	})
	r, err := Probe(context.Background(), dst, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkUsable(t, r)
	m := r.Filesystem.Mount
	if m == nil || m.MountPoint != dst || m.Root == "/" {
		t.Errorf("bind mount entry %+v, want mount point %s with a root other than /", m, dst)
	}
	reps := runPeers(t, [2]string{src, dst}, [2]Options{{PeerTimeout: 20 * time.Second}, {PeerTimeout: 20 * time.Second}})
	for i, p := range reps {
		if p.Rounds != DefaultPeerRounds {
			t.Errorf("side %d: %d rounds", i, p.Rounds)
		}
		t.Logf("side %d: listing lag %v, mtime lag %v", i, p.ListingLag, p.MtimeLag)
	}
	empty(t, src)
}
