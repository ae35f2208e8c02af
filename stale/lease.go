// Package stale owns the lease rules of cryolock: what a spec file's content
// says about its lease, when an entry may be judged stale (its owner gone),
// and the heartbeat keeper that stops a live owner from looking stale.
//
// Breaking a stale entry is the one irreversible step of the protocol, so the
// rules here are deliberately conservative: an entry whose lease cannot be
// read yet is never judged stale on the strength of a guess, and the default
// rule, [Observed], does not compare clocks of different machines at all.
package stale

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Lease is the lease an owner declares in its spec file: how long after its
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

// String renders the lease as spec-file content: seconds in the shortest
// decimal form ("10", "2.5") or "None".
func (l Lease) String() string {
	if l.Forever {
		return "None"
	}
	return strconv.FormatFloat(l.D.Seconds(), 'f', -1, 64)
}

// Content is what a spec file holds, parsed.
type Content int

const (
	// Valid content: a lease.
	Valid Content = iota
	// Unknown content: empty, or a prefix of valid content (a write in
	// progress, or one torn by a crash). The entry is present; its lease is
	// not known yet.
	Unknown
	// Garbage content: no writer following the format could have produced
	// it, even partially.
	Garbage
)

// maxLeaseSeconds bounds a parsed lease so that it fits a time.Duration.
const maxLeaseSeconds = float64(math.MaxInt64/int64(time.Second)) / 2

// ParseContent parses a spec file's content. Surrounding ASCII white space is
// ignored. It returns Valid with the lease, Unknown for content that is empty
// or could still grow into a valid lease ("", "1.", "No"), and Garbage with an
// error describing the problem otherwise.
func ParseContent(b []byte) (Lease, Content, error) {
	s := strings.TrimSpace(string(b))
	if s == "None" {
		return Forever, Valid, nil
	}
	if s == "" || strings.HasPrefix("None", s) {
		return Lease{}, Unknown, nil
	}
	if strings.HasPrefix(s, "N") || strings.ContainsFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }) {
		return Lease{}, Garbage, fmt.Errorf("content %q is not a lease (want seconds such as 10 or 2.5, or None)", clip(s))
	}
	if strings.Count(s, ".") > 1 {
		return Lease{}, Garbage, fmt.Errorf("content %q is not a lease: more than one decimal point", clip(s))
	}
	if s == "." || strings.HasSuffix(s, ".") {
		return Lease{}, Unknown, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v > maxLeaseSeconds {
		return Lease{}, Garbage, fmt.Errorf("content %q is not a usable lease", clip(s))
	}
	return Lease{D: time.Duration(v * float64(time.Second))}, Valid, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
