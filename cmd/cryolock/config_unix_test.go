//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestConfigFileFIFONeverBlocks: `cryolock run --config FILE` where FILE is
// a named pipe (a mistake, or a file planted in a directory others can
// write) must be refused at once as not a regular file, not block for ever
// waiting for a writer. The bound only catches a hang; the fixed code
// returns without waiting.
func TestConfigFileFIFONeverBlocks(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "report.json")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, _, stderr := runCLI(t, "", "run", "--config", fifo, newLockPath(t), "--", "true")
		done <- result{code, stderr}
	}()
	select {
	case r := <-done:
		if r.code != exitUsage || !strings.Contains(r.stderr, fifo) || !strings.Contains(r.stderr, "not a regular file") {
			t.Errorf("--config FIFO: status %d, stderr %q; want 64 naming %s as not a regular file", r.code, r.stderr, fifo)
		}
	case <-time.After(time.Minute):
		// Unblock the reader so the test binary can end.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("run --config blocked opening a named pipe")
	}
}
