//go:build unix

package protocol

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// estaleFS answers ESTALE (as the OS filesystem maps it) for every read and
// stat of an entry: a server failover. (The contender never reads its own.)
type estaleFS struct{ FS }

func (f estaleFS) ReadFile(d Dir, name string) ([]byte, FileInfo, error) {
	return nil, FileInfo{}, mapErr(&fs.PathError{Op: "open", Path: name, Err: syscall.ESTALE})
}

func (f estaleFS) Stat(d Dir, name string) (FileInfo, error) {
	return FileInfo{}, mapErr(&fs.PathError{Op: "lstat", Path: name, Err: syscall.ESTALE})
}

// TestESTALEIsNotGoneWhileJudging: a listed entry that answers ESTALE must
// not be judged gone — on a failover a live holder's entry can — so a
// contender fails its attempt instead of holding beside the holder (A0c).
func TestESTALEIsNotGoneWhileJudging(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Unlock()
	b, err := New(dir, WithFS(estaleFS{OSFS()}))
	if err != nil {
		t.Fatal(err)
	}
	ok, err := b.TryLock(ctx)
	if ok {
		b.Unlock()
		t.Fatal("TryLock held beside a live holder whose entry answered ESTALE")
	}
	if err == nil || !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("TryLock: %v, want an error wrapping ESTALE", err)
	}
}
