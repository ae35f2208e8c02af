package stale

import (
	"fmt"
	"time"
)

// Rule selects how a [Judge] decides that an entry is stale.
type Rule int

const (
	// Observed judges an entry stale when this observer has seen the same
	// mtime on it for a whole lease, measured on the observer's own
	// monotonic clock. It never compares clocks of different machines, so
	// clock skew between clients and the file server cannot make a live
	// owner look dead. Its price: after a crash, a contender that had not
	// been watching waits up to one lease from its first look. This is the
	// default.
	Observed Rule = iota
	// WallClock judges an entry stale when mtime + lease < now on the
	// observer's wall clock: the rule of cryolock 1.x. It is safe only when
	// the clocks of every client and of the file server agree to well
	// within the lease (and the mtime granularity is small against it);
	// `cryolock probe` measures both.
	WallClock
)

// String returns "observed" or "wallclock".
func (r Rule) String() string {
	switch r {
	case Observed:
		return "observed"
	case WallClock:
		return "wallclock"
	}
	return fmt.Sprintf("Rule(%d)", int(r))
}

// MarshalText encodes r as [Rule.String] does, so that a Rule is a flag
// value (flag.TextVar) and a JSON string.
func (r Rule) MarshalText() ([]byte, error) {
	if r != Observed && r != WallClock {
		return nil, fmt.Errorf("stale: unknown rule %d", int(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText decodes a rule as [ParseRule] does.
func (r *Rule) UnmarshalText(b []byte) error {
	v, err := ParseRule(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ParseRule is the inverse of [Rule.String].
func ParseRule(s string) (Rule, error) {
	switch s {
	case "observed":
		return Observed, nil
	case "wallclock", "wall-clock", "wall":
		return WallClock, nil
	}
	return 0, fmt.Errorf("stale: unknown rule %q (want observed or wallclock)", s)
}

// Sighting is one look at an entry: its mtime and size as just read, the
// observer's monotonic and wall time at the look, and the lease it declares.
type Sighting struct {
	ModTime time.Time
	Size    int64
	Mono    time.Duration // observer's monotonic clock at the look
	Now     time.Time     // observer's wall clock at the look
	Lease   Lease
}

type record struct {
	mtime time.Time
	size  int64
	first time.Duration
}

// Judge remembers what one observer has seen of the entries of one lock
// directory and decides staleness under a [Rule]. A Judge is not safe for
// concurrent use; each acquisition keeps its own.
type Judge struct {
	rule Rule
	seen map[string]record
}

// NewJudge returns a Judge applying rule.
func NewJudge(rule Rule) *Judge {
	return &Judge{rule: rule, seen: make(map[string]record)}
}

// Stale records the sighting s of entry name and reports whether the entry is
// stale. An entry whose lease is Forever is never stale. Under Observed, the
// clock starts when the observer first sees a given (mtime, size) pair and
// restarts whenever either changes, so a heartbeat always resets it.
func (j *Judge) Stale(name string, s Sighting) bool {
	r, ok := j.seen[name]
	if !ok || !r.mtime.Equal(s.ModTime) || r.size != s.Size {
		r = record{mtime: s.ModTime, size: s.Size, first: s.Mono}
		j.seen[name] = r
	}
	if s.Lease.Forever {
		return false
	}
	switch j.rule {
	case WallClock:
		return s.ModTime.Add(s.Lease.D).Before(s.Now)
	default:
		return s.Mono-r.first >= s.Lease.D
	}
}

// Watched reports how long the observer has seen the entry unchanged (zero
// if it has never seen it).
func (j *Judge) Watched(name string, mono time.Duration) time.Duration {
	r, ok := j.seen[name]
	if !ok {
		return 0
	}
	return mono - r.first
}

// Forget drops what the judge remembers of name (call it once the entry is
// gone, so that memory stays bounded by the directory's size).
func (j *Judge) Forget(name string) { delete(j.seen, name) }

// Retain forgets every entry for which keep returns false.
func (j *Judge) Retain(keep func(name string) bool) {
	for n := range j.seen {
		if !keep(n) {
			delete(j.seen, n)
		}
	}
}
