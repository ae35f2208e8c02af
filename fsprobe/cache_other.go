//go:build !unix

package fsprobe

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/cryolock-go/cryolock/protocol"
)

// canCache: the report is cached everywhere but on Windows (where a rename
// over an open file fails).
const canCache = runtime.GOOS != "windows"

// Without the *at calls, readCache checks each component with Lstat, opens
// the file, and checks that the handle is the file it checked. Residual
// risk: lockDir or .meta swapped for a symbolic link between the Lstat and
// the open redirects the open (the read is still bounded, and the handle is
// refused unless it is a regular file). Opening a named pipe can block where
// the platform has them and ignores O_NONBLOCK. The file's owner is not
// checked (os.FileInfo does not say it on Windows or WASI): a report
// another user planted there is read, though [Cached] takes the
// filesystem's identification and cache times from identify, not from it.
func readCache(lockDir, name string) ([]byte, error) {
	meta := filepath.Join(lockDir, MetaDir)
	if err := checkDir(lockDir, true); err != nil {
		return nil, err
	}
	if err := checkDir(meta, false); err != nil {
		return nil, err
	}
	path := filepath.Join(meta, name)
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, foreignErr(path, "not a regular file ("+fi.Mode().Type().String()+")")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hfi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !hfi.Mode().IsRegular() || !os.SameFile(fi, hfi) {
		return nil, foreignErr(path, "replaced while being opened")
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxCacheSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxCacheSize {
		return nil, foreignErr(path, fmt.Sprintf("more than %d bytes, more than a report", MaxCacheSize))
	}
	return b, nil
}

// writeCache writes a temporary file in .meta and renames it over name, by
// path, after checking with Lstat that neither lockDir nor .meta is a
// symbolic link. Residual risk: a swap between that check and the writes
// redirects them.
func writeCache(lockDir, name string, data []byte) error {
	if !canCache {
		return fmt.Errorf("fsprobe: report caching is not supported on %s", runtime.GOOS)
	}
	meta := filepath.Join(lockDir, MetaDir)
	if err := checkDir(lockDir, true); err != nil {
		return err
	}
	if err := os.Mkdir(meta, 0o777); err != nil && !os.IsExist(err) {
		return err
	}
	if err := checkDir(meta, false); err != nil {
		return err
	}
	f, err := os.CreateTemp(meta, "."+name+".tmp")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), filepath.Join(meta, name))
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}

// checkDir refuses path unless it is a directory, not a symbolic link.
func checkDir(path string, lockDir bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return nil
	}
	what := fi.Mode().Type().String()
	if fi.Mode()&fs.ModeSymlink != 0 {
		what = "symbolic link"
	}
	if lockDir {
		return &protocol.Error{Op: "cache", Path: path, Err: fmt.Errorf("%w: %s", protocol.ErrBadPath, what)}
	}
	return foreignErr(path, "not a directory ("+what+")")
}
