//go:build darwin || dragonfly || freebsd

package statfs

import "golang.org/x/sys/unix"

type statT = unix.Statfs_t

func statPath(path string, st *statT) error { return unix.Statfs(path, st) }
func statFD(fd int, st *statT) error        { return unix.Fstatfs(fd, st) }

func info(st *statT) Info {
	return Info{
		Type: cString(st.Fstypename[:]), OnName: cString(st.Mntonname[:]), FromName: cString(st.Mntfromname[:]),
		Local: uint64(st.Flags)&unix.MNT_LOCAL != 0,
	}
}
