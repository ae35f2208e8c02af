package protocol_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

func TestInspect(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a.cryolock")

	snap, err := protocol.Inspect(ctx, dir)
	if err != nil || snap.Exists || len(snap.Entries) != 0 {
		t.Fatalf("missing dir: %+v, %v; want Exists false and no entries", snap, err)
	}

	l := newLock(t, dir, protocol.WithLease(7*time.Second))
	if err := l.Lock(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	for name, content := range map[string]string{
		"junk.txt":     "x",
		"other.-5":     "",
		"garbage.12":   "hello",
		"forever.2000": "None",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".meta"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", filepath.Join(dir, "link.3")); err != nil {
		t.Fatal(err)
	}
	wantForeign, wantEntries := []string{"garbage.12", "junk.txt", "link.3"}, 7
	if fi, err := os.Lstat(filepath.Join(dir, "link.3")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		// Wine 8 hides a dangling host symbolic link from every listing.
		t.Logf("the dangling symbolic link is invisible here (%v): not expected in the listing", err)
		wantForeign, wantEntries = wantForeign[:2], 6
	}

	snap, err = protocol.Inspect(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Exists || snap.Now.IsZero() {
		t.Fatalf("Exists %v, Now %v", snap.Exists, snap.Now)
	}
	byName := map[string]protocol.Entry{}
	for i, e := range snap.Entries {
		byName[e.Name] = e
		if i > 0 && snap.Entries[i-1].Ticket > e.Ticket {
			t.Errorf("entries not sorted by ticket: %+v", snap.Entries)
		}
	}
	if len(snap.Entries) != 3 {
		t.Errorf("entries %+v, want ours, other.-5 and forever.2000", snap.Entries)
	}
	if e := byName[l.Name()]; !e.LeaseKnown || e.Lease.D != 7*time.Second || e.ModTime.IsZero() {
		t.Errorf("own entry %+v, want a known 7s lease", e)
	}
	if e := byName["other.-5"]; e.LeaseKnown || e.Ticket != -5 || e.Owner != "other" {
		t.Errorf("empty entry %+v, want present with an unknown lease", e)
	}
	if e := byName["forever.2000"]; !e.LeaseKnown || !e.Lease.Forever {
		t.Errorf("None entry %+v, want a forever lease", e)
	}
	var foreign []string
	for _, f := range snap.Foreign {
		foreign = append(foreign, f.Name)
		if f.Reason == "" {
			t.Errorf("foreign %s without a reason", f.Name)
		}
	}
	if !slices.Equal(foreign, wantForeign) {
		t.Errorf("foreign %v, want %v", foreign, wantForeign)
	}
	if want := []string{".meta"}; !slices.Equal(snap.Ignored, want) {
		t.Errorf("ignored %v, want %v", snap.Ignored, want)
	}
	// Inspect changed nothing.
	if got := len(locktest.Names(t, dir)); got != wantEntries {
		t.Errorf("lock dir holds %d entries after Inspect, want %d", got, wantEntries)
	}
}

func TestInspectBadPath(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	if _, err := protocol.Inspect(ctx, filepath.Join(tmp, "a.lock")); !errors.Is(err, protocol.ErrBadPath) {
		t.Errorf("wrong suffix: %v, want ErrBadPath", err)
	}
	file := filepath.Join(tmp, "f.cryolock")
	if err := os.WriteFile(file, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.Inspect(ctx, file); !errors.Is(err, protocol.ErrBadPath) {
		t.Errorf("regular file: %v, want ErrBadPath", err)
	}
}

// TestInspectSaysWhoHolds: the snapshot answers "who holds it?" as the CLI
// prints it — two readers sharing hold together, a waiting writer contends,
// and host and pid come from the owner names.
func TestInspectSaysWhoHolds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	ctx := ctxT(t, 30*time.Second)
	var readers []*protocol.Lock
	for range 2 {
		r := newLock(t, dir, protocol.WithShared())
		if err := r.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		defer r.Unlock()
		readers = append(readers, r)
	}
	snap, err := protocol.Inspect(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	h := snap.Holders()
	if len(h) != 2 || !h[0].Shared || !h[1].Shared || len(snap.Contenders()) != 0 || len(snap.Stale()) != 0 {
		t.Fatalf("holders %+v contenders %+v stale %+v, want both readers holding", h, snap.Contenders(), snap.Stale())
	}
	host, _ := os.Hostname()
	for _, e := range h {
		if e.Pid != os.Getpid() || !strings.HasPrefix(host, e.Host) || !e.Live || e.Age < 0 {
			t.Fatalf("entry %+v: want this process (%s/%d), live", e, host, os.Getpid())
		}
	}
}
