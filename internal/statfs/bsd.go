//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package statfs

// Path returns what statfs(2) (statvfs1(2) on NetBSD) says of the mount
// holding path.
func Path(path string) (Info, error) {
	var st statT
	if err := statPath(path, &st); err != nil {
		return Info{}, err
	}
	return info(&st), nil
}

// FD returns what fstatfs(2) (fstatvfs1(2) on NetBSD) says of the mount
// holding the open fd.
func FD(fd int) (Info, error) {
	var st statT
	if err := statFD(fd, &st); err != nil {
		return Info{}, err
	}
	return info(&st), nil
}

// cString is a NUL-terminated byte array as a string.
func cString[T ~byte | ~int8](b []T) string {
	s := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}
