//go:build unix && !aix && !solaris

package fsprobe

import "golang.org/x/sys/unix"

// linkat makes newname a hard link to oldname, both in x, without
// following a symbolic link.
func linkat(x *xdir, oldname, newname string) error {
	return unix.Linkat(x.fd, oldname, x.fd, newname, 0)
}
