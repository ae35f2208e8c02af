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
	switch {
	case f.Mount != nil:
		f.Type = f.Mount.FSType
	case f.MagicName != "":
		f.Type = f.MagicName
	default:
		f.Type = unknownType
	}
	f.Remote = isRemote(f.Type) || isRemote(f.MagicName)
	cacheTimes(&f)
	return f
}
