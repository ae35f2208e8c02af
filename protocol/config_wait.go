package protocol

import "time"

// DefaultIdleBackoff is how far the backoff of a waiter that cannot watch
// the lock directory (a network or FUSE filesystem, or WithoutWatch) keeps
// doubling when MaxBackoff is left at its default: from MinBackoff through
// DefaultMaxBackoff (so the first polls after a contender starts waiting
// stay quick) up to this, after which the waiter lists the directory about
// 1.3 times a second (it sleeps uniformly in [d/2, d)); the first waiter in
// line, while others wait behind it, more often (rule Y: they wait for its
// look), but so that the crowd lists at most twice a second per waiter (see
// headCeiling). An explicit
// MaxBackoff other than the default is used as given: set it, for example
// from fsprobe's recommendation, where hand-off latency matters more than
// listings per second at the file server.
const DefaultIdleBackoff = time.Second

// ceiling is the largest backoff delay of a waiter: MaxBackoff, or
// DefaultIdleBackoff when nothing watches the directory and MaxBackoff is
// the default.
func (c *config) ceiling(watched bool) time.Duration {
	if !watched && c.MaxBackoff == DefaultMaxBackoff {
		return max(c.MaxBackoff, DefaultIdleBackoff)
	}
	return c.MaxBackoff
}

// poll is rule Y's unit of patience on an unwatched directory: the backoff
// ceiling (a waiter looks at least once in it) plus the settle delay. A
// waiter that came first and has waited this long goes first, and a
// contender stands back for it at most this long at a time.
func (c *config) poll() time.Duration {
	return c.ceiling(false) + c.Settle
}

// headPollDiv divides the ceiling for the first waiter in line on an
// unwatched directory while others wait behind it (rule Y): they wait for
// its look, so it looks up to eight times as often as a waiter further back
// (see headCeiling).
const headPollDiv = 8

// crowdBudget is the most listings per second per waiter that a crowd of
// waiters on an unwatched directory makes, after each one's first second,
// when their ceiling keeps each within it (see headCeiling;
// TestCrowdListingRate, in the simulator's virtual time): the first in line
// looks more often only as far as the crowd's budget leaves room for.
const crowdBudget = 2

// crowdCounted is how many waiters behind it the first in line counts: from
// about 2·headPollDiv on, the budget lets it look headPollDiv times as often.
const crowdCounted = 2 * headPollDiv

// headCeiling is the ceiling of the first waiter in line on an unwatched
// directory, with behind other waiters listed behind it. A waiter at its
// ceiling C sleeps 0.75 C on average, so it lists r = 1/(0.75 C) times a
// second. Where r is within crowdBudget (C ≥ 2/3 s: the idle ceiling of
// the default MaxBackoff, and fsprobe's recommendation on network
// filesystems), the first in line lists div·r with a ceiling of C/div and
// the crowd (div + behind)·r, within crowdBudget·(behind + 1) when
// div ≤ crowdBudget·(behind + 1)/r − behind: so the first in line looks up
// to headPollDiv times as often, as far as that allows. A smaller ceiling
// is a choice of hand-off latency over listings at the file server: the
// first in line looks headPollDiv times as often.
func (c *config) headCeiling(behind int) time.Duration {
	ceil := c.ceiling(false)
	div := float64(headPollDiv)
	if r := 1 / (0.75 * ceil.Seconds()); r <= crowdBudget {
		div = min(div, crowdBudget*float64(behind+1)/r-float64(behind))
	}
	return time.Duration(float64(ceil) / div)
}
