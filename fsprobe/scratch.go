package fsprobe

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// AbandonedAge is the age after which a scratch directory of [Probe] is
// abandoned whoever made it: its name's timestamp and its mtime both older.
// A probe takes seconds; a day leaves room for any clock skew between hosts.
const AbandonedAge = 24 * time.Hour

// scratchName returns the name of the scratch directory of a probe run by
// process pid on host at now: ScratchPrefix, then
// "<pid>-<unix seconds>-<16 hex digits>-<host>", host cleaned to
// [A-Za-z0-9._-] and at most 64 bytes. A later probe parses it back with
// parseScratchName to tell an abandoned directory.
func scratchName(host string, pid int, now time.Time, rnd string) string {
	return fmt.Sprintf("%s%d-%d-%s-%s", ScratchPrefix, pid, now.Unix(), rnd, cleanHost(host))
}

// cleanHost maps host to [A-Za-z0-9._-]{1,64}.
func cleanHost(host string) string {
	h := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, host)
	if h == "" {
		h = "_"
	}
	if len(h) > 64 {
		h = h[:64]
	}
	return h
}

// scratchInfo is what a scratch directory's name says.
type scratchInfo struct {
	host    string
	pid     int
	started time.Time
	legacy  bool // ScratchPrefix + 16 hex digits, as older versions named it
}

// parseScratchName parses a name made by scratchName (or by older versions:
// ScratchPrefix and 16 lower-case hex digits). It accepts nothing else:
// canonical decimals only, exactly 16 lower-case hex digits, a clean host.
func parseScratchName(name string) (scratchInfo, bool) {
	rest, ok := strings.CutPrefix(name, ScratchPrefix)
	if !ok {
		return scratchInfo{}, false
	}
	if isHex16(rest) {
		return scratchInfo{legacy: true}, true
	}
	parts := strings.SplitN(rest, "-", 4)
	if len(parts) != 4 || !isHex16(parts[2]) || parts[3] == "" || cleanHost(parts[3]) != parts[3] {
		return scratchInfo{}, false
	}
	pid, ok1 := canonicalInt(parts[0])
	secs, ok2 := canonicalInt(parts[1])
	if !ok1 || !ok2 || pid <= 0 || pid > 1<<31-1 {
		return scratchInfo{}, false
	}
	return scratchInfo{host: parts[3], pid: int(pid), started: time.Unix(secs, 0)}, true
}

// canonicalInt parses a non-negative decimal without sign or leading zeros.
func canonicalInt(s string) (int64, bool) {
	if s == "" || len(s) > 18 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

func isHex16(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// abandoned decides whether a scratch directory is abandoned: made on this
// host by a process that no longer exists, or older than AbandonedAge both
// by its name and by its mtime (legacy names: by mtime alone).
func (si scratchInfo) abandoned(host string, mtime, now time.Time) bool {
	old := now.Sub(mtime) > AbandonedAge
	if si.legacy {
		return old
	}
	if si.host == cleanHost(host) && si.pid != os.Getpid() && processGone(si.pid) {
		return true
	}
	return old && now.Sub(si.started) > AbandonedAge
}

// scratchFileOK reports whether a probe creates a regular file of this name
// in its scratch directory (or the NFS or FUSE client does, for a file
// removed while open).
func scratchFileOK(name string) bool {
	switch name {
	case "excl", "link", "rename-src", "rename-dst":
		return true
	}
	if strings.HasPrefix(name, ".nfs") || strings.HasPrefix(name, ".fuse_hidden") {
		return true
	}
	a, b, ok := strings.Cut(strings.TrimPrefix(name, "f"), ".")
	_, okA := canonicalInt(a)
	_, okB := canonicalInt(b)
	return strings.HasPrefix(name, "f") && ok && okA && okB
}

// scratchDirOK reports whether a probe creates an (empty) directory of this
// name in its scratch directory.
func scratchDirOK(name string) bool {
	_, ok := canonicalInt(strings.TrimPrefix(name, "d"))
	return strings.HasPrefix(name, "d") && ok
}

// reapScratch removes the abandoned scratch directories of earlier probes
// from dir (see [Probe]) and returns the names it removed. It removes only
// directories whose name parses with parseScratchName and that hold nothing
// but what a probe creates (scratchFileOK, empty scratchDirOK); anything
// else is left as it is.
func reapScratch(dir, host string, now time.Time) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		si, ok := parseScratchName(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		if removeScratch(filepath.Clean(dir), e.Name(), func(mtime time.Time) bool { return si.abandoned(host, mtime, now) }) {
			removed = append(removed, e.Name())
		}
	}
	return removed
}
