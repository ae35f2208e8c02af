//go:build linux && !386 && !arm && !mips && !mipsle

// Package fusefs is a loopback FUSE filesystem for the lock's tests on real
// restrictive filesystems: it serves a backing directory through a FUSE
// mount whose kernel caches are set by the caller, so that two mounts of one
// backing directory behave like two incoherent network clients.
//
// What it does and does not provide:
//
//   - entry, negative-entry and attribute timeouts are configurable
//     (Options): within them the kernel answers lookups and stat from its
//     cache, so a change made through another mount, or directly in the
//     backing directory, is invisible here until they expire;
//   - with Options.CacheDir, directory listings are cached by the kernel
//     (FOPEN_CACHE_DIR|FOPEN_KEEP_CACHE): a listing is reread only when this
//     mount itself changed the directory or the directory's cached
//     attributes expired and show a new mtime;
//   - with Options.ListTTL, the filesystem itself serves each directory's
//     listing from a per-mount snapshot refreshed only when it is ListTTL
//     old; entries this mount creates or removes are added to or dropped
//     from the snapshot at once, entries created or removed elsewhere show
//     only at the next refresh. This is an eventually consistent listing,
//     as object-store and some network filesystems give: unlike the
//     kernel's cache (CacheDir), a mount's own create does NOT refresh
//     what it sees of the others, so create-then-list needs a settle delay
//     longer than ListTTL;
//   - with Options.KeepCache, file data stays in the page cache across opens;
//   - flock and fcntl locks are NOT forwarded to the filesystem (the FUSE
//     lock capabilities are never negotiated): the kernel keeps them local to
//     the mount's own inodes, so a lock taken through one mount does not
//     exclude a lock taken through another mount or in the backing directory.
//
// It builds on 64-bit Linux only: go-fuse does not compile where int is 32
// bits (its splice package).
package fusefs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Options configure a mount.
type Options struct {
	// EntryTimeout is how long the kernel trusts a name lookup.
	EntryTimeout time.Duration
	// NegativeTimeout is how long the kernel trusts "no such name".
	NegativeTimeout time.Duration
	// AttrTimeout is how long the kernel trusts an inode's attributes
	// (mtime, size) without asking.
	AttrTimeout time.Duration
	// CacheDir lets the kernel cache directory listings (see the package
	// doc).
	CacheDir bool
	// KeepCache keeps file data in the page cache across opens.
	KeepCache bool
	// ListTTL, if positive, serves listings from the mount's own
	// snapshots (see the package doc). It excludes CacheDir.
	ListTTL time.Duration
	// Name appears as the filesystem type "fuse.<Name>" (default
	// "cryolockfs").
	Name string
	// Debug logs every FUSE request.
	Debug bool
}

// Mount serves backing at mountpoint until the returned server is
// unmounted. The caller must call Unmount (and may call Wait).
func Mount(backing, mountpoint string, o Options) (*fuse.Server, error) {
	root, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		return nil, fmt.Errorf("fusefs: backing directory %s: %w", backing, err)
	}
	if o.ListTTL > 0 {
		o.CacheDir = false
	}
	lb := root.(*fs.LoopbackNode)
	node := &node{LoopbackNode: lb, m: &mount{o: o, snaps: make(map[string]*snapshot)}}
	lb.RootData.RootNode = node
	name := o.Name
	if name == "" {
		name = "cryolockfs"
	}
	entry, neg, attr := o.EntryTimeout, o.NegativeTimeout, o.AttrTimeout
	opts := &fs.Options{
		EntryTimeout:    &entry,
		NegativeTimeout: &neg,
		AttrTimeout:     &attr,
		MountOptions: fuse.MountOptions{
			FsName: backing,
			Name:   name,
			Debug:  o.Debug,
			// No EnableLocks: flock/fcntl stay local to this mount.
			EnableLocks: false,
			// The kernel may send requests in parallel.
			MaxBackground: 32,
			// Listings come from readdir alone (no lookups of phantom
			// entries) when the filesystem serves them itself.
			DisableReadDirPlus: o.ListTTL > 0,
		},
	}
	srv, err := fs.Mount(mountpoint, node, opts)
	if err != nil {
		return nil, fmt.Errorf("fusefs: mounting %s at %s: %w", backing, mountpoint, err)
	}
	return srv, nil
}

// mount is the state shared by the nodes of one mount.
type mount struct {
	o     Options
	mu    sync.Mutex
	snaps map[string]*snapshot // by path relative to the root
}

// snapshot is one directory's listing as this mount last read it.
type snapshot struct {
	taken time.Time
	ents  map[string]fuse.DirEntry
}

// node is a loopback node that adds the cache flags of Options to opens and
// serves listings from snapshots when Options.ListTTL is set.
type node struct {
	*fs.LoopbackNode
	m *mount
}

var (
	_ fs.NodeWrapChilder    = (*node)(nil)
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
)

// WrapChild makes every node of the tree a *node.
func (n *node) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	if lb, ok := ops.(*fs.LoopbackNode); ok {
		return &node{LoopbackNode: lb, m: n.m}
	}
	return ops
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, ff, errno := n.LoopbackNode.Open(ctx, flags)
	if errno == 0 && n.m.o.KeepCache {
		ff |= fuse.FOPEN_KEEP_CACHE
	}
	return fh, ff, errno
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if n.m.o.ListTTL > 0 {
		ents, errno := n.listing()
		if errno != 0 {
			return nil, 0, errno
		}
		return &listHandle{ents: ents}, 0, 0
	}
	fh, ff, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno == 0 && n.m.o.CacheDir {
		ff |= fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE
	}
	return fh, ff, errno
}

// rel is the node's path relative to the mount's root.
func (n *node) rel() string { return n.Path(nil) }

// listing returns the directory's entries from the mount's snapshot,
// refreshing it from the backing directory when it is ListTTL old.
func (n *node) listing() ([]fuse.DirEntry, syscall.Errno) {
	m := n.m
	rel := n.rel()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.snaps[rel]
	if s == nil || time.Since(s.taken) >= m.o.ListTTL {
		des, err := os.ReadDir(filepath.Join(n.RootData.Path, rel))
		if err != nil {
			return nil, fs.ToErrno(err)
		}
		s = &snapshot{taken: time.Now(), ents: make(map[string]fuse.DirEntry, len(des))}
		for _, d := range des {
			e := fuse.DirEntry{Name: d.Name(), Mode: syscall.S_IFREG, Ino: 1}
			switch {
			case d.IsDir():
				e.Mode = syscall.S_IFDIR
			case d.Type()&os.ModeSymlink != 0:
				e.Mode = syscall.S_IFLNK
			}
			if fi, err := d.Info(); err == nil {
				if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Ino != 0 {
					e.Ino = st.Ino
				}
			}
			s.ents[d.Name()] = e
		}
		m.snaps[rel] = s
	}
	out := make([]fuse.DirEntry, 0, len(s.ents))
	for _, e := range s.ents {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, 0
}

// own records a change this mount made to the directory: the name is added
// to (present) or dropped from its snapshot, if there is one.
func (n *node) own(name string, present bool, mode uint32, ino uint64) {
	if n.m.o.ListTTL <= 0 {
		return
	}
	m := n.m
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.snaps[n.rel()]
	if s == nil {
		return
	}
	if present {
		s.ents[name] = fuse.DirEntry{Name: name, Mode: mode, Ino: max(ino, 1)}
	} else {
		delete(s.ents, name)
	}
}

var (
	_ fs.NodeCreater  = (*node)(nil)
	_ fs.NodeMkdirer  = (*node)(nil)
	_ fs.NodeUnlinker = (*node)(nil)
	_ fs.NodeRmdirer  = (*node)(nil)
)

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ino, fh, ff, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno == 0 {
		n.own(name, true, syscall.S_IFREG, out.Attr.Ino)
		if n.m.o.KeepCache {
			ff |= fuse.FOPEN_KEEP_CACHE
		}
	}
	return ino, fh, ff, errno
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ino, errno := n.LoopbackNode.Mkdir(ctx, name, mode, out)
	if errno == 0 {
		n.own(name, true, syscall.S_IFDIR, out.Attr.Ino)
	}
	return ino, errno
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	errno := n.LoopbackNode.Unlink(ctx, name)
	if errno == 0 {
		n.own(name, false, 0, 0)
	}
	return errno
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	errno := n.LoopbackNode.Rmdir(ctx, name)
	if errno == 0 {
		n.own(name, false, 0, 0)
	}
	return errno
}

// listHandle serves one opened directory's snapshot.
type listHandle struct {
	mu   sync.Mutex
	ents []fuse.DirEntry
	i    int
}

var (
	_ fs.FileReaddirenter = (*listHandle)(nil)
	_ fs.FileSeekdirer    = (*listHandle)(nil)
)

func (h *listHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.i >= len(h.ents) {
		return nil, 0
	}
	e := h.ents[h.i]
	h.i++
	e.Off = uint64(h.i)
	return &e, 0
}

func (h *listHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.i = int(min(off, uint64(len(h.ents))))
	return 0
}
