package protocol_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// umask reads the process's umask without changing it (other tests run in
// parallel).
func umask(t *testing.T) fs.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err != nil {
				t.Fatal(err)
			}
			return fs.FileMode(m)
		}
	}
	t.Skip("no Umask line in /proc/self/status")
	return 0
}

// TestPermDefaultsAndOption: a lock directory the lock creates and its
// entries get 0777 and 0666 before the umask by default (WithPerm's doc),
// and WithPerm's modes when given.
func TestPermDefaultsAndOption(t *testing.T) {
	mask := umask(t)
	for _, tc := range []struct {
		name      string
		opts      []protocol.Option
		dir, file fs.FileMode
	}{
		{"default", nil, 0o777, 0o666},
		{"WithPerm", []protocol.Option{protocol.WithPerm(0o750, 0o640)}, 0o750, 0o640},
	} {
		path := filepath.Join(t.TempDir(), "p.cryolock")
		l := newLock(t, path, tc.opts...)
		if err := l.Lock(ctxT(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		di, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(path, l.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := di.Mode().Perm(), tc.dir&^mask; got != want {
			t.Errorf("%s: lock directory mode %v, want %v (%v before the umask %v)", tc.name, got, want, tc.dir, mask)
		}
		if got, want := fi.Mode().Perm(), tc.file&^mask; got != want {
			t.Errorf("%s: entry mode %v, want %v (%v before the umask %v)", tc.name, got, want, tc.file, mask)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
	}
}
