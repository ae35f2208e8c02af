package protocol

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// wrongTypeFS lists every name as a regular file, and adds one name that
// does not exist: a listing whose types are wrong or stale, as an SMB
// client's can be.
type wrongTypeFS struct{ FS }

func (f wrongTypeFS) ReadDir(d Dir) ([]DirEntry, error) {
	ents, err := f.FS.ReadDir(d)
	for i := range ents {
		ents[i].Type = 0
	}
	return append(ents, DirEntry{Name: "gone-since-listed"}), err
}

// TestForeignVerdictChecksType: a name that does not parse is foreign only
// if an lstat agrees it is not a directory: a subdirectory listed as a file
// (another waiter's wake directory on an SMB mount) and a name gone since
// the listing are ignored, by the lock and by Inspect; a file is still
// foreign.
func TestForeignVerdictChecksType(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	if err := os.MkdirAll(filepath.Join(dir, "a-subdirectory"), 0o777); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := New(dir, WithFS(wrongTypeFS{OSFS()}))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Lock(ctx); err != nil {
		t.Fatalf("Lock beside a subdirectory listed as a file: %v", err)
	}
	snap, err := Inspect(ctx, dir, WithFS(wrongTypeFS{OSFS()}))
	if err != nil || len(snap.Foreign) != 0 {
		t.Fatalf("Inspect: foreign %v, %v; want none", snap.Foreign, err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junk"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := l.Lock(ctx); !errors.Is(err, ErrForeign) {
		t.Fatalf("Lock beside a junk file: %v, want ErrForeign", err)
	}
}
