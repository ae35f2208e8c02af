package protocol_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
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

	// And through the lock, with hard links at an earlier layout's slot
	// (read, never written) and at a token file's name (counted, then
	// removed as superseded: the name goes, the file behind it stays).
	if err := os.Link(victim, filepath.Join(meta, "fence.7")); err != nil {
		t.Fatal(err)
	}
	l, err := protocol.New(dir, protocol.WithFencing(protocol.FencingSlots))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.Lock(ctx); err != nil && !errors.Is(err, protocol.ErrNotRegular) {
		t.Errorf("Lock: %v, want success or an error wrapping ErrNotRegular", err)
	} else if err == nil {
		if tok := l.Token(); tok != 8 {
			t.Errorf("token %d beside a file named fence.7, want 8", tok)
		}
		l.Unlock()
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

// A hard link planted under an entry's name, to a short file that is not a
// lease (someone else's secret, say): the foreign-entry error names it
// without quoting its content.
func TestHardLinkedEntryContentNotShown(t *testing.T) {
	root := t.TempDir()
	secret := filepath.Join(root, "secret")
	const content = "root:SECRETHASH:19000:0:99999:7:::\n"
	if err := os.WriteFile(secret, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "a.cryolock")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(secret, filepath.Join(dir, "evil_1_abcdefghijkl.5")); err != nil {
		t.Fatal(err)
	}
	l, err := protocol.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = tryForeign(ctx, t, l)
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the error quotes a hard-linked file's content: %v", err)
	}
	snap, err := protocol.Inspect(ctx, dir)
	if err != nil && !errors.Is(err, protocol.ErrForeign) {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%+v %v", snap, err); strings.Contains(s, "SECRET") {
		t.Errorf("Inspect quotes a hard-linked file's content: %s", s)
	}
}

// swapFS replaces the entry target with a symbolic link just before its
// first read (after the listing saw a regular file).
type swapFS struct {
	protocol.FS
	dir, target string
	done        bool
}

func (f *swapFS) ReadFile(d protocol.Dir, name string) ([]byte, protocol.FileInfo, error) {
	if name == f.target && !f.done {
		f.done = true
		p := filepath.Join(f.dir, name)
		if err := os.Remove(p); err == nil {
			os.Symlink("/etc/passwd", p)
		}
	}
	return f.FS.ReadFile(d, name)
}

// An entry swapped for a symbolic link between the listing and its read is
// foreign, and the message says what the open met, not a regular file's
// zero mode.
func TestSwappedEntryReason(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	const target = "other_1_abcdefghijkl.5"
	if err := os.WriteFile(filepath.Join(dir, target), []byte("10"), 0o666); err != nil {
		t.Fatal(err)
	}
	l, err := protocol.New(dir, protocol.WithFS(&swapFS{FS: protocol.OSFS(), dir: dir, target: target}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = tryForeign(ctx, t, l)
	if msg := err.Error(); strings.Contains(msg, "(----------)") || !strings.Contains(msg, "symbolic link") {
		t.Errorf("TryLock's error does not say a symbolic link was met: %v", err)
	}
}

// Reads are bounded: a huge file planted under an entry's name (sparse
// here, 1 GiB) is read to at most MaxRead+1 bytes, and reported foreign.
func TestHugeEntryReadBounded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a.cryolock")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	const name = "big_1_abcdefghijkl.5"
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fsys := protocol.OSFS()
	d, err := fsys.OpenDir(nil, dir, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, fi, err := fsys.ReadFile(d, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > protocol.MaxRead+1 || fi.Size != 1<<30 {
		t.Errorf("ReadFile of a 1 GiB file: %d bytes (want at most %d), size %d", len(b), protocol.MaxRead+1, fi.Size)
	}
	l, err := protocol.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tryForeign(ctx, t, l)
}

// tryForeign returns TryLock's error, which must wrap ErrForeign.
func tryForeign(ctx context.Context, t *testing.T, l *protocol.Lock) error {
	t.Helper()
	ok, err := l.TryLock(ctx)
	if ok {
		l.Unlock()
	}
	if !errors.Is(err, protocol.ErrForeign) {
		t.Fatalf("TryLock: %v, %v; want an error wrapping ErrForeign", ok, err)
	}
	return err
}
