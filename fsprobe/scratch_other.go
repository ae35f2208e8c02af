//go:build !unix

package fsprobe

import (
	"os"
	"path/filepath"
	"time"
)

// processGone: without a way to ask, a process is never known to be gone;
// only age makes a scratch directory abandoned.
func processGone(pid int) bool { return false }

// removeScratch is the portable, path-based version: it checks with Lstat
// and removes by path. Residual risk: dir/name swapped for a link between
// the check and the removals redirects them (only names a probe creates
// are ever removed).
func removeScratch(dir, name string, abandoned func(mtime time.Time) bool) bool {
	s := filepath.Join(dir, name)
	fi, err := os.Lstat(s)
	if err != nil || !fi.IsDir() || !abandoned(fi.ModTime()) {
		return false
	}
	ents, err := os.ReadDir(s)
	if err != nil {
		return false
	}
	for _, e := range ents {
		switch {
		case e.Type().IsRegular() && scratchFileOK(e.Name()):
		case e.IsDir() && scratchDirOK(e.Name()):
			if sub, err := os.ReadDir(filepath.Join(s, e.Name())); err != nil || len(sub) != 0 {
				return false
			}
		default:
			return false
		}
	}
	for _, e := range ents {
		os.Remove(filepath.Join(s, e.Name()))
	}
	return os.Remove(s) == nil
}
