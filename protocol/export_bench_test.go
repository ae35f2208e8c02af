package protocol

import "sync/atomic"

// CountListings wraps fsys so that its listings are counted, keeping its
// directory watch (if it has one): for the benchmarks of the external test
// package, which cannot name the unexported watch interfaces.
func CountListings(fsys FS) (wrapped FS, listings func() int64) {
	c := &countingFS{FS: fsys}
	if w, ok := fsys.(watcher); ok {
		return watchingCountingFS{c, w}, c.n.Load
	}
	return c, c.n.Load
}

type countingFS struct {
	FS
	n atomic.Int64
}

func (c *countingFS) ReadDir(d Dir) ([]DirEntry, error) {
	c.n.Add(1)
	return c.FS.ReadDir(d)
}

type watchingCountingFS struct {
	*countingFS
	w watcher
}

func (w watchingCountingFS) Watch(d Dir) (dirWatch, error) { return w.w.Watch(d) }
