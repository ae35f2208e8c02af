//go:build unix || wasip1

package protocol

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// ESTALE (an NFS file handle gone stale) is mapped to fs.ErrNotExist where
// the platform has it.
func TestESTALEIsNotExist(t *testing.T) {
	err := mapErr(&fs.PathError{Op: "stat", Path: "/x", Err: syscall.ESTALE})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/x") {
		t.Fatalf("mapErr(ESTALE) = %v", err)
	}
}
