package fsprobe

import "os"

// linkat makes newname a hard link to oldname by path: golang.org/x/sys/unix
// has no linkat for Solaris and illumos, so there (only there) the probe's
// hard-link check names the scratch directory by its path.
func linkat(x *xdir, oldname, newname string) error {
	return os.Link(x.join(oldname), x.join(newname))
}
