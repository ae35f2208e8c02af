//go:build !linux

package fsprobe

// identify knows nothing of the filesystem where the platform has no statfs
// magic or mount table that this package reads.
func identify(dir string) Filesystem {
	return Filesystem{Type: "unknown"}
}
