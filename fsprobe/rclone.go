package fsprobe

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// rcloneCacheTimes fills f's caches for an rclone FUSE mount (fstype
// fuse.rclone). Its options are not in the mount table, so they are read
// from the command line (and RCLONE_* environment) of the `rclone mount`
// process serving f.Mount.MountPoint, found under procRoot; where that
// process cannot be found or read, rclone's defaults are assumed:
// --dir-cache-time 5m (a listing may be five minutes old) and
// --attr-timeout 1s. Only a process whose real uid is root's or the
// mount's owner's (the FUSE mount option user_id) is believed: any user
// can start a process named rclone whose arguments name the mount point.
func rcloneCacheTimes(f *Filesystem, procRoot string) {
	const shorten = "; shorten with rclone mount --dir-cache-time D (0: every listing asks the remote) and --attr-timeout D"
	dir, attr := rcloneDirCacheDefault, rcloneAttrDefault
	dirHow, attrHow := "rclone default --dir-cache-time 5m", "rclone default --attr-timeout 1s"
	pid, args, env, found := findMountProcess(procRoot, f.Mount.MountPoint, "rclone", mountUIDs(f.Mount))
	where := "assumed: the rclone mount process was not found (its options are not in the mount table), or was not run by root or the mount's owner"
	if found {
		where = fmt.Sprintf("the command line of rclone (pid %d) does not set it", pid)
		if v, how, ok := rcloneOption(args, env, "dir-cache-time"); ok {
			if d, err := parseRcloneDuration(v); err == nil {
				dir, dirHow = d, fmt.Sprintf("rclone %s (pid %d)", how, pid)
			}
		}
		if v, how, ok := rcloneOption(args, env, "attr-timeout"); ok {
			if d, err := parseRcloneDuration(v); err == nil {
				attr, attrHow = d, fmt.Sprintf("rclone %s (pid %d)", how, pid)
			}
		}
	}
	f.ReadChecksum = !rcloneBool(args, env, "no-checksum")
	if !strings.Contains(dirHow, "pid") {
		dirHow += ", " + where
	}
	if !strings.Contains(attrHow, "pid") {
		attrHow += ", " + where
	}
	// rclone's own creates and removals update its cached listing in
	// place, without asking the remote: they do not refresh it.
	f.DirCache, f.DirCacheSource = Duration(dir), dirHow+": rclone's directory cache; the mount's own creates update it without re-listing the remote"+shorten
	f.AttrCache, f.AttrCacheSource = Duration(attr), attrHow
}

// mountUIDs are the uids whose processes may serve m: root's, and for a
// FUSE mount the uid of the user who mounted it (its option user_id=N).
func mountUIDs(m *Mount) []int {
	uids := []int{0}
	if m == nil {
		return uids
	}
	opts := append(append([]string{}, m.Options...), m.SuperOptions...)
	if v, ok := option(opts, "user_id"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			uids = append(uids, n)
		}
	}
	return uids
}

// procRealUID returns the real uid of the process whose /proc directory is
// pd (the first field of the Uid line of its status file).
func procRealUID(pd string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(pd, "status"))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				return 0, false
			}
			n, err := strconv.Atoi(f[0])
			return n, err == nil && n >= 0
		}
	}
	return 0, false
}

// holdsFuse reports whether the process whose /proc directory is pd has
// /dev/fuse open, as a FUSE daemon does (false where its descriptors
// cannot be read).
func holdsFuse(pd string) bool {
	fds, err := os.ReadDir(filepath.Join(pd, "fd"))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(pd, "fd", fd.Name())); err == nil && l == "/dev/fuse" {
			return true
		}
	}
	return false
}

// findMountProcess looks under procRoot for the process named prog (by
// the base name of its argv[0]) whose command line has mountPoint as an
// argument (relative arguments are taken from the process's working
// directory) and whose real uid is one of uids (a process of another user
// is not believed, whatever it is called), and returns its pid, arguments
// and environment (nil where unreadable). Of several such processes, one
// holding /dev/fuse open (the FUSE daemon) is preferred.
func findMountProcess(procRoot, mountPoint, prog string, uids []int) (pid int, args, env []string, ok bool) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, nil, nil, false
	}
	want := filepath.Clean(mountPoint)
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n <= 0 {
			continue
		}
		pd := filepath.Join(procRoot, e.Name())
		b, err := os.ReadFile(filepath.Join(pd, "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		argv := splitNul(b)
		if !strings.HasPrefix(filepath.Base(argv[0]), prog) || !containsArg(argv, "mount") {
			continue
		}
		cwd, _ := os.Readlink(filepath.Join(procRoot, e.Name(), "cwd"))
		for _, a := range argv[1:] {
			if a == "" || strings.HasPrefix(a, "-") {
				continue
			}
			if !filepath.IsAbs(a) {
				if cwd == "" {
					continue
				}
				a = filepath.Join(cwd, a)
			}
			if filepath.Clean(a) != want {
				continue
			}
			// The uid is read after the command line: a process that
			// exec'd in between is refused unless trusted itself.
			if uid, known := procRealUID(pd); !known || !slices.Contains(uids, uid) {
				break
			}
			if ok && !holdsFuse(pd) {
				break // a daemon found already wins
			}
			var envv []string
			if eb, err := os.ReadFile(filepath.Join(pd, "environ")); err == nil && len(eb) > 0 {
				envv = splitNul(eb)
			}
			pid, args, env, ok = n, argv[1:], envv, true
			if holdsFuse(pd) {
				return pid, args, env, true
			}
			break
		}
	}
	return pid, args, env, ok
}

func containsArg(argv []string, s string) bool {
	for _, a := range argv[1:] {
		if a == s || a == "cmount" || a == "mount2" {
			return true
		}
	}
	return false
}

func splitNul(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	var out []string
	for _, f := range bytes.Split(b, []byte{0}) {
		out = append(out, string(f))
	}
	return out
}

// rcloneOption returns the value of rclone flag --name in args ("--name v"
// or "--name=v"; the last one wins), else of the environment variable
// RCLONE_NAME, and says which it was.
func rcloneOption(args, env []string, name string) (value, how string, ok bool) {
	flag := "--" + name
	for i, a := range args {
		switch {
		case a == flag && i+1 < len(args):
			value, how, ok = args[i+1], flag+" "+args[i+1], true
		case strings.HasPrefix(a, flag+"="):
			value = strings.TrimPrefix(a, flag+"=")
			how, ok = flag+" "+value, true
		}
	}
	if ok {
		return value, how, true
	}
	if v, key, ok := rcloneEnv(env, name); ok {
		return v, key + "=" + v, true
	}
	return "", "", false
}

// rcloneEnv returns the value of RCLONE_NAME (for flag --name) in env, the
// last one if several, and the variable's name.
func rcloneEnv(env []string, name string) (value, key string, ok bool) {
	key = "RCLONE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	for _, e := range env {
		if v, found := strings.CutPrefix(e, key+"="); found {
			value, ok = v, true
		}
	}
	return value, key, ok
}

// rcloneBool reports whether rclone's boolean flag --name is set in args
// ("--name", or "--name=true"; the last one wins), else in the environment
// variable RCLONE_NAME.
func rcloneBool(args, env []string, name string) bool {
	flag := "--" + name
	set, found := false, false
	for _, a := range args {
		if a == flag {
			set, found = true, true
		} else if v, ok := strings.CutPrefix(a, flag+"="); ok {
			b, err := strconv.ParseBool(v)
			set, found = err == nil && b, true
		}
	}
	if found {
		return set
	}
	v, _, ok := rcloneEnv(env, name)
	b, err := strconv.ParseBool(v)
	return ok && err == nil && b
}

// parseRcloneDuration reads a duration as rclone writes them: a Go
// duration ("5m", "1h30m", "0s"), a bare number of seconds ("0", "300"), or
// one with rclone's longer units d (day), w (week), M (month: 30 days), y
// (year: 365 days). "off" and a negative duration are errors (no such
// cache setting makes sense here: rclone's default is assumed instead).
func parseRcloneDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("fsprobe: negative rclone duration %q", s)
		}
		return d, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f <= maxOptSeconds {
		return time.Duration(f * float64(time.Second)), nil
	}
	units := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'M': 30 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	if n := len(s); n > 1 {
		if u, ok := units[s[n-1]]; ok {
			if f, err := strconv.ParseFloat(s[:n-1], 64); err == nil && f >= 0 && f*float64(u) < float64(1<<62) {
				return time.Duration(f * float64(u)), nil
			}
		}
	}
	return 0, fmt.Errorf("fsprobe: bad rclone duration %q", s)
}
