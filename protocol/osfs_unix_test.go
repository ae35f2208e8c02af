//go:build unix

package protocol

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// ESTALE (NFS) is Unix's; Windows reports a vanished file as not found.
func TestESTALEIsNotExist(t *testing.T) {
	err := mapErr(&fs.PathError{Op: "stat", Path: "/x", Err: syscall.ESTALE})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/x") {
		t.Fatalf("mapErr(ESTALE) = %v", err)
	}
}
