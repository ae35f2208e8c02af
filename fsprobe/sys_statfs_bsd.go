//go:build darwin || dragonfly || freebsd

package fsprobe

import "golang.org/x/sys/unix"

func statMount(dir string) (mountStat, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return mountStat{}, err
	}
	return mountStat{
		fstype: cstr(st.Fstypename[:]), onName: cstr(st.Mntonname[:]), fromName: cstr(st.Mntfromname[:]),
		local: uint64(st.Flags)&unix.MNT_LOCAL != 0,
	}, nil
}
