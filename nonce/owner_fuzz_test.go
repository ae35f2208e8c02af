package nonce

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzNameRoundTrip checks the parser of entry names, which any user of the
// directory may choose: no panic; what it accepts is canonical (formatting
// the parts gives back the very name) and has a valid owner; and every
// valid owner with any ticket round-trips through FormatName.
func FuzzNameRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string, ticket int32) {
		owner, tk, ok := ParseName(name)
		if ok {
			if !ValidOwner(owner) {
				t.Fatalf("ParseName(%q): invalid owner %q", name, owner)
			}
			if got := FormatName(owner, tk); got != name {
				t.Fatalf("ParseName(%q) = %q, %d: not canonical (%q)", name, owner, tk, got)
			}
		} else if owner != "" || tk != 0 {
			t.Fatalf("ParseName(%q) rejected with parts %q, %d", name, owner, tk)
		}
		// The part before the first dot, as an owner, with the fuzzed ticket.
		o, _, _ := strings.Cut(name, ".")
		if ValidOwner(o) {
			n := FormatName(o, ticket)
			if o2, t2, ok := ParseName(n); !ok || o2 != o || t2 != ticket {
				t.Fatalf("FormatName(%q, %d) = %q parses as %q, %d, %v", o, ticket, n, o2, t2, ok)
			}
		}
	})
}

// FuzzParseOwner checks the parser of owners: no panic; what it accepts is
// rebuilt exactly from its parts; the reader form is recognised only on top
// of a parsed owner.
func FuzzParseOwner(f *testing.F) {
	f.Fuzz(func(t *testing.T, owner string) {
		info, ok := ParseOwner(owner)
		if !ok {
			if info.Shared || IsShared(owner) {
				t.Fatalf("ParseOwner(%q) rejected, yet shared (%+v, IsShared %v)", owner, info, IsShared(owner))
			}
			return
		}
		base := owner
		if info.Shared {
			base = strings.TrimSuffix(owner, SharedSuffix)
		}
		if info.Shared != IsShared(owner) {
			t.Fatalf("ParseOwner(%q).Shared = %v, IsShared = %v", owner, info.Shared, IsShared(owner))
		}
		if info.Pid < 0 {
			t.Fatalf("ParseOwner(%q): pid %d", owner, info.Pid)
		}
		prefix := info.Host + "_" + strconv.Itoa(info.Pid) + "_"
		rnd, found := strings.CutPrefix(base, prefix)
		if !found || len(rnd) != randLen || strings.Trim(rnd, alphabet) != "" {
			t.Fatalf("ParseOwner(%q) = %+v: not rebuilt by its parts (%q + 12 base-32 digits)", owner, info, prefix)
		}
	})
}

// FuzzNewOwner checks that every owner NewOwner makes, from any host name
// and pid, is valid, never shared, and parses back to what made it.
func FuzzNewOwner(f *testing.F) {
	f.Fuzz(func(t *testing.T, host string, pid int, seed uint64, ticket int32) {
		o := NewOwner(newSeeded(seed), host, pid)
		if !ValidOwner(o) || IsShared(o) {
			t.Fatalf("NewOwner(%q, %d) = %q: valid %v, shared %v", host, pid, o, ValidOwner(o), IsShared(o))
		}
		info, ok := ParseOwner(o)
		wantPid := pid
		if pid < 0 || int64(pid) > 9_999_999_999 {
			wantPid = 0
		}
		if !ok || info.Pid != wantPid || info.Shared || strings.ContainsAny(info.Host, "_.") || info.Host == "" {
			t.Fatalf("NewOwner(%q, %d) = %q parses as %+v, %v", host, pid, o, info, ok)
		}
		r := SharedOwner(o)
		if info, ok := ParseOwner(r); !ValidOwner(r) || !ok || !info.Shared || info.Pid != wantPid {
			t.Fatalf("SharedOwner(%q) = %q parses as %+v, %v", o, r, info, ok)
		}
		if o2, t2, ok := ParseName(FormatName(o, ticket)); !ok || o2 != o || t2 != ticket {
			t.Fatalf("the name of %q, %d does not parse back", o, ticket)
		}
	})
}
