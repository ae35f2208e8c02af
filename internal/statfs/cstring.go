//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package statfs

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
