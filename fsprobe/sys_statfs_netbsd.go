//go:build netbsd

package fsprobe

import "golang.org/x/sys/unix"

func statMount(dir string) (mountStat, error) {
	var st unix.Statvfs_t
	if err := unix.Statvfs1(dir, &st, unix.ST_WAIT); err != nil {
		return mountStat{}, err
	}
	return mountStat{
		fstype: cstr(st.Fstypename[:]), onName: cstr(st.Mntonname[:]), fromName: cstr(st.Mntfromname[:]),
		local: st.Flag&unix.MNT_LOCAL != 0,
	}, nil
}
