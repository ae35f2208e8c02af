//go:build unix

package protocol

import (
	"path/filepath"
	"testing"
)

// TestCleanPath: cleanPath is filepath.Clean on every path of up to 10
// bytes over 'a', '.' and '/' (every way a path can be unclean is there).
func TestCleanPath(t *testing.T) {
	const alphabet = "a./"
	buf := make([]byte, 0, 10)
	var walk func()
	n := 0
	walk = func() {
		p := string(buf)
		n++
		if got, want := cleanPath(p), filepath.Clean(p); got != want {
			t.Fatalf("cleanPath(%q) = %q, want %q", p, got, want)
		}
		if len(buf) == cap(buf) {
			return
		}
		for i := 0; i < len(alphabet); i++ {
			buf = append(buf, alphabet[i])
			walk()
			buf = buf[:len(buf)-1]
		}
	}
	walk()
	if n != 88573 { // 1 + 3 + … + 3^10
		t.Fatalf("walked %d paths", n)
	}
}
