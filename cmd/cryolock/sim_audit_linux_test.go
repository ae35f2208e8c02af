package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestAuditUpdateFullDiskLeavesFile: `sim audit --update FILE` on a full
// filesystem leaves FILE as it was. It was rewritten in place
// (os.WriteFile: truncate, then write), so a write that ran out of space
// left docs/PROOF.md cut short; now the new text goes to a temporary file
// renamed over FILE only once written.
func TestAuditUpdateFullDiskLeavesFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("none", mnt, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): missing CAP_SYS_ADMIN", err)
	}
	defer syscall.Unmount(mnt, 0)
	doc := "intro\n" + auditBegin + "\nold table\n" + auditEnd + "\nrest\n"
	file := filepath.Join(mnt, "PROOF.md")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	// Fill what is left but a little.
	filler, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for chunk := make([]byte, 4096); ; {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	filler.Close()
	os.Truncate(filepath.Join(mnt, "filler"), mustSize(t, filepath.Join(mnt, "filler"))-3*4096)

	err = updateAuditSection(file, strings.Repeat("| a row of the table |\n", 10000))
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("update on a full disk: %v, want an error naming %s", err, file)
	}
	if b, _ := os.ReadFile(file); string(b) != doc {
		t.Errorf("%s is now %d bytes (%.40q...), want it as it was", file, len(b), b)
	}
	des, _ := os.ReadDir(mnt)
	if len(des) != 2 {
		t.Errorf("left behind: %v", des)
	}
}

func mustSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
