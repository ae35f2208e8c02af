//go:build netbsd

package statfs

import "golang.org/x/sys/unix"

// Path returns what statvfs1(2) says of the mount holding path.
func Path(path string) (Info, error) {
	var st unix.Statvfs_t
	if err := unix.Statvfs1(path, &st, unix.ST_WAIT); err != nil {
		return Info{}, err
	}
	return info(&st), nil
}

// FD returns what fstatvfs1(2) says of the mount holding the open fd.
func FD(fd int) (Info, error) {
	var st unix.Statvfs_t
	if err := unix.Fstatvfs1(fd, &st, unix.ST_WAIT); err != nil {
		return Info{}, err
	}
	return info(&st), nil
}

func info(st *unix.Statvfs_t) Info {
	return Info{
		Type: cString(st.Fstypename[:]), OnName: cString(st.Mntonname[:]), FromName: cString(st.Mntfromname[:]),
		Local: st.Flag&unix.MNT_LOCAL != 0,
	}
}
