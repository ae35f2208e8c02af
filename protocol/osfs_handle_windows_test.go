package protocol

import (
	"errors"
	"io/fs"
	"testing"

	"golang.org/x/sys/windows"
)

// TestWinDirCloseWaitsForCalls: Close does not close the directory handle
// under a call in flight (a heartbeat's refresh racing a release); the
// call's done does, and later calls are refused.
func TestWinDirCloseWaitsForCalls(t *testing.T) {
	d, err := OSFS().OpenDir(nil, t.TempDir(), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := d.(*winDir)
	h, err := w.use()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	var bi windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &bi); err != nil {
		t.Fatalf("the handle was closed under a call in flight: %v", err)
	}
	w.done()
	if w.h != windows.InvalidHandle {
		t.Error("the last call's done left the handle open")
	}
	if _, err := w.use(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("use after Close: %v, want fs.ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}
