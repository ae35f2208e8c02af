//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd && !windows

package fsprobe

// identify knows nothing of the filesystem where the platform has no statfs
// or volume information that this package reads (WASI, js, Plan 9,
// Solaris, illumos, AIX): [Recommend] then recommends the conservative
// setting.
func identify(dir string) Filesystem {
	return Filesystem{Type: unknownType}
}
