//go:build linux

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
//   - with Options.KeepCache, file data stays in the page cache across opens;
//   - flock and fcntl locks are NOT forwarded to the filesystem (the FUSE
//     lock capabilities are never negotiated): the kernel keeps them local to
//     the mount's own inodes, so a lock taken through one mount does not
//     exclude a lock taken through another mount or in the backing directory.
package fusefs

import (
	"context"
	"fmt"
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
	lb := root.(*fs.LoopbackNode)
	node := &node{LoopbackNode: lb, o: &o}
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
		},
	}
	srv, err := fs.Mount(mountpoint, node, opts)
	if err != nil {
		return nil, fmt.Errorf("fusefs: mounting %s at %s: %w", backing, mountpoint, err)
	}
	return srv, nil
}

// node is a loopback node that adds the cache flags of Options to opens.
type node struct {
	*fs.LoopbackNode
	o *Options
}

var (
	_ fs.NodeWrapChilder    = (*node)(nil)
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
)

// WrapChild makes every node of the tree a *node.
func (n *node) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	if lb, ok := ops.(*fs.LoopbackNode); ok {
		return &node{LoopbackNode: lb, o: n.o}
	}
	return ops
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, ff, errno := n.LoopbackNode.Open(ctx, flags)
	if errno == 0 && n.o.KeepCache {
		ff |= fuse.FOPEN_KEEP_CACHE
	}
	return fh, ff, errno
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, ff, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno == 0 && n.o.CacheDir {
		ff |= fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE
	}
	return fh, ff, errno
}
