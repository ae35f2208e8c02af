//go:build netbsd

package protocol

import "golang.org/x/sys/unix"

// fsTypeOf returns the type name (f_fstypename) of the filesystem holding
// the open fd and whether it is local (MNT_LOCAL).
func fsTypeOf(fd int) (string, bool, error) {
	var st unix.Statvfs_t
	if err := unix.Fstatvfs1(fd, &st, unix.ST_WAIT); err != nil {
		return "", false, err
	}
	return cString(st.Fstypename[:]), st.Flag&unix.MNT_LOCAL != 0, nil
}
