//go:build unix

package fsprobe

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// deadPid returns the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if !processGone(pid) {
		t.Skipf("pid %d already reused", pid)
	}
	return pid
}

// Issue 11, item 7: a killed probe's scratch directory was never removed.
// A later probe removes exactly the abandoned ones that hold only what a
// probe creates, and nothing else.
func TestProbeReapsAbandonedScratch(t *testing.T) {
	dir := t.TempDir()
	host, _ := os.Hostname()
	now := time.Now()
	longAgo := now.Add(-AbandonedAge - time.Hour)
	dead := deadPid(t)
	mk := func(name string, files []string, dirs ...string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o777); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(p, f), []byte("10"), 0o666); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range dirs {
			if err := os.Mkdir(filepath.Join(p, d), 0o777); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	age := func(p string) {
		t.Helper()
		if err := os.Chtimes(p, longAgo, longAgo); err != nil {
			t.Fatal(err)
		}
	}
	probeFiles := []string{"f0.0", "f1.1", "excl", "link", "rename-dst"}
	gone := []string{
		// killed on this host
		mk(scratchName(host, dead, now, "0000000000000001"), probeFiles, "d0", "d3"),
		// from another host, a day old by name and mtime
		mk(scratchName("elsewhere", 1, longAgo, "0000000000000002"), probeFiles),
		// an older version's, a day old
		mk(ScratchPrefix+"0123456789abcdef", []string{"f0.0"}),
	}
	age(gone[1])
	age(gone[2])

	victim := t.TempDir()
	if err := os.WriteFile(filepath.Join(victim, "f0.0"), []byte("precious"), 0o666); err != nil {
		t.Fatal(err)
	}
	kept := []string{
		// holds a file a probe never creates
		mk(scratchName(host, dead, now, "0000000000000003"), []string{"f0.0", "notes.txt"}),
		// a probe's subdirectory that is not empty
		mk(scratchName(host, dead, now, "0000000000000004"), []string{"f0.0"}, "d1"),
		// another host's, recent
		mk(scratchName("elsewhere", 1, now, "0000000000000005"), probeFiles),
		// a live process's (our parent)
		mk(scratchName(host, os.Getppid(), now, "0000000000000006"), probeFiles),
		// an older version's, recent
		mk(ScratchPrefix+"fedcba9876543210", []string{"f0.0"}),
		// not the probe's naming
		mk(ScratchPrefix+"mine", []string{"f0.0"}),
		mk(PeerDirName, []string{"f0.0"}),
	}
	if err := os.WriteFile(filepath.Join(kept[1], "d1", "x"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	for _, p := range kept[5:] {
		age(p)
	}
	// A link named like an abandoned directory: never followed.
	link := filepath.Join(dir, scratchName(host, dead, now, "0000000000000007"))
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, link)
	// A regular file named like one.
	file := filepath.Join(dir, scratchName(host, dead, now, "0000000000000008"))
	if err := os.WriteFile(file, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, file)

	before := map[string][]string{}
	for _, p := range kept {
		before[p] = listNames(p)
	}
	if _, err := Probe(context.Background(), dir, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range gone {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("abandoned %s not removed (%v)", filepath.Base(p), err)
		}
	}
	for _, p := range kept {
		if got := listNames(p); len(got) != len(before[p]) {
			t.Errorf("%s: holds %v, held %v", filepath.Base(p), got, before[p])
		}
	}
	if b, err := os.ReadFile(filepath.Join(victim, "f0.0")); err != nil || string(b) != "precious" {
		t.Errorf("victim touched: %q %v", b, err)
	}
	// Nothing else is left: the probe removed its own scratch directory.
	if ents, _ := os.ReadDir(dir); len(ents) != len(kept) {
		t.Errorf("dir holds %d entries, want the %d kept", len(ents), len(kept))
	}
}

// listNames lists p (a directory, through a link too) or names the file;
// nil if it is gone.
func listNames(p string) []string {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil
	}
	if !fi.IsDir() {
		return []string{fi.Name()}
	}
	ents, _ := os.ReadDir(p)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return append(names, ".")
}
