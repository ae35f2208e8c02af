//go:build netbsd

package statfs

import "golang.org/x/sys/unix"

type statT = unix.Statvfs_t

func statPath(path string, st *statT) error { return unix.Statvfs1(path, st, unix.ST_WAIT) }
func statFD(fd int, st *statT) error        { return unix.Fstatvfs1(fd, st, unix.ST_WAIT) }

func info(st *statT) Info {
	return Info{
		Type: cString(st.Fstypename[:]), OnName: cString(st.Mntonname[:]), FromName: cString(st.Mntfromname[:]),
		Local: st.Flag&unix.MNT_LOCAL != 0,
	}
}
