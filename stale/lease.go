// Package stale owns the lease rules of cryolock: what an entry's content
// says about its lease, when an entry may be judged stale (its owner gone),
// and the heartbeat keeper that stops a live owner from looking stale.
//
// Breaking a stale entry is the one irreversible step of the protocol, so the
// rules here are deliberately conservative: the default rule, [Observed],
// does not compare clocks of different machines at all, and the protocol
// judges an entry whose lease cannot be read yet (empty or half-written) with
// the observer's own lease, which is safe when every contender of a
// directory uses the same lease (docs/PROOF.md, assumption A3).
package stale

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Lease is the lease an owner declares in its entry: how long after its
// last heartbeat (the file's mtime) it may be presumed dead.
type Lease struct {
	// D is the lease duration; ignored when Forever is set.
	D time.Duration
	// Forever means the owner never goes stale (the content "None").
	Forever bool
}

// Forever is the lease of an owner that is never stale.
var Forever = Lease{Forever: true}

// For returns a finite lease of d.
func For(d time.Duration) Lease { return Lease{D: d} }

// String renders the lease as entry content: seconds in the shortest
// exact decimal form ("10", "2.5", "0.000000001") or "None". [ParseContent]
// gives back the same lease for every D from 0 to about 4.6·10⁹ s.
func (l Lease) String() string {
	if l.Forever {
		return "None"
	}
	sign, u := "", uint64(l.D)
	if l.D < 0 {
		sign, u = "-", -u
	}
	s := sign + strconv.FormatUint(u/uint64(time.Second), 10)
	if ns := u % uint64(time.Second); ns != 0 {
		frac := strconv.FormatUint(ns+uint64(time.Second), 10)[1:] // 9 digits
		s += "." + strings.TrimRight(frac, "0")
	}
	return s
}

// Content is what an entry holds, parsed.
type Content int

const (
	// Valid content: a lease.
	Valid Content = iota
	// Unknown content: empty, or a proper prefix of valid content (a write
	// in progress, or one torn by a crash). The entry is present; its lease
	// is not known yet.
	Unknown
	// Garbage content: no writer following the format could have produced
	// it, even partially. The entry is foreign.
	Garbage
)

// MaxContentSize is the most bytes an entry may hold (docs/PROTOCOL.md,
// F3): a file any larger is foreign whatever it holds. A reader should read
// at most MaxContentSize+1 bytes, so that [ParseContent] sees that a file is
// too long, and compare with the file's real size through [ParseEntry].
const MaxContentSize = 4096

// maxLeaseSeconds bounds a parsed lease so that it fits a time.Duration.
const maxLeaseSeconds = float64(math.MaxInt64/int64(time.Second)) / 2

// isSpace reports whether c is ASCII white space (F3's WS): space, tab, line
// feed, vertical tab, form feed, carriage return. Nothing else is: Unicode
// white space such as U+3000 is foreign.
func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// ParseContent parses an entry's content b, as read (at most
// [MaxContentSize]+1 bytes). It accepts exactly the grammar of
// docs/PROTOCOL.md, F3: a lease surrounded by ASCII white space, where the
// lease is what cryolock 1.x writes (Python's str of a number or of None):
// decimal seconds ("10", "2.5", "1e-05"; an exponent only after at most one
// digit before the point), "None", and "inf" or "nan", which Python's
// comparisons never judge stale, so they mean Forever here too.
//
// It returns Valid with the lease; Unknown for content that is empty or a
// proper prefix of some valid content ("", "1.", "1e-", "No"), the mark of a
// write in progress or torn by a crash; and Garbage with an error describing
// the problem otherwise: content longer than MaxContentSize, any byte outside
// the grammar (Unicode white space included), a negative lease, a lease above
// about 4.6·10⁹ s, or a prefix that no completion could bring within that
// bound ("99999999999.").
//
// ParseContent sees only the bytes read; the protocol calls [ParseEntry],
// which also weighs the file's real size.
func ParseContent(b []byte) (Lease, Content, error) {
	if len(b) > MaxContentSize {
		return Lease{}, Garbage, fmt.Errorf("content of more than %d bytes is not a lease", MaxContentSize)
	}
	i, k := 0, len(b)
	for i < k && isSpace(b[i]) {
		i++
	}
	for k > i && isSpace(b[k-1]) {
		k--
	}
	s, trailing := string(b[i:k]), k < len(b)
	if s == "" {
		return Lease{}, Unknown, nil
	}
	for _, w := range []string{"None", "inf", "nan"} {
		if s == w {
			return Forever, Valid, nil
		}
		if !trailing && strings.HasPrefix(w, s) {
			return Lease{}, Unknown, nil
		}
	}
	switch scanNumber(s) {
	case numComplete:
		d, ok := seconds(s)
		if !ok {
			return Lease{}, Garbage, fmt.Errorf("content %q is not a usable lease (above %.0f s)", clip(s), maxLeaseSeconds)
		}
		return Lease{D: d}, Valid, nil
	case numPartial:
		// A proper prefix, unless white space already ended it or no
		// completion could be small enough.
		if !trailing && minCompletion(s) <= maxLeaseSeconds {
			return Lease{}, Unknown, nil
		}
	}
	return Lease{}, Garbage, fmt.Errorf("content %q is not a lease (want seconds such as 10 or 2.5, or None)", clip(s))
}

// ParseEntry parses the content b read from an entry (at most
// [MaxContentSize]+1 bytes) together with the file's size as reported by a
// stat made after the read. It is [ParseContent], and moreover:
//   - a size above MaxContentSize is Garbage: no contender writes that much,
//     whatever the bytes read so far look like;
//   - content that would be Valid is only Unknown when size differs from
//     len(b): the read did not see the whole file (a write in progress, or
//     the file changed between the read and the stat), so "1" may be the
//     start of "10" and must not be taken for a lease of one second;
//   - NUL bytes at the end are bytes not written yet, like bytes not read:
//     a file whose size grew before its data landed reads as "\x00\x00" on
//     an rclone mount while its creator writes "10" (and so do files after
//     a crash on filesystems that allocate late). Content that is NULs
//     after valid content or a proper prefix of it (or NULs alone) is
//     Unknown; NULs after anything else, or before other bytes, are
//     Garbage.
func ParseEntry(b []byte, size int64) (Lease, Content, error) {
	if size > MaxContentSize {
		return Lease{}, Garbage, fmt.Errorf("content of %d bytes is not a lease (at most %d)", size, MaxContentSize)
	}
	if head := bytes.TrimRight(b, "\x00"); len(head) < len(b) {
		if _, kind, err := ParseContent(head); kind == Garbage {
			return Lease{}, Garbage, err
		}
		return Lease{}, Unknown, nil
	}
	l, kind, err := ParseContent(b)
	if kind == Valid && size != int64(len(b)) {
		return Lease{}, Unknown, nil
	}
	return l, kind, err
}

type numState int

const (
	numBad      numState = iota // not a number nor a prefix of one
	numPartial                  // a proper prefix of a number
	numComplete                 // a whole number
)

// scanNumber checks s against F3's seconds:
//
//	seconds  = mantissa [ exponent ]
//	mantissa = 1*DIGIT [ "." 1*DIGIT ] / "." 1*DIGIT
//	exponent = ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT  ; only after at most one digit before "."
func scanNumber(s string) numState {
	i, n := 0, len(s)
	digits := func() int {
		j := i
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	intDigits, point, fracDigits := digits(), false, 0
	if i < n && s[i] == '.' {
		point = true
		i++
		fracDigits = digits()
	}
	partialMantissa := intDigits+fracDigits == 0 || (point && fracDigits == 0)
	if i == n {
		if partialMantissa {
			return numPartial // ".", "1."
		}
		return numComplete
	}
	if partialMantissa || intDigits > 1 || (s[i] != 'e' && s[i] != 'E') {
		return numBad
	}
	i++
	if i < n && (s[i] == '+' || s[i] == '-') {
		i++
	}
	exp := digits()
	switch {
	case i != n:
		return numBad
	case exp == 0:
		return numPartial // "1e", "1e-"
	}
	return numComplete
}

// seconds converts a whole number (numComplete) to a duration, rounded to
// the nanosecond; false if it exceeds maxLeaseSeconds. Without an exponent
// it works in integers, so that every duration [Lease.String] writes comes
// back exactly.
func seconds(s string) (time.Duration, bool) {
	if strings.ContainsAny(s, "eE") {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v > maxLeaseSeconds {
			return 0, false
		}
		return time.Duration(math.Round(v * float64(time.Second))), true
	}
	whole, frac, _ := strings.Cut(s, ".")
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 10 {
		return 0, false
	}
	var sec uint64
	for i := 0; i < len(whole); i++ {
		sec = sec*10 + uint64(whole[i]-'0')
	}
	var ns uint64
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(frac) {
			ns += uint64(frac[i] - '0')
		}
	}
	if len(frac) > 9 && frac[9] >= '5' {
		ns++ // round half up at the nanosecond
	}
	d := sec*uint64(time.Second) + ns
	if sec > uint64(maxLeaseSeconds) || d > uint64(maxLeaseSeconds)*uint64(time.Second) {
		return 0, false
	}
	return time.Duration(d), true
}

// minCompletion returns the smallest value of a number that the partial
// number s (numPartial) can still grow into.
func minCompletion(s string) float64 {
	if strings.ContainsAny(s, "eE") {
		return 0 // "…e-" can always end in a large negative exponent
	}
	// "." or "123.": more digits after the point cannot make it smaller.
	v, err := strconv.ParseFloat(s+"0", 64)
	if err != nil {
		return math.Inf(1)
	}
	return v
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
