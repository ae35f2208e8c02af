//go:build openbsd

package statfs

import "golang.org/x/sys/unix"

type statT = unix.Statfs_t

func statPath(path string, st *statT) error { return unix.Statfs(path, st) }
func statFD(fd int, st *statT) error        { return unix.Fstatfs(fd, st) }

func info(st *statT) Info {
	return Info{
		Type: cString(st.F_fstypename[:]), OnName: cString(st.F_mntonname[:]), FromName: cString(st.F_mntfromname[:]),
		Local: st.F_flags&unix.MNT_LOCAL != 0,
	}
}
