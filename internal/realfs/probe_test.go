//go:build linux

package realfs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/fsprobe"
	"github.com/cryolock-go/cryolock/internal/locktest"
)

func summary(r fsprobe.Report) string {
	rec := r.Recommendation
	var b strings.Builder
	b.WriteString(r.Filesystem.Type)
	b.WriteString(": mtime granularity " + r.MtimeGranularity.String())
	b.WriteString(", attr cache " + r.Filesystem.AttrCache.String() + " [" + r.Filesystem.AttrCacheSource + "]")
	b.WriteString(", dir cache " + r.Filesystem.DirCache.String() + " [" + r.Filesystem.DirCacheSource + "]")
	b.WriteString(", remote " + boolStr(r.Filesystem.Remote))
	b.WriteString(", flock works " + boolStr(r.Primitives.Flock.Works))
	if p := r.Peer; p != nil {
		b.WriteString(", peer: listing lag " + p.ListingLag.String() + ", mtime lag " + p.MtimeLag.String() + ", fresh mtime lag " + p.MtimeFreshLag.String())
		if p.FlockExcludes != nil {
			b.WriteString(", flock excludes peer " + boolStr(*p.FlockExcludes))
		}
	}
	b.WriteString("; recommends lease " + rec.Lease.String() + ", settle " + rec.Settle.String() + ", backoff " + rec.MinBackoff.String() + ".." + rec.MaxBackoff.String() + ", rule " + rec.StaleRule)
	for _, w := range rec.Warnings {
		b.WriteString("\n    warning: " + w)
	}
	return b.String()
}

func boolStr(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// leftovers lists what a probe left in dir (nothing, it must be).
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, n := range locktest.Names(t, dir) {
		if strings.HasPrefix(n, ".cryolock-probe") {
			out = append(out, n)
		}
	}
	return out
}

// TestProbeSSHFS: the single-client probe on an sshfs mount reports
// something else than on the local temporary directory: the sshfs type,
// its cache times (sshfs's default 20 s: it is remote), the 1 s mtime
// granularity of SFTP, and a recommendation that accounts for them.
func TestProbeSSHFS(t *testing.T) {
	d := need(t, "CRYOLOCK_SSHFS_A")
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(d[0], "probe")
	os.RemoveAll(dir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	local, err := fsprobe.Probe(ctx, t.TempDir(), fsprobe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	remote, err := fsprobe.Probe(ctx, dir, fsprobe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logf(t, "local temporary directory: %s", summary(local))
	logf(t, "sshfs (default cache): %s", summary(remote))
	if remote.Filesystem.Type != "fuse.sshfs" || local.Filesystem.Type == remote.Filesystem.Type {
		t.Errorf("filesystem types: local %q, sshfs %q", local.Filesystem.Type, remote.Filesystem.Type)
	}
	if !remote.Filesystem.Remote || remote.Filesystem.DirCache == 0 || remote.Filesystem.AttrCache == 0 {
		t.Errorf("the probe did not see sshfs's caches: remote %v, dir cache %v, attr cache %v",
			remote.Filesystem.Remote, remote.Filesystem.DirCache, remote.Filesystem.AttrCache)
	}
	if remote.Recommendation.Lease <= local.Recommendation.Lease {
		t.Errorf("lease recommended on sshfs (%v) is not above the local one (%v) despite a 20 s attribute cache",
			remote.Recommendation.Lease, local.Recommendation.Lease)
	}
	if l := leftovers(t, dir); len(l) > 0 {
		t.Errorf("the probe left %v in %s", l, dir)
	}
}

// TestProbePeerSSHFS: the two-party probe, one party on each mount of the
// sshfs pair whose caches are cut to 2 s (the default 20 s makes the
// recommended settle about a minute: see FINDINGS.md), measures a non-zero
// listing lag and recommends a settle delay; then the counter test across
// the two mounts passes with exactly the recommended settings.
func TestProbePeerSSHFS(t *testing.T) {
	d := need(t, "CRYOLOCK_SSHFS_FAST_A", "CRYOLOCK_SSHFS_FAST_B", "CRYOLOCK_SSHFS_FAST_BACKING")
	t.Parallel()
	ctx := context.Background()
	sub := "peer"
	os.RemoveAll(filepath.Join(d[2], sub))
	if err := os.Mkdir(filepath.Join(d[2], sub), 0o755); err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		reps [2]fsprobe.Report
		errs [2]error
	)
	start := time.Now()
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = fsprobe.Probe(ctx, filepath.Join(d[i], sub), fsprobe.Options{Peer: true, PeerRounds: 2})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("probe with peer on mount %d: %v", i, err)
		}
	}
	logf(t, "two-party probe took %v", time.Since(start).Round(time.Millisecond))
	for i, r := range reps {
		logf(t, "sshfs (cache_timeout=%s) mount %c with peer: %s", os.Getenv("CRYOLOCK_SSHFS_FAST_CACHE"), 'A'+i, summary(r))
		if r.Peer == nil || r.Peer.ListingLag == 0 {
			t.Errorf("mount %c: the two-party probe measured no listing lag: %+v", 'A'+i, r.Peer)
		}
		if r.Recommendation.Settle == 0 {
			t.Errorf("mount %c: no settle delay recommended despite the listing lag", 'A'+i)
		}
		if r.Peer != nil && r.Peer.FlockExcludes != nil && *r.Peer.FlockExcludes {
			t.Errorf("mount %c: the probe found that flock excludes across the two sshfs mounts", 'A'+i)
		}
	}
	if l := leftovers(t, filepath.Join(d[2], sub)); len(l) > 0 {
		t.Errorf("the probes left %v", l)
	}

	// The counter across the two mounts, each process with its own
	// mount's recommendation.
	rec := reps[0].Recommendation
	if r1 := reps[1].Recommendation; r1.Settle > rec.Settle || r1.Lease > rec.Lease {
		rec = r1 // the more cautious of the two (both are measured)
	}
	c := counterRun{
		Dirs:       []string{filepath.Join(d[0], sub), filepath.Join(d[1], sub)},
		Counter:    filepath.Join(d[2], "peer-counter"),
		Procs:      4, // 2 per mount
		Each:       1, // every acquisition waits the settle delay (≈ 9 s)
		Lease:      rec.Lease.D(),
		Settle:     rec.Settle.D(),
		BackoffMax: rec.MaxBackoff.D(),
		Deadline:   3 * time.Minute,
	}
	os.Remove(c.Counter)
	r := runCounter(t, "peer-counter", c)
	logf(t, "sshfs (cache_timeout=%s) ×2, recommended settings (lease %v, settle %v, backoff ..%v), %d processes × %d: %v",
		os.Getenv("CRYOLOCK_SSHFS_FAST_CACHE"), c.Lease, c.Settle, c.BackoffMax, c.Procs, c.Each, r)
	assertExclusion(t, c, r)
}
