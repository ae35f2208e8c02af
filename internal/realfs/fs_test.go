//go:build linux

package realfs_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuseTimeout is the entry/attribute timeout the FUSE mounts were started
// with (scripts/up.sh: CRYOLOCK_FUSE_TIMEOUT, default 2s).
func fuseTimeout(t *testing.T) time.Duration {
	d, err := time.ParseDuration(os.Getenv("CRYOLOCK_FUSE_TIMEOUT"))
	if err != nil || d <= 0 {
		return 2 * time.Second
	}
	return d
}

// TestFUSECounter: 6 processes, 3 through each of two FUSE mounts of one
// backing directory (2 s kernel caches, cached listings), take the lock and
// increment a counter.
//
// Settings, derived (see FINDINGS.md): a cached mtime is at most the
// attribute timeout T old, so a live holder (refreshing every ≤ lease/2)
// can show one mtime for up to lease/2 + T; the Observed rule calls it stale
// after a lease of it, so the lease must exceed 2T: 4T here. Settle 0: the
// listing that follows a contender's own create is never served from a
// cache (TestOwnCreateRefreshesListing checks it), which is all that
// create-then-list needs.
func TestFUSECounter(t *testing.T) {
	dirs := need(t, "CRYOLOCK_FUSE_A", "CRYOLOCK_FUSE_B", "CRYOLOCK_FUSE_BACKING")
	T := fuseTimeout(t)
	c := counterRun{
		Dirs:       dirs[:2],
		Counter:    filepath.Join(dirs[2], "fuse-counter"),
		Procs:      6,
		Each:       25,
		Lease:      4 * T,
		Settle:     0,
		BackoffMax: 20 * time.Millisecond,
	}
	os.Remove(c.Counter)
	r := runCounter(t, "fuse-counter", c)
	logf(t, "FUSE (attr/entry timeout %v, cached listings), 2 mounts, %d processes × %d, lease %v, settle %v: %v",
		T, c.Procs, c.Each, c.Lease, c.Settle, r)
	assertExclusion(t, c, r)
	if l := lockLitter(t, dirs[2], "fuse-counter"); len(l) != 0 {
		t.Errorf("litter after all released: %v", l)
	}
}

// TestSSHFSCounter: 4 processes, 2 through each sshfs mount (default
// caches: sshfs keeps attributes and listings 20 s), take the lock.
//
// Settings, derived (see FINDINGS.md): through the other mount a live
// holder's mtime can be served from sshfs's cache for up to 20 s plus the
// kernel's 1 s, so the lease must exceed 2 × 21 s: 60 s here. Settle 0: a
// contender's own create purges its mount's cached listing of the
// directory, so the listing that follows it is fresh.
func TestSSHFSCounter(t *testing.T) {
	dirs := need(t, "CRYOLOCK_SSHFS_A", "CRYOLOCK_SSHFS_B", "CRYOLOCK_SSHFS_BACKING")
	t.Parallel() // mostly waiting out sshfs's 20 s cache
	c := counterRun{
		Dirs:       dirs[:2],
		Counter:    filepath.Join(dirs[2], "sshfs-counter"),
		Procs:      4,
		Each:       8,
		Lease:      60 * time.Second,
		Settle:     0,
		BackoffMax: 50 * time.Millisecond,
	}
	os.Remove(c.Counter)
	r := runCounter(t, "sshfs-counter", c)
	logf(t, "sshfs ×2 (default cache), %d processes × %d, lease %v, settle %v: %v", c.Procs, c.Each, c.Lease, c.Settle, r)
	assertExclusion(t, c, r)
	if l := lockLitter(t, dirs[2], "sshfs-counter"); len(l) != 0 {
		t.Errorf("litter after all released: %v", l)
	}
}

func fuseLagTTL() time.Duration {
	d, err := time.ParseDuration(os.Getenv("CRYOLOCK_FUSELAG_TTL"))
	if err != nil || d <= 0 {
		return time.Second
	}
	return d
}

// TestFUSELagCounter: 4 processes, 2 through each of two mounts of the FUSE
// filesystem in its eventually-consistent-listing mode (each mount lists
// from a snapshot refreshed every TTL = 1 s; its own create does not
// refresh what it sees of the other mount's entries).
//
// Settings, derived: a listing taken Settle after a contender's own create
// comes from a snapshot less than TTL old, hence taken after that create,
// when Settle ≥ TTL: Settle = 1.5 × TTL. The lease must exceed 4 × Settle
// (the protocol's rule) and 2 × the 1 s attribute timeout: 8 s.
// TestExperimentFUSELagSettle0 shows the same run with settle 0 failing.
func TestFUSELagCounter(t *testing.T) {
	d := need(t, "CRYOLOCK_FUSELAG_A", "CRYOLOCK_FUSELAG_B", "CRYOLOCK_FUSELAG_BACKING")
	t.Parallel() // mostly settling
	ttl := fuseLagTTL()
	c := counterRun{
		Dirs:       d[:2],
		Counter:    filepath.Join(d[2], "fuselag-counter"),
		Procs:      4,
		Each:       5,
		Settle:     ttl * 3 / 2,
		Lease:      max(8*time.Second, 5*ttl*3/2),
		BackoffMax: 20 * time.Millisecond,
	}
	os.Remove(c.Counter)
	r := runCounter(t, "fuselag-counter", c)
	logf(t, "FUSE, eventually consistent listings (TTL %v), 2 mounts, %d processes × %d, lease %v, settle %v: %v",
		ttl, c.Procs, c.Each, c.Lease, c.Settle, r)
	assertExclusion(t, c, r)
	if l := lockLitter(t, d[2], "fuselag-counter"); len(l) != 0 {
		t.Errorf("litter after all released: %v", l)
	}
}
