package fsprobe

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// identify fills what statfs and the mount table say about dir (absolute,
// symbolic links resolved).
func identify(dir string) Filesystem {
	var f Filesystem
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil {
		magic := uint64(uint32(st.Type))
		f.Magic = fmt.Sprintf("%#x", magic)
		f.MagicName = magicNames[magic]
	}
	if mi, err := os.Open("/proc/self/mountinfo"); err == nil {
		f.Mount = parseMountinfo(mi, dir)
		mi.Close()
	}
	classify(&f)
	return f
}

// classify fills f's type, whether it is remote and its cache times from
// its statfs magic and mount entry. Where there is no mount entry
// (/proc/self/mountinfo unreadable: a chroot, a container without /proc)
// a remote filesystem known only by its magic (nfs, cifs, smb2, ...) has
// no options to read cache times from: the conservative default is
// assumed, as on the BSDs, rather than none.
func classify(f *Filesystem) {
	switch {
	case f.Mount != nil:
		f.Type = f.Mount.FSType
	case f.MagicName != "":
		f.Type = f.MagicName
	default:
		f.Type = unknownType
	}
	f.Remote = isRemote(f.Type) || isRemote(f.MagicName)
	cacheTimes(f)
	if f.Remote && f.Mount == nil && f.DirCacheSource == "" {
		f.AttrCache, f.AttrCacheSource = Duration(unknownDirCache), "assumed: the mount table (/proc/self/mountinfo) could not be read, so the "+f.Type+" client's cache options are not visible to this probe"
		f.DirCache, f.DirCacheSource = f.AttrCache, f.AttrCacheSource
	}
}
