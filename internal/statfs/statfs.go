// Package statfs tells, on darwin and the BSDs, what filesystem holds a
// file: its type name (f_fstypename), mount point, source and whether the
// kernel calls it local (MNT_LOCAL). fsprobe identifies a directory with it
// and the protocol's kqueue watch decides with it whether a directory's
// changes can be watched. Elsewhere the package is empty.
package statfs

// Info is what statfs (statvfs on NetBSD) says of a mount.
type Info struct {
	Type     string // f_fstypename: "apfs", "ufs", "zfs", "nfs", "smbfs", ...
	OnName   string // f_mntonname: where it is mounted
	FromName string // f_mntfromname: what is mounted there
	Local    bool   // MNT_LOCAL
}
