package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Bounds of --lease. Below a second a process-level lock is lost whenever
// the machine stalls for a moment (every heartbeat then races the lease);
// above a day a crashed holder blocks everyone for longer than anyone will
// wait, and other implementations may read the number as foreign.
const (
	minLease = time.Second    // keep errLeaseRange in step
	maxLease = 24 * time.Hour // keep errLeaseRange in step
)

// maxSeconds is the largest plain number of seconds a duration flag takes
// (time.Duration's range, in whole seconds).
const maxSeconds = float64(math.MaxInt64 / int64(time.Second))

// parseSeconds parses a duration the way flock(1) users write one: plain
// seconds ("5", "0.5", ".25") or a Go duration ("500ms", "1m30s"). It
// rejects negative values, exponents, hexadecimal, NaN and infinities.
func parseSeconds(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if isDecimal(t) {
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || f > maxSeconds {
			return 0, fmt.Errorf("%q: too many seconds (at most %.0f)", s, maxSeconds)
		}
		return time.Duration(math.Round(f * float64(time.Second))), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q: want seconds (5, 0.5) or a duration (500ms, 1m30s)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// isDecimal reports whether s is digits with at most one decimal point and
// at least one digit.
func isDecimal(s string) bool {
	digits, dots := 0, 0
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// secondsValue is a duration flag that also takes plain seconds.
type secondsValue struct{ d *time.Duration }

func newSeconds(p *time.Duration, def time.Duration) *secondsValue {
	*p = def
	return &secondsValue{p}
}

func (v *secondsValue) String() string {
	if v.d == nil {
		return "0s"
	}
	return v.d.String()
}

func (v *secondsValue) Set(s string) error {
	d, err := parseSeconds(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (v *secondsValue) Type() string { return "duration" }

// leaseValue is the --lease flag: a duration in [minLease, maxLease], or
// "none".
type leaseValue struct {
	d    time.Duration
	none bool
}

func (v *leaseValue) String() string {
	if v.none {
		return "none"
	}
	return v.d.String()
}

func (v *leaseValue) Set(s string) error {
	d, none, err := parseLease(s)
	if err != nil {
		return err
	}
	v.d, v.none = d, none
	return nil
}

func (v *leaseValue) Type() string { return "duration" }

// errLeaseRange is wrapped by parseLease's out-of-range errors.
var errLeaseRange = errors.New("lease outside 1s..24h")

// parseLease parses a lease: "none" (never stale), or seconds or a duration
// within [minLease, maxLease].
func parseLease(s string) (time.Duration, bool, error) {
	if t := strings.TrimSpace(s); t == "none" || t == "None" {
		return 0, true, nil
	}
	d, err := parseSeconds(s)
	if err != nil {
		return 0, false, fmt.Errorf("%w, or none", err)
	}
	if d < minLease || d > maxLease {
		return 0, false, fmt.Errorf("%v: %w (use none for a lease that never ends)", d, errLeaseRange)
	}
	return d, false, nil
}

// parseRange parses "MIN..MAX" (or a single duration for both); each bound
// takes seconds or a Go duration.
func parseRange(s string) (time.Duration, time.Duration, error) {
	a, b, ok := strings.Cut(s, "..")
	if !ok {
		b = a
	}
	lo, err := parseSeconds(a)
	if err != nil {
		return 0, 0, err
	}
	hi, err := parseSeconds(b)
	if err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range %q: max below min", s)
	}
	return lo, hi, nil
}

// backoffValue is the --backoff MIN..MAX flag of `cryolock run`.
type backoffValue struct {
	min, max time.Duration
	set      bool
}

func (v *backoffValue) String() string {
	if !v.set {
		return "" // the flag's usage says what the default is
	}
	return fmt.Sprintf("%v..%v", v.min, v.max)
}

func (v *backoffValue) Set(s string) error {
	lo, hi, err := parseRange(s)
	if err != nil {
		return err
	}
	if lo <= 0 {
		return errors.New("the minimum backoff must be positive")
	}
	v.min, v.max, v.set = lo, hi, true
	return nil
}

func (v *backoffValue) Type() string { return "MIN..MAX" }
