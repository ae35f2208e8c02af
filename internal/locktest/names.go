package locktest

import (
	"os"
	"testing"
)

// Names lists the names in dir (a lock directory's entries and anything
// else there), failing the test if dir cannot be read.
func Names(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(des))
	for _, d := range des {
		out = append(out, d.Name())
	}
	return out
}
