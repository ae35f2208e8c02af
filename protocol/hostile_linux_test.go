package protocol_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

// exchange swaps two paths atomically (renameat2 RENAME_EXCHANGE), as an
// attacker who can write the lock directory's parent would.
func exchange(t *testing.T, a, b string) {
	t.Helper()
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
		t.Skipf("renameat2(RENAME_EXCHANGE) not supported here: %v", err)
	}
}

// listedFS closes first after the first listing.
type listedFS struct {
	protocol.FS
	once  sync.Once
	first chan struct{}
}

func (f *listedFS) ReadDir(d protocol.Dir) ([]protocol.DirEntry, error) {
	ents, err := f.FS.ReadDir(d)
	f.once.Do(func() { close(f.first) })
	return ents, err
}

// plantStale writes a file that looks like a long-dead entry.
func plantStale(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("0.001"), 0o666); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

// TestDirSwappedForSymlinkWhileWaiting: while B waits, the lock directory is
// exchanged with a symbolic link to a victim directory holding a file that
// looks like a dead entry. Before the directory handle, B's next listing
// followed the link: it deleted the victim's file as stale and created its
// entry there. Now B keeps acting on the directory it opened, never touches
// the victim, and refuses a hold in a directory no longer at the lock's path.
func TestDirSwappedForSymlinkWhileWaiting(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a.cryolock")
	victim := filepath.Join(root, "victim")
	if err := os.Mkdir(victim, 0o777); err != nil {
		t.Fatal(err)
	}
	bait := filepath.Join(victim, "x_1.1")
	plantStale(t, bait)
	link := filepath.Join(root, "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 60*time.Second)
	a := newLock(t, dir, protocol.WithLease(30*time.Second), protocol.WithStaleRule(protocol.WallClock))
	if err := a.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	listed := &listedFS{FS: protocol.OSFS(), first: make(chan struct{})}
	b := newLock(t, dir, protocol.WithLease(30*time.Second), protocol.WithStaleRule(protocol.WallClock), protocol.WithFS(listed))
	done := make(chan error, 1)
	go func() { done <- b.Lock(ctx) }()
	<-listed.first         // B has opened the directory and listed it: it waits for A
	exchange(t, link, dir) // dir is now the symlink; the real directory is at link
	if err := a.Unlock(); err != nil && !errors.Is(err, protocol.ErrLost) {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(50 * time.Second):
		t.Fatal("B neither acquired nor failed")
	}
	if err == nil {
		// B may have acquired before the swap was visible to it (it
		// then holds in the directory it opened, which is fine), but it
		// must not have been redirected.
		b.Unlock()
	} else if !errors.Is(err, protocol.ErrReplaced) && !errors.Is(err, protocol.ErrBadPath) {
		t.Fatalf("B: %v, want success or an error wrapping ErrReplaced or ErrBadPath", err)
	}
	if _, err := os.Stat(bait); err != nil {
		t.Fatalf("the victim's file was deleted through the swapped-in symlink: %v", err)
	}
	ents, _ := os.ReadDir(victim)
	if len(ents) != 1 {
		t.Fatalf("entries written into the victim directory: %v", ents)
	}
}

// TestHolderLearnsDirReplaced: a holder whose lock directory is exchanged
// for another directory (where a newcomer could now acquire) is told it
// lost the lock at its next heartbeat, instead of holding on in a directory
// no one else looks at.
func TestHolderLearnsDirReplaced(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a.cryolock")
	other := filepath.Join(root, "other")
	if err := os.Mkdir(other, 0o777); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 60*time.Second)
	a := newLock(t, dir, protocol.WithLease(2*time.Second))
	if err := a.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	exchange(t, other, dir)
	select {
	case <-a.Lost():
	case <-ctx.Done():
		t.Fatal("the holder was never told its directory was replaced")
	}
	if err := a.Unlock(); !errors.Is(err, protocol.ErrLost) || !errors.Is(err, protocol.ErrReplaced) {
		t.Fatalf("Unlock: %v, want ErrLost wrapping ErrReplaced", err)
	}
}

// TestFIFOsNeverBlock: a FIFO where a fencing slot belongs hung the holder in
// open(2) for ever, past its context and with its heartbeat keeping the lock
// held; a FIFO under an entry's name would hang a reader the same way. Opens
// are non-blocking and anything but a regular file is refused.
func TestFIFOsNeverBlock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	if err := os.MkdirAll(filepath.Join(dir, protocol.MetaDir), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, protocol.MetaDir, "fence.a"), 0o666); err != nil {
		t.Fatal(err)
	}
	l := newLock(t, dir, protocol.WithFencing(protocol.FencingSlots))
	done := make(chan error, 1)
	go func() { done <- l.Lock(context.Background()) }()
	select {
	case err := <-done:
		if !errors.Is(err, protocol.ErrNotRegular) {
			t.Fatalf("Lock with a FIFO fencing slot: %v, want ErrNotRegular", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Lock blocked on a FIFO planted as a fencing slot")
	}
	if names := locktest.Names(t, dir); len(names) != 1 {
		t.Fatalf("entries left: %v", names)
	}

	// The primitive itself, on an entry name.
	fsys := protocol.OSFS()
	d, err := fsys.OpenDir(nil, dir, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := syscall.Mkfifo(filepath.Join(dir, "x_1.1"), 0o666); err != nil {
		t.Fatal(err)
	}
	rd := make(chan error, 1)
	go func() { _, _, err := fsys.ReadFile(d, "x_1.1"); rd <- err }()
	select {
	case err := <-rd:
		if !errors.Is(err, protocol.ErrNotRegular) {
			t.Fatalf("ReadFile of a FIFO: %v, want ErrNotRegular", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ReadFile blocked on a FIFO")
	}
	if err := fsys.WriteFile(d, "x_1.1", []byte("10"), 0o666); !errors.Is(err, protocol.ErrNotRegular) {
		t.Fatalf("WriteFile over a FIFO: %v, want ErrNotRegular", err)
	}
}

// TestMetaSymlinkNotFollowed: .meta flipped from a directory to a symbolic
// link to a victim directory, between the holder's last listing and its
// fencing write, made the write overwrite victim/fence.a. .meta is opened
// relative to the lock directory without following links.
func TestMetaSymlinkNotFollowed(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a.cryolock")
	victim := filepath.Join(root, "victim")
	if err := os.MkdirAll(victim, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, protocol.MetaDir), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victim, "fence.a"), []byte("precious"), 0o666); err != nil {
		t.Fatal(err)
	}
	flip := &flipFS{FS: protocol.OSFS(), flip: func() {
		meta := filepath.Join(dir, protocol.MetaDir)
		if err := os.Remove(meta); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(victim, meta); err != nil {
			t.Error(err)
		}
	}}
	l := newLock(t, dir, protocol.WithFencing(protocol.FencingSlots), protocol.WithFS(flip))
	err := l.Lock(ctxT(t, 30*time.Second))
	if !errors.Is(err, protocol.ErrBadPath) {
		t.Fatalf("Lock with .meta flipped to a symlink: %v, want ErrBadPath", err)
	}
	if b, _ := os.ReadFile(filepath.Join(victim, "fence.a")); string(b) != "precious" {
		t.Fatalf("victim/fence.a overwritten: %q", b)
	}
	if ents, _ := os.ReadDir(victim); len(ents) != 1 {
		t.Fatalf("files written into the victim directory: %v", ents)
	}
}

// flipFS runs flip once, just before the first open of a subdirectory.
type flipFS struct {
	protocol.FS
	once sync.Once
	flip func()
}

func (f *flipFS) OpenDir(parent protocol.Dir, name string, create bool, perm os.FileMode) (protocol.Dir, error) {
	if parent != nil {
		f.once.Do(f.flip)
	}
	return f.FS.OpenDir(parent, name, create, perm)
}
