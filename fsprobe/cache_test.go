package fsprobe

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

func TestCached(t *testing.T) {
	if !canCache {
		t.Skip("no report cache on this platform")
	}
	ctx := context.Background()
	lockDir := filepath.Join(t.TempDir(), "x.cryolock")
	r1, err := Cached(ctx, lockDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Primitives.RenameOver.Works {
		t.Skipf("rename-over does not work in %s: nothing is cached", lockDir)
	}
	host, _ := os.Hostname()
	if _, err := os.Stat(CachePath(lockDir, host)); err != nil {
		t.Fatalf("no cache file: %v", err)
	}
	// Only the cache is left in the lock directory.
	ents, _ := os.ReadDir(lockDir)
	if len(ents) != 1 || ents[0].Name() != MetaDir {
		t.Errorf("lock directory holds %v", ents)
	}
	r2, err := Cached(ctx, lockDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Started.Equal(r1.Started) || r2.Recommendation.Lease != r1.Recommendation.Lease {
		t.Errorf("second call probed again (started %v, first %v)", r2.Started, r1.Started)
	}
	// Expired: probe again and replace the cache.
	r3, err := Cached(ctx, lockDir, Options{CacheMaxAge: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Started.Equal(r1.Started) {
		t.Error("an expired cache was used")
	}
	r4, _ := Cached(ctx, lockDir, Options{})
	if !r4.Started.Equal(r3.Started) {
		t.Error("the cache was not replaced")
	}
	// A corrupt cache is ignored.
	os.WriteFile(CachePath(lockDir, host), []byte("{"), 0o666)
	if r5, err := Cached(ctx, lockDir, Options{}); err != nil || r5.Started.Equal(r3.Started) {
		t.Errorf("corrupt cache: %v", err)
	}

	// The lock works next to its .meta directory, configured by the report.
	l, err := protocol.New(lockDir, WithReport(r4))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestCachePath(t *testing.T) {
	if got := CachePath("/l/x.cryolock", "a b/c"); got != filepath.Join("/l/x.cryolock", ".meta", "fsprobe-a_b_c.json") {
		t.Errorf("got %s", got)
	}
}
