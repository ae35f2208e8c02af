package protocol_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// A hard link planted at a fencing slot's name is another name for a file
// the library did not create (here outside the lock directory): the slot's
// write must refuse it, not truncate and overwrite that file.
func TestWriteFileRefusesHardLink(t *testing.T) {
	root := t.TempDir()
	victim := filepath.Join(root, "victim.conf")
	const precious = "precious data\n"
	if err := os.WriteFile(victim, []byte(precious), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "a.cryolock")
	meta := filepath.Join(dir, protocol.MetaDir)
	if err := os.MkdirAll(meta, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(victim, filepath.Join(meta, "fence.a")); err != nil {
		t.Fatal(err)
	}

	// The FS call itself.
	fsys := protocol.OSFS()
	d, err := fsys.OpenDir(nil, meta, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = fsys.WriteFile(d, "fence.a", []byte("x"), 0o666)
	if !errors.Is(err, protocol.ErrNotRegular) {
		t.Errorf("WriteFile over a hard link: %v, want ErrNotRegular", err)
	}

	// And through the lock: Lock fails naming the slot, the file is intact.
	l, err := protocol.New(dir, protocol.WithFencing(protocol.FencingSlots))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.Lock(ctx); err == nil {
		tok := l.Token()
		l.Unlock()
		t.Errorf("Lock with a hard-linked fencing slot succeeded (token %d)", tok)
	} else if !errors.Is(err, protocol.ErrNotRegular) {
		t.Errorf("Lock: %v, want an error wrapping ErrNotRegular", err)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != precious {
		t.Errorf("the file behind the hard link: %q, %v; want it untouched (%q)", b, err, precious)
	}
}

// Sockets and directories are not regular files: ReadFile and WriteFile say
// so with ErrNotRegular, as they do for FIFOs and symbolic links.
func TestSocketAndDirNotRegular(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	if err := os.MkdirAll(filepath.Join(dir, "sub_1.1"), 0o777); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "sock_1.1"))
	if err != nil {
		t.Skipf("no unix socket here: %v", err)
	}
	defer ln.Close()
	fsys := protocol.OSFS()
	d, err := fsys.OpenDir(nil, dir, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, _, err := fsys.ReadFile(d, "sock_1.1"); !errors.Is(err, protocol.ErrNotRegular) {
		t.Errorf("ReadFile of a socket: %v, want ErrNotRegular", err)
	}
	if err := fsys.WriteFile(d, "sock_1.1", []byte("x"), 0o666); !errors.Is(err, protocol.ErrNotRegular) {
		t.Errorf("WriteFile over a socket: %v, want ErrNotRegular", err)
	}
	if err := fsys.WriteFile(d, "sub_1.1", []byte("x"), 0o666); !errors.Is(err, protocol.ErrNotRegular) {
		t.Errorf("WriteFile over a directory: %v, want ErrNotRegular", err)
	}
}

// OpenDir never follows a symbolic link in the final component, with a
// trailing slash too (the kernel follows "link/" whatever O_NOFOLLOW says).
func TestOpenDirTrailingSlashSymlink(t *testing.T) {
	root := t.TempDir()
	victim := filepath.Join(root, "victim")
	if err := os.Mkdir(victim, 0o777); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "l.cryolock")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, link + "/", link + "//", link + "/."} {
		d, err := protocol.OSFS().OpenDir(nil, p, false, 0)
		if err == nil {
			d.Close()
			t.Errorf("OpenDir(%q) opened the directory the symbolic link points to", p)
		}
	}
}
