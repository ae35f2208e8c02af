package protocol

import "testing"

// watchTempDir opens a fresh temporary directory and watches it with the
// OS filesystem's watch, skipping the test where that filesystem cannot be
// watched; the test's cleanup closes both.
func watchTempDir(t *testing.T) (string, Dir, dirWatch) {
	t.Helper()
	dir := t.TempDir()
	d, w := watchDir(t, dir)
	return dir, d, w
}

// watchDir opens dir and watches it as watchTempDir does.
func watchDir(t *testing.T, dir string) (Dir, dirWatch) {
	t.Helper()
	d, err := OSFS().OpenDir(nil, dir, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	w, err := OSFS().(watcher).Watch(d)
	if err != nil {
		t.Fatal(err)
	}
	if w == nil {
		t.Skip("the temp dir is not on a local filesystem this system can watch")
	}
	t.Cleanup(func() { w.Close() })
	return d, w
}
