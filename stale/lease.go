// Package stale owns the lease rules of cryolock: what a spec file's content
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
// ignored. It accepts what cryolock 1.x writes (Python's str of a number or
// of None): decimal seconds ("10", "2.5", "1e-05"), "None", and "inf" or
// "nan", which Python's comparisons never judge stale, so they mean Forever
// here too. It returns Valid with the lease; Unknown for content that is
// empty or could still grow into valid content ("", "1.", "1e-", "No"), the
// mark of a write in progress or torn by a crash; and Garbage with an error
// describing the problem otherwise (including negative leases).
func ParseContent(b []byte) (Lease, Content, error) {
	s := strings.TrimSpace(string(b))
	for _, w := range []string{"None", "inf", "nan"} {
		if s == w {
			return Forever, Valid, nil
		}
	}
	if s == "" {
		return Lease{}, Unknown, nil
	}
	for _, w := range []string{"None", "inf", "nan"} {
		if strings.HasPrefix(w, s) {
			return Lease{}, Unknown, nil
		}
	}
	complete, ok := numberPrefix(s)
	if !ok {
		return Lease{}, Garbage, fmt.Errorf("content %q is not a lease (want seconds such as 10 or 2.5, or None)", clip(s))
	}
	if !complete {
		return Lease{}, Unknown, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v > maxLeaseSeconds {
		return Lease{}, Garbage, fmt.Errorf("content %q is not a usable lease", clip(s))
	}
	return Lease{D: time.Duration(v * float64(time.Second))}, Valid, nil
}

// numberPrefix checks s against digits [. digits] [e|E [+|-] digits]: ok if s
// is such a number or a prefix of one, complete if it is a whole one.
func numberPrefix(s string) (complete, ok bool) {
	i, n := 0, len(s)
	digits := func() int {
		j := i
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	mant := digits()
	if i < n && s[i] == '.' {
		i++
		mant += digits()
	}
	if i == n {
		// "1." is a number, but cryolock 1.x never writes one: read it as
		// a write in progress ("1.5").
		return mant > 0 && s[n-1] != '.', true
	}
	if mant == 0 || (s[i] != 'e' && s[i] != 'E') {
		return false, false
	}
	i++
	if i < n && (s[i] == '+' || s[i] == '-') {
		i++
	}
	exp := digits()
	if i != n {
		return false, false
	}
	return exp > 0, true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
