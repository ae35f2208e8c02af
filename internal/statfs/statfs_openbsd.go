//go:build openbsd

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
		Type: cString(st.F_fstypename[:]), OnName: cString(st.F_mntonname[:]), FromName: cString(st.F_mntfromname[:]),
		Local: st.F_flags&unix.MNT_LOCAL != 0,
	}
}
