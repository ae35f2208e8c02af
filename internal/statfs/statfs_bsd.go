//go:build darwin || dragonfly || freebsd

package statfs

import "golang.org/x/sys/unix"

// Path returns what statfs(2) says of the mount holding path.
func Path(path string) (Info, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Info{}, err
	}
	return info(&st), nil
}

// FD returns what fstatfs(2) says of the mount holding the open fd.
func FD(fd int) (Info, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return Info{}, err
	}
	return info(&st), nil
}

func info(st *unix.Statfs_t) Info {
	return Info{
		Type: cString(st.Fstypename[:]), OnName: cString(st.Mntonname[:]), FromName: cString(st.Mntfromname[:]),
		Local: uint64(st.Flags)&unix.MNT_LOCAL != 0,
	}
}
