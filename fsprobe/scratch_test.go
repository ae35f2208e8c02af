package fsprobe

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestScratchName(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for _, host := range []string{"vm", "a-b-c", "host.example", "a b/c", "", strings.Repeat("h", 100)} {
		n := scratchName(host, 4242, now, "0123456789abcdef")
		si, ok := parseScratchName(n)
		if !ok || si.pid != 4242 || !si.started.Equal(now) || si.host != cleanHost(host) || si.legacy {
			t.Errorf("%q parses as %+v, %v", n, si, ok)
		}
	}
	if si, ok := parseScratchName(ScratchPrefix + "0123456789abcdef"); !ok || !si.legacy {
		t.Errorf("the older names do not parse: %+v %v", si, ok)
	}
	for _, n := range []string{
		PeerDirName, ScratchPrefix, ScratchPrefix + "1-2-0123456789abcdef-", ScratchPrefix + "01-2-0123456789abcdef-h",
		ScratchPrefix + "1-02-0123456789abcdef-h", ScratchPrefix + "0-2-0123456789abcdef-h", ScratchPrefix + "+1-2-0123456789abcdef-h",
		ScratchPrefix + "1-2-0123456789ABCDEF-h", ScratchPrefix + "1-2-0123456789abcde-h", ScratchPrefix + "1-2-0123456789abcdef-h/x",
		ScratchPrefix + "1-2-0123456789abcdef-h x", ScratchPrefix + "0123456789abcdef0", "x" + ScratchPrefix + "0123456789abcdef",
		ScratchPrefix + "99999999999-2-0123456789abcdef-h",
	} {
		if si, ok := parseScratchName(n); ok {
			t.Errorf("%q parses as %+v", n, si)
		}
	}
}

func TestScratchAbandoned(t *testing.T) {
	now := time.Unix(1700000000, 0)
	recent, old := now.Add(-time.Minute), now.Add(-AbandonedAge-time.Minute)
	self := scratchInfo{host: "me", pid: os.Getpid(), started: old}
	if self.abandoned("me", old, now) != true {
		t.Error("an old directory is not abandoned") // old by name and mtime: whoever made it
	}
	if (scratchInfo{host: "other", pid: 1, started: old}).abandoned("me", recent, now) {
		t.Error("a directory modified a minute ago is abandoned")
	}
	if (scratchInfo{host: "other", pid: 1, started: recent}).abandoned("me", old, now) {
		t.Error("a directory named a minute ago is abandoned")
	}
	if (scratchInfo{host: "me", pid: os.Getpid(), started: recent}).abandoned("me", recent, now) {
		t.Error("this process's own directory is abandoned")
	}
	if !(scratchInfo{legacy: true}).abandoned("me", old, now) || (scratchInfo{legacy: true}).abandoned("me", recent, now) {
		t.Error("older names are judged by mtime")
	}
}

func TestScratchContents(t *testing.T) {
	for _, n := range []string{"f0.0", "f12.12", "excl", "link", "rename-src", "rename-dst", ".nfs000123", ".fuse_hidden0001"} {
		if !scratchFileOK(n) {
			t.Errorf("%q is not a probe's file", n)
		}
	}
	for _, n := range []string{"f", "f1", "f1.", "f.1", "f01.1", "notes.txt", "d1", "excl2", "f1.1.1"} {
		if scratchFileOK(n) {
			t.Errorf("%q is taken for a probe's file", n)
		}
	}
	if !scratchDirOK("d0") || !scratchDirOK("d12") || scratchDirOK("d") || scratchDirOK("d01") || scratchDirOK("dx") {
		t.Error("scratchDirOK")
	}
}
