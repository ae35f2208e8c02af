//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package fsprobe

import (
	"strings"

	"github.com/cryolock-go/cryolock/internal/statfs"
)

// identify fills what statfs (statvfs on NetBSD) says about dir: the
// filesystem's type name (f_fstypename: "apfs", "hfs", "ufs", "zfs",
// "nfs", "smbfs", "macfuse", ...), its mount point and source, and whether
// it is local (MNT_LOCAL). A filesystem that is not local, or whose type is
// a network or FUSE one, is remote.
func identify(dir string) Filesystem {
	st, err := statfs.Path(dir)
	if err != nil || st.Type == "" {
		return Filesystem{Type: unknownType}
	}
	f := Filesystem{
		Type:  st.Type,
		Mount: &Mount{MountPoint: st.OnName, Root: "/", FSType: st.Type, Source: st.FromName},
	}
	f.Remote = !st.Local || isRemote(st.Type) || bsdRemote(st.Type)
	cacheTimes(&f)
	if f.Remote && f.DirCacheSource == "" {
		// What this client caches (macOS smbfs, webdav, afpfs; FUSE
		// daemons) is not visible here: assume the conservative default.
		f.AttrCache, f.AttrCacheSource = Duration(unknownDirCache), "assumed: the "+st.Type+" client's caches are not visible to this probe"
		f.DirCache, f.DirCacheSource = f.AttrCache, f.AttrCacheSource
	}
	return f
}

// bsdRemote reports the BSD and macOS names of network and FUSE
// filesystems that isRemote (Linux's names) does not know.
func bsdRemote(t string) bool {
	switch t {
	case "smbfs", "afpfs", "webdav", "ftp", "nfs", "macfuse", "osxfuse", "fusefs", "puffs", "p2k", "9p":
		return true
	}
	return strings.HasPrefix(t, "fusefs.") || strings.HasPrefix(t, "macfuse") || strings.HasPrefix(t, "osxfuse")
}
