//go:build openbsd

package fsprobe

import "golang.org/x/sys/unix"

func statMount(dir string) (mountStat, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return mountStat{}, err
	}
	return mountStat{
		fstype: cstr(st.F_fstypename[:]), onName: cstr(st.F_mntonname[:]), fromName: cstr(st.F_mntfromname[:]),
		local: st.F_flags&unix.MNT_LOCAL != 0,
	}, nil
}
