package protocol

import "time"

// DefaultIdleBackoff is how far the backoff of a waiter that cannot watch
// the lock directory (a network or FUSE filesystem, or WithoutWatch) keeps
// doubling when MaxBackoff is left at its default: from MinBackoff through
// DefaultMaxBackoff (so the first polls after a contender starts waiting
// stay quick) up to this, after which the waiter lists the directory about
// 1.3 times a second (it sleeps uniformly in [d/2, d)); the first waiter in
// line, while others wait behind it, about eight times as often (rule Y:
// they wait for its look, see headPollDiv). An explicit
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
// its look, so it looks about eight times as often as a waiter further back.
const headPollDiv = 8
