package fsprobe

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// escapeMount writes s as mountinfo does, escaping every byte but a few
// safe ones as \ooo (so that the line is plain ASCII and a field is never
// "-" or blank).
func escapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/._:,=+@", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString(`\` + string('0'+c>>6) + string('0'+c>>3&7) + string('0'+c&7))
	}
	return b.String()
}

// formatMountLine writes m as a mountinfo line.
func formatMountLine(m Mount) string {
	line := "36 35 98:0 " + escapeMount(m.Root) + " " + escapeMount(m.MountPoint) + " " + strings.Join(m.Options, ",") +
		" shared:1 - " + m.FSType + " " + escapeMount(m.Source)
	if m.SuperOptions != nil {
		line += " " + strings.Join(m.SuperOptions, ",")
	}
	return line
}

// FuzzParseMountLine checks the parser of mountinfo lines (mount points and
// sources other users may choose): no panic; what it accepts it gives back
// from its canonical re-formatting; the mount of a path contains the path.
func FuzzParseMountLine(f *testing.F) {
	f.Fuzz(func(t *testing.T, line, path string) {
		m, ok := parseMountLine(line)
		// The kernel escapes nothing in the options field and never writes
		// it as "-": a line that does cannot be re-formatted.
		if ok && strings.Join(m.Options, ",") != "-" {
			if len(m.Options) == 0 || m.FSType == "" {
				t.Fatalf("parseMountLine(%q) = %+v: no options or type", line, m)
			}
			l2 := formatMountLine(m)
			m2, ok2 := parseMountLine(l2)
			if !ok2 || !reflect.DeepEqual(m, m2) {
				t.Fatalf("parseMountLine(%q) = %+v, but its canonical form %q parses as %+v, %v", line, m, l2, m2, ok2)
			}
		}
		if best := parseMountinfo(strings.NewReader(line+"\n"+line), path); best != nil && !within(path, best.MountPoint) {
			t.Fatalf("the mount of %q is %q", path, best.MountPoint)
		}
	})
}

// FuzzMountOptions checks that no mount options, however odd ("actimeo=inf",
// "acregmax=1e300", "nan"), give a negative or overflowed cache time.
func FuzzMountOptions(f *testing.F) {
	f.Fuzz(func(t *testing.T, fstype, opts, superOpts string) {
		m := &Mount{FSType: fstype, Options: strings.Split(opts, ","), SuperOptions: strings.Split(superOpts, ",")}
		fs := Filesystem{Type: fstype, Mount: m}
		cacheTimes(&fs)
		if fs.AttrCache < 0 || fs.DirCache < 0 {
			t.Fatalf("type %q options %q/%q: attribute cache %v, directory cache %v", fstype, opts, superOpts, fs.AttrCache, fs.DirCache)
		}
		for _, name := range []string{"actimeo", "acregmax", "acdirmax", "attr_timeout", "entry_timeout", "cache_timeout"} {
			if d, ok := optSeconds(m.Options, name); ok && d < 0 {
				t.Fatalf("optSeconds(%q, %q) = %v", opts, name, d)
			}
		}
	})
}

// Fixed inputs of FuzzDecodeCache.
const (
	fuzzDir  = "/l/x.cryolock"
	fuzzHost = "h"
)

var fuzzNow = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// FuzzDecodeCache checks the decoder of the cached report (a file in .meta
// anyone who can write the lock directory may rewrite): no panic; it
// accepts only a report of this version, directory and host, of an
// acceptable age, with the recommendation recomputed; and what it accepts
// survives a canonical re-encoding unchanged.
func FuzzDecodeCache(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := decodeCache(b, fuzzDir, fuzzHost, fuzzNow, DefaultCacheMaxAge)
		if !ok {
			return
		}
		age := fuzzNow.Sub(r.Started)
		if r.Version != ReportVersion || r.Dir != fuzzDir || r.Host != fuzzHost || age < -time.Minute || age > DefaultCacheMaxAge {
			t.Fatalf("accepted a report of version %d, dir %q, host %q, age %v", r.Version, r.Dir, r.Host, age)
		}
		if !reflect.DeepEqual(r.Recommendation, Recommend(r)) {
			t.Fatalf("the recommendation was not recomputed")
		}
		c, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("an accepted report does not encode: %v", err)
		}
		r2, ok := decodeCache(c, fuzzDir, fuzzHost, fuzzNow, DefaultCacheMaxAge)
		if !ok {
			t.Fatalf("the canonical form of an accepted report is refused: %s", c)
		}
		c2, _ := json.Marshal(r2)
		if string(c) != string(c2) {
			t.Fatalf("re-encoding changes an accepted report:\n%s\n%s", c, c2)
		}
	})
}
