// Package locktest is the shared harness of the lock's concurrency tests: a
// worker that takes a lock many times and, inside it, increments a counter in
// a plain file without atomicity (read, +1, write) and records its hold
// intervals; and a history checker that counts overlapping holds. Tests run
// workers as goroutines or as re-executed test binaries, on any filesystem.
package locktest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Interval is one hold: from just after the lock was acquired to just before
// it was released, on a clock shared by every worker of a test (the
// machine's monotonic clock for processes, see [Now]).
type Interval struct {
	Worker     string
	Start, End int64  // nanoseconds
	Shared     bool   // a read hold: may overlap other read holds
	Token      uint64 // fencing token of the hold, 0 if none
}

// Locker is what a worker needs of a lock.
type Locker interface {
	Lock(ctx context.Context) error
	Unlock() error
}

// Options of a worker run.
type Options struct {
	// N is how many times to take the lock.
	N int
	// Counter is the file holding the shared counter.
	Counter string
	// Hold, if set, is slept inside each hold (after the increment).
	Hold time.Duration
	// Worker names this worker in its intervals.
	Worker string
}

// Run takes the lock opts.N times; inside each hold it increments the
// counter file non-atomically. It returns the hold intervals. An error from
// Lock, the counter or Unlock stops it.
func Run(ctx context.Context, lk Locker, opts Options) ([]Interval, error) {
	out := make([]Interval, 0, opts.N)
	for i := 0; i < opts.N; i++ {
		if err := lk.Lock(ctx); err != nil {
			return out, fmt.Errorf("acquisition %d: %w", i, err)
		}
		start := Now()
		ierr := Increment(opts.Counter)
		if opts.Hold > 0 {
			time.Sleep(opts.Hold)
		}
		end := Now()
		out = append(out, Interval{Worker: opts.Worker, Start: start, End: end})
		uerr := lk.Unlock()
		if err := errors.Join(ierr, uerr); err != nil {
			return out, fmt.Errorf("acquisition %d: %w", i, err)
		}
	}
	return out, nil
}

// Increment reads a decimal counter from path (missing or empty means 0),
// adds one and writes it back, deliberately without any atomicity: two
// concurrent increments lose one.
func Increment(path string) error {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	v := 0
	if s := strings.TrimSpace(string(b)); s != "" {
		if v, err = strconv.Atoi(s); err != nil {
			return fmt.Errorf("counter %s: %w", path, err)
		}
	}
	return os.WriteFile(path, []byte(strconv.Itoa(v+1)), 0o644)
}

// ReadCounter returns the counter's value.
func ReadCounter(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// Overlap is a pair of holds that overlap in time.
type Overlap struct{ A, B Interval }

// CheckRW returns the pairs of holds that overlap although at least one of
// them is not shared: the violations of a reader–writer lock. It also
// returns how many pairs of shared holds overlapped (readers together: not a
// violation, evidence that readers do share).
func CheckRW(iv []Interval) (bad []Overlap, sharedPairs int) {
	s := slices.Clone(iv)
	slices.SortFunc(s, func(a, b Interval) int { return cmpInt(a.Start, b.Start) })
	for i := range s {
		for j := i + 1; j < len(s) && s[j].Start < s[i].End; j++ {
			if s[i].Shared && s[j].Shared {
				sharedPairs++
			} else {
				bad = append(bad, Overlap{s[i], s[j]})
			}
		}
	}
	return bad, sharedPairs
}

// MaxConcurrent returns the largest number of holds in progress at one
// instant (for a semaphore: at most its slots).
func MaxConcurrent(iv []Interval) int {
	type ev struct {
		t int64
		d int
	}
	evs := make([]ev, 0, 2*len(iv))
	for _, x := range iv {
		evs = append(evs, ev{x.Start, +1}, ev{x.End, -1})
	}
	// Ends sort before starts at the same instant: touching is not overlap.
	slices.SortFunc(evs, func(a, b ev) int {
		if a.t != b.t {
			return cmpInt(a.t, b.t)
		}
		return a.d - b.d
	})
	cur, best := 0, 0
	for _, e := range evs {
		cur += e.d
		best = max(best, cur)
	}
	return best
}

// Check returns the overlaps in a history: for every interval that starts
// before an earlier-starting interval has ended, one Overlap naming it and the
// earlier interval that ends last. An empty result means mutual exclusion
// held throughout. Intervals that only touch at one instant do not overlap.
func Check(iv []Interval) []Overlap {
	s := slices.Clone(iv)
	slices.SortFunc(s, func(a, b Interval) int { return cmpInt(a.Start, b.Start) })
	var out []Overlap
	for i := 1; i < len(s); i++ {
		if s[i-1].End > s[i].Start {
			out = append(out, Overlap{s[i-1], s[i]})
		}
		if s[i-1].End > s[i].End { // keep the latest end in s[i]'s slot
			s[i] = Interval{Worker: s[i-1].Worker, Start: s[i].Start, End: s[i-1].End}
		}
	}
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// WriteHistory writes intervals to path, one "worker start end kind token"
// per line (kind "s" for shared, "x" for exclusive).
func WriteHistory(path string, iv []Interval) error {
	var b strings.Builder
	for _, x := range iv {
		kind := "x"
		if x.Shared {
			kind = "s"
		}
		fmt.Fprintf(&b, "%s %d %d %s %d\n", x.Worker, x.Start, x.End, kind, x.Token)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// ReadHistory reads what WriteHistory wrote.
func ReadHistory(path string) ([]Interval, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Interval
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var x Interval
		kind := "x"
		if _, err := fmt.Sscanf(sc.Text(), "%s %d %d %s %d", &x.Worker, &x.Start, &x.End, &kind, &x.Token); err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, sc.Text(), err)
		}
		x.Shared = kind == "s"
		out = append(out, x)
	}
	return out, sc.Err()
}
