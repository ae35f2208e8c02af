package sim

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// dirFS is a process's protocol.FS: the directory-handle seam over the
// client's path-based primitives. The model never renames or replaces a
// directory, so a handle is its path and Verify always succeeds; every
// per-name primitive is one scheduling point, as before.
type dirFS struct{ c *client }

type simDir struct{ path string }

func (d simDir) Path() string { return d.path }
func (d simDir) Close() error { return nil }

// join is path.Join(d.Path(), name), without its cleaning for the plain
// single-component names the protocol passes (a hot path of the simulator).
func (f dirFS) join(d protocol.Dir, name string) string {
	dp := d.Path()
	if name == "" || name == "." || name == ".." || strings.IndexByte(name, '/') >= 0 || dp == "" || dp[len(dp)-1] == '/' {
		return path.Join(dp, name)
	}
	c := f.c
	if name == c.joinName && dp == c.joinDir {
		return c.joinPath // a wake directory's removal right after its making
	}
	p := dp + "/" + name
	c.joinName, c.joinDir, c.joinPath = name, dp, p
	return p
}

func (f dirFS) OpenDir(parent protocol.Dir, name string, create bool, perm fs.FileMode) (protocol.Dir, error) {
	// The model's paths are slash-separated; protocol.New has cleaned the
	// lock's path with the platform's separator (backslashes on Windows).
	var p string
	if parent != nil {
		p = f.join(parent, name)
	} else {
		if name != f.c.rootIn || f.c.rootOut == "" {
			f.c.rootIn, f.c.rootOut = name, path.Clean(filepath.ToSlash(name))
		}
		p = f.c.rootOut
	}
	fi, err := f.c.Stat(p)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := f.c.MkdirAll(p, perm); err != nil {
			return nil, err
		}
		return simDir{p}, nil
	}
	switch {
	case err != nil && errors.Is(err, fs.ErrNotExist):
		return nil, &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w: %w", protocol.ErrBadPath, err)}
	case err != nil:
		return nil, err
	case !fi.Mode.IsDir():
		return nil, &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w: exists and is not a directory", protocol.ErrBadPath)}
	}
	return simDir{p}, nil
}

func (f dirFS) ReadDir(d protocol.Dir) ([]protocol.DirEntry, error) { return f.c.ReadDir(d.Path()) }

// ReadFile reads the file and describes it as of the read: the server's
// attributes, taken without a scheduling point in between (the open
// revalidated them, close-to-open).
func (f dirFS) ReadFile(d protocol.Dir, name string) ([]byte, protocol.FileInfo, error) {
	p := f.join(d, name)
	b, err := f.c.ReadFile(p)
	if err != nil {
		return nil, protocol.FileInfo{}, err
	}
	fi, err := f.c.p.w.srv.stat(p)
	return b, fi, err
}

func (f dirFS) WriteFile(d protocol.Dir, name string, data []byte, perm fs.FileMode) error {
	return f.c.WriteFile(f.join(d, name), data, perm)
}

func (f dirFS) Stat(d protocol.Dir, name string) (protocol.FileInfo, error) {
	return f.c.Stat(f.join(d, name))
}

func (f dirFS) Chtimes(d protocol.Dir, name string, atime, mtime time.Time) error {
	return f.c.Chtimes(f.join(d, name), atime, mtime)
}

func (f dirFS) Remove(d protocol.Dir, name string) error { return f.c.Remove(f.join(d, name)) }

func (f dirFS) Verify(protocol.Dir) error { return nil }
