package fsprobe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// MetaDir is the subdirectory of a lock directory that holds metadata such
// as the cached reports: [protocol.MetaDir], which the protocol ignores.
const MetaDir = protocol.MetaDir

// ReportVersion is the version of the report's schema, stored in
// Report.Version; [Cached] ignores a cached report of another version.
const ReportVersion = 1

// MaxCacheSize bounds what [Cached] reads of a cached report: a report is a
// few kilobytes, and a larger file is not one.
const MaxCacheSize = 1 << 20

// CachePath returns the file in which [Cached] keeps the report of lockDir
// for the named host: lockDir/.meta/fsprobe-<host>.json. Each client keeps
// its own, since what one client measures (its mount, its caches, its clock)
// does not hold for another.
func CachePath(lockDir, host string) string {
	return filepath.Join(lockDir, MetaDir, cacheName(host))
}

// cacheName is the base name of the cache file of host.
func cacheName(host string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, host)
	if clean == "" {
		clean = "_"
	}
	return "fsprobe-" + clean + ".json"
}

// Cached returns a report of the lock directory lockDir without probing on
// every start: it returns the report cached in [CachePath] when it was made
// by this host for this directory, is younger than Options.CacheMaxAge
// (default 24 h), has this package's [ReportVersion], and the filesystem
// under lockDir still has the same type; otherwise it runs [Probe] (without
// the two-party mode, whatever Options.Peer says) in lockDir, which it
// creates if missing, and caches the result.
//
// lockDir must be a path [protocol.New] accepts (its name ends in
// ".cryolock"); any other is refused with a [*protocol.Error] (Op "cache")
// wrapping [protocol.ErrBadPath] before anything is created.
//
// Cached never follows a symbolic link at lockDir, at lockDir/.meta or at the
// cache file, never blocks opening the cache file (a named pipe planted there
// is refused at once) and reads at most [MaxCacheSize] bytes. Anything there
// that Cached did not write — a symbolic link, a named pipe, a device, a
// file larger than MaxCacheSize, a .meta that is not a directory — is left
// untouched and reported with a [*protocol.Error] (Op "cache") that wraps
// [protocol.ErrForeign] (or [protocol.ErrBadPath] for lockDir itself). A
// cache that is merely stale, unreadable or corrupt is replaced.
//
// The report is cached only where the probe found that rename-over works:
// it is written to a temporary file in lockDir/.meta and renamed over the
// old one, both relative to a handle on that directory opened without
// following links (on Unix; elsewhere by path after checking each component
// with Lstat, which a concurrent swap can defeat), so that a reader never
// sees a partial report. Where rename does not work, or on Windows, nothing
// is written and every call probes. A failure to write the cache is not an
// error. A cache file owned by another user than this process's effective
// one or root is not used (on Unix; elsewhere its owner is not checked).
// The filesystem of a cached report (type, whether remote, cache times) is
// that of the identification made now, not the file's, and its
// recommendation is recomputed with this package's [Recommend].
//
// Use it as
//
//	r, err := fsprobe.Cached(ctx, path, fsprobe.Options{})
//	if err != nil { ... }
//	l, err := protocol.New(path, fsprobe.WithReport(r))
func Cached(ctx context.Context, lockDir string, opts Options) (Report, error) {
	// A path protocol.New refuses is no lock directory: refuse it before
	// anything is made there.
	if _, err := protocol.New(lockDir); err != nil {
		if pe := (*protocol.Error)(nil); errors.As(err, &pe) {
			return Report{}, &protocol.Error{Op: "cache", Path: lockDir, Err: pe.Err}
		}
		return Report{}, err
	}
	if err := opts.check(); err != nil {
		return Report{}, &protocol.Error{Op: "cache", Path: lockDir, Err: err}
	}
	o := opts.withDefaults()
	o.Peer = false
	abs, err := filepath.Abs(lockDir)
	if err != nil {
		return Report{}, &protocol.Error{Op: "cache", Path: lockDir, Err: err}
	}
	host, _ := os.Hostname()
	name := cacheName(host)
	b, err := readCache(abs, name)
	switch {
	case err == nil:
		if r, ok := decodeCache(b, abs, host, time.Now(), o.CacheMaxAge); ok {
			if f, same := sameFilesystem(abs, r); same {
				// What the filesystem is and caches comes from this
				// identification, not from the file.
				r.Filesystem = f
				r.Recommendation = Recommend(r)
				return r, nil
			}
		}
	case errors.Is(err, protocol.ErrForeign) || errors.Is(err, protocol.ErrBadPath):
		return Report{}, err // names the path already
	}
	d, err := o.FS.OpenDir(nil, abs, true, 0o777)
	if err != nil {
		return Report{}, &protocol.Error{Op: "cache", Path: abs, Err: err}
	}
	d.Close()
	r, err := Probe(ctx, abs, o)
	if err != nil {
		return r, err
	}
	if r.Primitives.RenameOver.Works && canCache {
		if b, err := json.MarshalIndent(r, "", "  "); err == nil {
			_ = writeCache(abs, name, append(b, '\n'))
		}
	}
	return r, nil
}

// decodeCache returns the report encoded in b if it is usable for dir on
// host at time now: it parses, has [ReportVersion], names dir and host, and
// started no more than maxAge before now (nor more than a minute after). Its
// recommendation is recomputed. Whether the filesystem is still the same is
// left to [sameFilesystem].
func decodeCache(b []byte, dir, host string, now time.Time, maxAge time.Duration) (Report, bool) {
	if len(b) > MaxCacheSize {
		return Report{}, false
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return Report{}, false
	}
	age := now.Sub(r.Started)
	if r.Version != ReportVersion || r.Dir != dir || r.Host != host || age < -time.Minute || age > maxAge {
		return Report{}, false
	}
	r.Recommendation = Recommend(r)
	return r, true
}

// sameFilesystem identifies the filesystem under dir now and reports
// whether it is still the one report r describes.
func sameFilesystem(dir string, r Report) (Filesystem, bool) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return Filesystem{}, false
	}
	f := identify(real)
	return f, f.Type == r.Filesystem.Type && f.Magic == r.Filesystem.Magic
}

// errNotOwnCache: a cache file another user owns, which [Cached] does not
// use (it probes instead).
var errNotOwnCache = errors.New("fsprobe: cache file not written by this user")

// foreignErr reports something at path that the cache did not put there.
func foreignErr(path, what string) error {
	return &protocol.Error{Op: "cache", Path: path, Err: fmt.Errorf("%w: %s (left untouched)", protocol.ErrForeign, what)}
}
