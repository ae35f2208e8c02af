//go:build unix

package fsprobe

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// plantCache probes lockDir once with Cached and rewrites its cache file
// with the report edited by edit, owned by uid (unless negative).
func plantCache(t *testing.T, lockDir string, uid int, edit func(*Report)) Report {
	t.Helper()
	r, err := Cached(context.Background(), lockDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Primitives.RenameOver.Works {
		t.Skipf("rename-over does not work in %s: nothing is cached", lockDir)
	}
	host, _ := os.Hostname()
	path := CachePath(lockDir, host)
	edit(&r)
	b, _ := json.Marshal(r)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if uid >= 0 {
		if err := os.Chown(path, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// TestCachedRefusesOtherUsersReport: a cache file another user owns is not
// used: Cached probes again.
func TestCachedRefusesOtherUsersReport(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the cache file to another user")
	}
	lockDir := filepath.Join(t.TempDir(), "x.cryolock")
	planted := plantCache(t, lockDir, 65534, func(r *Report) {
		r.Started = time.Now().Add(-time.Minute).Round(0)
		r.Filesystem.DirCache = 0
	})
	r, err := Cached(context.Background(), lockDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Started.Equal(planted.Started) {
		t.Errorf("the report of uid 65534 was used (started %v)", r.Started)
	}
	// Owned by root: used.
	other := filepath.Join(t.TempDir(), "y.cryolock")
	own := plantCache(t, other, 0, func(r *Report) { r.Started = time.Now().Add(-time.Minute).Round(0) })
	if r, err := Cached(context.Background(), other, Options{}); err != nil || !r.Started.Equal(own.Started) {
		t.Errorf("root's report was not used (started %v, %v)", r.Started, err)
	}
}

// TestCachedIdentifiesAnew: the filesystem fields of a cached report
// (remote, cache times) are those identified now, not the file's, and the
// recommendation follows them.
func TestCachedIdentifiesAnew(t *testing.T) {
	lockDir := filepath.Join(t.TempDir(), "x.cryolock")
	planted := plantCache(t, lockDir, -1, func(r *Report) {
		r.Started = time.Now().Add(-time.Minute).Round(0)
		r.Filesystem.Remote = !r.Filesystem.Remote
		r.Filesystem.DirCache, r.Filesystem.DirCacheSource = Duration(time.Hour), "planted"
		r.Filesystem.AttrCache, r.Filesystem.AttrCacheSource = Duration(time.Hour), "planted"
	})
	r, err := Cached(context.Background(), lockDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Started.Equal(planted.Started) {
		t.Fatalf("the cache was not used (started %v, planted %v)", r.Started, planted.Started)
	}
	real, _ := filepath.EvalSymlinks(lockDir)
	live := identify(real)
	if r.Filesystem.Remote != live.Remote || r.Filesystem.DirCache != live.DirCache || r.Filesystem.AttrCache != live.AttrCache || r.Filesystem.DirCacheSource == "planted" {
		t.Errorf("filesystem from the file: %+v, identified now: %+v", r.Filesystem, live)
	}
	if want := Recommend(Report{Filesystem: live, Primitives: r.Primitives, Listing: r.Listing, MtimeGranularity: r.MtimeGranularity, ClockSkew: r.ClockSkew}); r.Recommendation.Settle != want.Settle || r.Recommendation.Lease != want.Lease {
		t.Errorf("recommendation %v / %v, want %v / %v", r.Recommendation.Settle, r.Recommendation.Lease, want.Settle, want.Lease)
	}
}
