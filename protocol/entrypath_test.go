package protocol

import (
	"path/filepath"
	"testing"
)

// TestEntryPath: entryPath is filepath.Join for every clean directory and
// every name classify accepts, roots and dot directories included.
func TestEntryPath(t *testing.T) {
	dirs := []string{"/", "/a", "/a/b.lock", "a", ".", "..", "../..", "a/b.", "/srv/x.lock"}
	if filepath.Separator == '\\' {
		dirs = append(dirs, `C:\`, `C:\a`, `C:.`, `\\host\share\`, `\\host\share\x`)
	}
	for _, dir := range dirs {
		dir = filepath.Clean(filepath.FromSlash(dir))
		for _, name := range []string{"h-1_a.42", "x.-7", "Ab.0"} {
			if _, _, ignore, foreign := classify(DirEntry{Name: name}); ignore || foreign != "" {
				t.Fatalf("classify rejects %q: the test's names must be entries", name)
			}
			if got, want := entryPath(dir, name), filepath.Join(dir, name); got != want {
				t.Errorf("entryPath(%q, %q) = %q, want %q", dir, name, got, want)
			}
		}
	}
}
