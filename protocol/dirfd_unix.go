//go:build unix

package protocol

import "github.com/cryolock-go/cryolock/internal/dirfd"

// dirfd.Use lends the module's other packages an OSFS handle's descriptor
// for the system calls FS does not offer (package fsprobe's link, rename,
// O_EXCL and flock checks).
func init() {
	dirfd.Use = func(d any) (int, func(), bool) {
		h, ok := d.(*fdDir)
		if !ok {
			return -1, nil, false
		}
		p, fd, err := use(h)
		if err != nil {
			return -1, nil, false
		}
		return fd, p.done, true
	}
}
