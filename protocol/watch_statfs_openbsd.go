//go:build openbsd

package protocol

import "golang.org/x/sys/unix"

// fsTypeOf returns the type name (f_fstypename) of the filesystem holding
// the open fd and whether it is local (MNT_LOCAL).
func fsTypeOf(fd int) (string, bool, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return "", false, err
	}
	return cString(st.F_fstypename[:]), st.F_flags&unix.MNT_LOCAL != 0, nil
}
