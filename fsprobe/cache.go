package fsprobe

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MetaDir is the subdirectory of a lock directory that holds metadata such
// as the cached probe report. The lock protocol ignores subdirectories.
const MetaDir = ".meta"

// ReportVersion is the version of the report's schema, stored in
// Report.Version; [Cached] ignores a cached report of another version.
const ReportVersion = 1

// CachePath returns the file in which [Cached] keeps the report of lockDir
// for the named host: lockDir/.meta/fsprobe-<host>.json. Each client keeps
// its own, since what one client measures (its mount, its caches, its clock)
// does not hold for another.
func CachePath(lockDir, host string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, host)
	if clean == "" {
		clean = "_"
	}
	return filepath.Join(lockDir, MetaDir, "fsprobe-"+clean+".json")
}

// Cached returns a report of the lock directory lockDir without probing on
// every start: it returns the report cached in [CachePath] when it was made
// by this host for this directory, is younger than Options.CacheMaxAge
// (default 24 h), has this package's [ReportVersion], and the filesystem
// under lockDir still has the same type; otherwise it runs [Probe] (without
// the two-party mode, whatever Options.Peer says) in lockDir, which it
// creates if missing, and caches the result.
//
// The report is cached only where the probe found that rename-over works:
// the file is written with github.com/google/renameio (write a temporary
// file, then rename it over the old one), so that a reader never sees a
// partial report. Where rename does not work, or on platforms renameio
// does not support, nothing is written and every call probes. A failure to
// write the cache is not an error. The recommendation of a cached report
// is recomputed with this package's [Recommend].
//
// Use it as
//
//	r, err := fsprobe.Cached(ctx, path, fsprobe.Options{})
//	if err != nil { ... }
//	l, err := protocol.New(path, fsprobe.WithReport(r))
func Cached(ctx context.Context, lockDir string, opts Options) (Report, error) {
	o := opts.withDefaults()
	o.Peer = false
	abs, err := filepath.Abs(lockDir)
	if err != nil {
		return Report{}, fmt.Errorf("fsprobe: cached probe of %s: %w", lockDir, err)
	}
	host, _ := os.Hostname()
	path := CachePath(abs, host)
	if r, ok := loadCache(path, abs, host, o.CacheMaxAge); ok {
		return r, nil
	}
	d, err := o.FS.OpenDir(nil, abs, true, 0o777)
	if err != nil {
		return Report{}, fmt.Errorf("fsprobe: cached probe: creating %s: %w", abs, err)
	}
	d.Close()
	r, err := Probe(ctx, abs, o)
	if err != nil {
		return r, err
	}
	if r.Primitives.RenameOver.Works && canCache {
		if b, err := json.MarshalIndent(r, "", "  "); err == nil {
			if d, err := o.FS.OpenDir(nil, filepath.Dir(path), true, 0o777); err == nil {
				d.Close()
				writeCache(path, append(b, '\n'))
			}
		}
	}
	return r, nil
}

// loadCache returns the report cached at path if it is usable for dir.
func loadCache(path, dir, host string, maxAge time.Duration) (Report, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Report{}, false
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return Report{}, false
	}
	age := time.Since(r.Started)
	if r.Version != ReportVersion || r.Dir != dir || r.Host != host || age < -time.Minute || age > maxAge {
		return Report{}, false
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return Report{}, false
	}
	if f := identify(real); f.Type != r.Filesystem.Type || f.Magic != r.Filesystem.Magic {
		return Report{}, false
	}
	r.Recommendation = Recommend(r)
	return r, true
}
