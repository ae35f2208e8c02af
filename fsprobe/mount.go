package fsprobe

import (
	"bufio"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// magicNames names statfs f_type values (linux/magic.h and filesystem
// sources).
var magicNames = map[uint64]string{
	0xef53:     "ext2/3/4",
	0x01021994: "tmpfs",
	0x6969:     "nfs",
	0x65735546: "fuse",
	0x58465342: "xfs",
	0x9123683e: "btrfs",
	0xff534d42: "cifs",
	0xfe534d42: "smb2",
	0x517b:     "smb",
	0x794c7630: "overlayfs",
	0x01021997: "9p",
	0x2fc12fc1: "zfs",
	0x4d44:     "vfat",
	0x2011bab0: "exfat",
	0x5346544e: "ntfs",
	0x7366746e: "ntfs3",
	0x858458f6: "ramfs",
	0x73717368: "squashfs",
	0x9fa0:     "proc",
	0x62656572: "sysfs",
	0xf2f52010: "f2fs",
	0x47504653: "gpfs",
	0x0bd00bd0: "lustre",
	0x00c36400: "ceph",
	0x5346414f: "afs",
	0x6b414653: "afs",
	0x3153464a: "jfs",
	0x52654973: "reiserfs",
	0xca451a4e: "bcachefs",
}

// remoteTypes are filesystem types other clients reach through caches of
// their own (by mountinfo fstype, prefix match for "fuse.").
var remoteTypes = map[string]bool{
	"nfs": true, "nfs4": true, "cifs": true, "smb3": true, "smbfs": true, "smb2": true, "smb": true,
	"9p": true, "virtiofs": true, "ceph": true, "glusterfs": true, "lustre": true, "gpfs": true,
	"afs": true, "fuse": true, "fuseblk": true, "ocfs2": true, "gfs2": true, "beegfs": true,
}

func isRemote(fstype string) bool {
	return remoteTypes[fstype] || strings.HasPrefix(fstype, "fuse")
}

// parseMountinfo reads /proc/self/mountinfo and returns the entry of the
// mount holding path (already absolute and free of symbolic links): the
// entry with the longest mount point that is a prefix of path; the last such
// entry wins, as later mounts hide earlier ones.
func parseMountinfo(r io.Reader, path string) *Mount {
	var best *Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		m, ok := parseMountLine(sc.Text())
		if !ok || !within(path, m.MountPoint) {
			continue
		}
		if best == nil || len(m.MountPoint) >= len(best.MountPoint) {
			mm := m
			best = &mm
		}
	}
	return best
}

// parseMountLine parses one mountinfo line:
//
//	36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
func parseMountLine(line string) (Mount, bool) {
	pre, post, ok := strings.Cut(line, " - ")
	if !ok {
		return Mount{}, false
	}
	f := strings.Fields(pre)
	g := strings.Fields(post)
	if len(f) < 6 || len(g) < 2 {
		return Mount{}, false
	}
	m := Mount{
		Root:       unescapeMount(f[3]),
		MountPoint: unescapeMount(f[4]),
		Options:    strings.Split(f[5], ","),
		FSType:     g[0],
		Source:     unescapeMount(g[1]),
	}
	if len(g) >= 3 {
		m.SuperOptions = strings.Split(g[2], ",")
	}
	return m, true
}

// unescapeMount undoes mountinfo's octal escapes (\040 for space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func within(path, mountPoint string) bool {
	if mountPoint == "/" {
		return true
	}
	return path == mountPoint || strings.HasPrefix(path, mountPoint+string(filepath.Separator))
}

// option returns the value of option name in opts ("name=value"); present
// reports whether it occurs at all (also as a bare flag).
func option(opts []string, name string) (value string, present bool) {
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		if k == name {
			value, present = v, true
		}
	}
	return value, present
}

// maxOptSeconds bounds a cache time read from a mount option so that it
// fits a time.Duration (about 292 years).
const maxOptSeconds = float64(math.MaxInt64 / int64(time.Second))

func optSeconds(opts []string, name string) (time.Duration, bool) {
	v, ok := option(opts, name)
	if !ok || v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= maxOptSeconds) { // also NaN, +Inf
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// Known cache defaults of filesystems whose options do not show them.
const (
	nfsAcregmaxDefault    = 60 * time.Second
	nfsAcdirmaxDefault    = 60 * time.Second
	sshfsCacheDefault     = 20 * time.Second
	fuseAttrDefault       = 1 * time.Second
	cifsActimeoDefault    = 1 * time.Second
	rcloneDirCacheDefault = 5 * time.Minute
	rcloneAttrDefault     = 1 * time.Second
)

// cacheTimes fills fs.AttrCache and fs.DirCache (and their sources) from
// the mount options, the known defaults of the filesystem type and, for
// rclone, the command line of the mount's process under /proc.
func cacheTimes(f *Filesystem) { cacheTimesFrom(f, "/proc") }

// cacheTimesFrom is cacheTimes with the process table under procRoot.
func cacheTimesFrom(f *Filesystem, procRoot string) {
	if f.Mount == nil {
		return
	}
	opts := append(append([]string{}, f.Mount.Options...), f.Mount.SuperOptions...)
	t := f.Mount.FSType
	switch {
	case t == "nfs" || t == "nfs4":
		if _, noac := option(opts, "noac"); noac {
			f.AttrCacheSource = "mount option noac: attributes are not cached"
			f.DirCacheSource = "mount option noac: directories are revalidated on every access"
			return
		}
		f.AttrCache, f.AttrCacheSource = Duration(nfsAcregmaxDefault), "NFS default acregmax=60"
		if d, ok := optSeconds(opts, "actimeo"); ok {
			f.AttrCache, f.AttrCacheSource = Duration(d), "mount option actimeo="+fmtSec(d)
		} else if d, ok := optSeconds(opts, "acregmax"); ok {
			f.AttrCache, f.AttrCacheSource = Duration(d), "mount option acregmax="+fmtSec(d)
		}
		// The lock lists through a directory it opened once: no path
		// lookup revalidates it (close-to-open covers opens by path), so a
		// listing may come from the directory attribute cache, up to
		// acdirmax old, unless this client changed the directory itself.
		// The kernel shows acdirmin/acdirmax only when they differ from the
		// defaults (30/60 s).
		how := "NFS default acdirmax=60"
		f.DirCache = Duration(nfsAcdirmaxDefault)
		if d, ok := optSeconds(opts, "actimeo"); ok {
			f.DirCache, how = Duration(d), "mount option actimeo="+fmtSec(d)
		} else if d, ok := optSeconds(opts, "acdirmax"); ok {
			f.DirCache, how = Duration(d), "mount option acdirmax="+fmtSec(d)
		}
		f.DirCacheSource = how + ": the NFS directory attribute cache; a listing through a directory opened once (as the lock lists) may be that old, unless the client's own create refreshed it (probe --peer measures it); shorten with the mount option actimeo=N or acdirmax=N, or noac"
		if _, nocto := option(opts, "nocto"); nocto {
			f.DirCacheSource += " (nocto: opens do not revalidate either)"
		}
		if v, ok := option(opts, "lookupcache"); ok {
			f.DirCacheSource += " (lookupcache=" + v + ")"
		}
	case t == "cifs" || t == "smb3":
		mode, _ := option(opts, "cache")
		if mode == "none" {
			f.AttrCacheSource = "mount option cache=none"
			f.DirCacheSource = "mount option cache=none"
			return
		}
		f.AttrCache, f.AttrCacheSource = Duration(cifsActimeoDefault), "CIFS default actimeo=1"
		if d, ok := optSeconds(opts, "actimeo"); ok {
			f.AttrCache, f.AttrCacheSource = Duration(d), "mount option actimeo="+fmtSec(d)
		}
		f.DirCache, f.DirCacheSource = f.AttrCache, f.AttrCacheSource
		if mode != "" {
			f.AttrCacheSource += " (cache=" + mode + ")"
			f.DirCacheSource += " (cache=" + mode + ")"
		}
		f.DirCacheSource += "; shorten with the mount option actimeo=N"
	case t == "fuse.sshfs":
		f.AttrCache, f.AttrCacheSource = Duration(sshfsCacheDefault), "sshfs default cache_timeout=20, assumed: sshfs options are not visible in mountinfo"
		f.DirCache, f.DirCacheSource = Duration(sshfsCacheDefault), f.AttrCacheSource+"; shorten with sshfs -o dir_cache=no or -o cache_timeout=N"
	case t == "fuse.rclone":
		rcloneCacheTimes(f, procRoot)
	case strings.HasPrefix(t, "fuse"):
		f.AttrCache, f.AttrCacheSource = Duration(fuseAttrDefault), "libfuse default attr_timeout=1 and entry_timeout=1, assumed: FUSE daemon options are not visible in mountinfo"
		f.DirCache, f.DirCacheSource = Duration(fuseAttrDefault), f.AttrCacheSource+"; shorten with the FUSE daemon's options (libfuse -o attr_timeout=N,entry_timeout=N)"
	case t == "9p":
		mode, _ := option(opts, "cache")
		if mode != "" && mode != "none" {
			f.AttrCache, f.AttrCacheSource = Duration(sshfsCacheDefault), "9p cache="+mode+" has no timeout: 20 s assumed"
			f.DirCache, f.DirCacheSource = f.AttrCache, f.AttrCacheSource
		}
	}
}

func fmtSec(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
