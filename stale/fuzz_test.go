package stale

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// maxD is the largest lease ParseContent accepts.
const maxD = time.Duration(uint64(maxLeaseSeconds) * uint64(time.Second))

// completion returns a suffix that turns Unknown content b into valid
// content: the rest of the word it begins, or a digit.
func completion(b []byte) string {
	s := strings.TrimLeft(string(b), " \t\n\v\f\r")
	for _, w := range []string{"None", "inf", "nan"} {
		if s != "" && strings.HasPrefix(w, s) {
			return w[len(s):]
		}
	}
	return "0"
}

// FuzzParseContent checks the classification of entry content, bytes any
// other user may have written (issue 11, item 4):
//   - no panic; an error exactly with Garbage;
//   - Valid: a lease within bounds that its canonical form gives back;
//   - Unknown really is a proper prefix of valid content: a completion makes it Valid;
//   - the accepted set is prefix-closed (every prefix of accepted content is
//     accepted) and Garbage stays Garbage whatever follows;
//   - accepted content is short, ASCII, and only ASCII white space surrounds it.
func FuzzParseContent(f *testing.F) {
	f.Fuzz(func(t *testing.T, b, more []byte) {
		l, kind, err := ParseContent(b)
		if (kind == Garbage) != (err != nil) || kind < Valid || kind > Garbage {
			t.Fatalf("ParseContent(%q) = %v, %v, %v", b, l, kind, err)
		}
		if kind == Garbage {
			if _, k2, _ := ParseContent(append(bytes.Clone(b), more...)); k2 != Garbage {
				t.Fatalf("ParseContent(%q) is Garbage but with %q after it %v", b, more, k2)
			}
			return
		}
		if len(b) > MaxContentSize {
			t.Fatalf("%d bytes accepted", len(b))
		}
		for _, c := range b {
			if c >= 0x7f || (c < ' ' && !isSpace(c)) {
				t.Fatalf("ParseContent(%q) accepts byte %#x", b, c)
			}
		}
		for i := range len(b) {
			if len(b) > 64 && i%(len(b)/32) != 0 && i < len(b)-8 {
				continue // a sample of the prefixes of long content: keep it linear
			}
			if _, k, err := ParseContent(b[:i]); k == Garbage {
				t.Fatalf("ParseContent(%q) = %v but its prefix %q is Garbage: %v", b, kind, b[:i], err)
			}
		}
		switch kind {
		case Valid:
			if !l.Forever && (l.D < 0 || l.D > maxD) {
				t.Fatalf("ParseContent(%q) = %v: out of bounds", b, l)
			}
			if l2, k2, err := ParseContent([]byte(l.String())); k2 != Valid || l2 != l {
				t.Fatalf("ParseContent(%q) = %v, but its canonical form %q parses as %v %v %v", b, l, l.String(), l2, k2, err)
			}
		case Unknown:
			if l != (Lease{}) {
				t.Fatalf("Unknown with a lease %v", l)
			}
			c := append(bytes.Clone(b), completion(b)...)
			if len(c) <= MaxContentSize {
				if _, k2, err := ParseContent(c); k2 != Valid {
					t.Fatalf("ParseContent(%q) is Unknown, but %q is %v (%v): not a prefix of valid content", b, c, k2, err)
				}
			}
		}
	})
}

// FuzzParseEntry checks that the file's real size is weighed: Valid only
// when the whole file was read, Garbage whenever the file is too large, and
// otherwise what the bytes say — where NULs at the end count as bytes not
// written yet (never Valid, and Garbage only if what precedes them is).
func FuzzParseEntry(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, size int64) {
		l, kind, err := ParseEntry(b, size)
		_, k0, _ := ParseContent(b)
		if head := bytes.TrimRight(b, "\x00"); len(head) < len(b) && size <= MaxContentSize {
			_, kh, _ := ParseContent(head)
			if want := map[bool]Content{true: Garbage, false: Unknown}[kh == Garbage]; kind != want || (kind == Garbage) != (err != nil) {
				t.Fatalf("ParseEntry(%q, %d) = %v, %v; want %v (NULs at the end after %v content)", b, size, kind, err, want, kh)
			}
			return
		}
		switch {
		case (kind == Garbage) != (err != nil):
			t.Fatalf("ParseEntry(%q, %d) = %v with error %v", b, size, kind, err)
		case size > MaxContentSize || k0 == Garbage:
			if kind != Garbage {
				t.Fatalf("ParseEntry(%q, %d) = %v, want Garbage", b, size, kind)
			}
		case kind == Valid && size != int64(len(b)):
			t.Fatalf("ParseEntry(%q, %d) = Valid %v from a partial read", b, size, l)
		case k0 == Valid && size == int64(len(b)) && kind != Valid:
			t.Fatalf("ParseEntry(%q, %d) = %v, want Valid", b, size, kind)
		case k0 == Unknown && kind != Unknown:
			t.Fatalf("ParseEntry(%q, %d) = %v, want Unknown", b, size, kind)
		}
	})
}

// FuzzLeaseRoundTrip checks that every lease a contender may write reads
// back exactly, and that a negative one is never read as a lease.
func FuzzLeaseRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, d int64) {
		l := For(time.Duration(d))
		got, kind, err := ParseContent([]byte(l.String()))
		switch {
		case d >= 0 && time.Duration(d) <= maxD:
			if kind != Valid || got != l {
				t.Fatalf("%v wrote %q, read back %v %v %v", l, l.String(), got, kind, err)
			}
		case kind == Valid:
			t.Fatalf("%v wrote %q, read back as the lease %v", l, l.String(), got)
		}
	})
}
