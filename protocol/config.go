package protocol

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/cryolock-go/cryolock/internal/optionerr"
	"github.com/cryolock-go/cryolock/stale"
)

// The staleness rules (see package stale), re-declared so that ordinary use
// needs only this package.
const (
	// Observed judges an entry stale when this contender has seen the
	// same mtime for a whole lease on its own monotonic clock (the
	// default; immune to clock skew).
	Observed = stale.Observed
	// WallClock judges an entry stale when its mtime plus its lease is
	// before this contender's wall clock (cryolock 1.x's rule; needs
	// synchronised clocks).
	WallClock = stale.WallClock
)

// Bounds of the lease ([WithLease]). A shorter lease cannot be kept alive on a loaded
// machine (the heartbeat must run every 0.4 × lease); a longer one would be
// written as a number other contenders (and cryolock 1.x) may not parse.
const (
	MinLease = 10 * time.Millisecond
	MaxLease = 24 * 365 * time.Hour
)

// Defaults of the options.
const (
	DefaultLease      = 10 * time.Second
	DefaultMinBackoff = 1 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Millisecond
)

// Settings are a [Lock]'s effective settings, defaults filled in, as
// [Lock.Settings] reports them. Options (With...) are the one way to set
// them; Settings only reports.
type Settings struct {
	// Lease is how long after its last heartbeat a contender may be
	// presumed dead (default 10 s; [WithLease]). The heartbeat refreshes
	// the entry every 0.4–0.5 × Lease, and a holder that could not refresh
	// for 0.75 × Lease is told it lost the lock.
	Lease time.Duration
	// NoLease: the entry's lease is "None" ([WithoutLease]).
	NoLease bool
	// Settle is the delay after entering before listing ([WithSettle]).
	Settle time.Duration
	// MinBackoff and MaxBackoff bound the polling backoff ([WithBackoff]).
	MinBackoff, MaxBackoff time.Duration
	// Stale is the staleness rule ([WithStaleRule]; default Observed).
	Stale StaleRule
	// Shared: the Lock is a reader ([WithShared]).
	Shared bool
	// Slots: the Lock is one holder of a semaphore of Slots ([WithSlots]);
	// 0 and 1 mean a mutex.
	Slots int
	// Fencing is the fencing mode ([WithFencing]; default FencingOff).
	Fencing Fencing
}

// StaleRule is a staleness rule: [Observed] or [WallClock].
type StaleRule = stale.Rule

// config is the complete configuration of a Lock: the reported Settings
// and what the options set beyond them.
type config struct {
	Settings
	// NoWatch turns off the directory watch that wakes a waiting
	// contender when the lock directory changes ([WithoutWatch]).
	NoWatch bool
	// DirPerm and FilePerm are the permissions of a lock directory the
	// lock creates and of entries, before the umask ([WithPerm]).
	DirPerm, FilePerm fs.FileMode
	slotsSet          bool  // WithSlots was given (so 0 is an error, not a default)
	refused           error // an option refused to apply (optionerr.Refuse)
	leaseSet          bool  // WithLease was given (so 0 is an error, not the default)
	Logger            *slog.Logger
	FS                FS
	Env               Env
}

// Option configures a [Lock]: pass options to [New] (or [NewReentrant]);
// later options override earlier ones, and a nil Option sets nothing.
type Option func(*config)

// WithOptions bundles options into one, applied in order: for presets
// such as fsprobe.WithReport.
func WithOptions(opts ...Option) Option {
	return func(c *config) {
		for _, o := range opts {
			if o != nil {
				o(c)
			}
		}
	}
}

// WithLease sets how long after its last heartbeat a contender may be
// presumed dead (default [DefaultLease], between [MinLease] and
// [MaxLease]). The heartbeat refreshes the entry every 0.4–0.5 × lease,
// and a holder that could not refresh for 0.75 × lease is told it lost the
// lock. Every contender of a directory must use the same lease. A lease of
// 0 or less is an error (with [WithoutLease] too): leave the option out for
// the default.
func WithLease(d time.Duration) Option {
	return func(c *config) { c.Lease, c.NoLease, c.leaseSet = d, false, true }
}

// WithoutLease writes the lease "None": the entry never goes stale and no
// heartbeat runs. A holder that crashes then blocks the lock until a human
// removes its entry.
func WithoutLease() Option { return func(c *config) { c.NoLease = true } }

// WithSettle sets how long to wait after entering before listing, to cover
// a filesystem's listing lag between clients (default 0, right on coherent
// filesystems; `cryolock probe --peer` measures it). It must be below a
// quarter of the lease.
func WithSettle(d time.Duration) Option { return func(c *config) { c.Settle = d } }

// WithBackoff bounds the randomised exponential backoff between polls
// while waiting (defaults [DefaultMinBackoff] and [DefaultMaxBackoff]; see
// [DefaultIdleBackoff] for an unwatched directory). A larger max costs
// wake-up latency and saves listings; on a network filesystem use a
// multiple of its listing time.
func WithBackoff(min, max time.Duration) Option {
	return func(c *config) { c.MinBackoff, c.MaxBackoff = min, max }
}

// WithStaleRule sets the staleness rule ([Observed], the default, or
// [WallClock]).
func WithStaleRule(r StaleRule) Option { return func(c *config) { c.Stale = r } }

// WithoutWatch turns off the directory watch that wakes a waiting
// contender when the lock directory changes; waiting then polls (see
// [WithBackoff]).
func WithoutWatch() Option { return func(c *config) { c.NoWatch = true } }

// WithPerm sets the permissions of a lock directory the lock creates and of
// its entries, before the umask (defaults 0777 and 0666, so that several
// users can share a lock directory).
func WithPerm(dir, file fs.FileMode) Option {
	return func(c *config) { c.DirPerm, c.FilePerm = dir, file }
}

// WithLogger sets the logger that receives the protocol's events (debug:
// enter, withdraw, held; info: reaping a stale entry; warn: lost). Default:
// discard.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.Logger = l } }

// WithFS sets the filesystem (default [OSFS]).
func WithFS(fsys FS) Option { return func(c *config) { c.FS = fsys } }

// WithEnv sets the environment (default [OSEnv]).
func WithEnv(e Env) Option { return func(c *config) { c.Env = e } }

// withDefaults fills zero fields and validates the result.
func (c config) withDefaults() (config, error) {
	if c.refused != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, c.refused)
	}
	if c.Lease == 0 && !c.leaseSet {
		c.Lease = DefaultLease
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	if c.DirPerm == 0 {
		c.DirPerm = 0o777
	}
	if c.FilePerm == 0 {
		c.FilePerm = 0o666
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.FS == nil {
		c.FS = OSFS()
	}
	if c.Env == nil {
		c.Env = defaultEnv()
	}
	switch {
	case c.Lease <= 0:
		// Even with WithoutLease: Settings would report it.
		return c, fmt.Errorf("%w: lease %v; WithLease needs a duration in %v..%v (leave it out for the default %v)", ErrConfig, c.Lease, MinLease, MaxLease, DefaultLease)
	case !c.NoLease && (c.Lease < MinLease || c.Lease > MaxLease):
		return c, fmt.Errorf("%w: lease %v is outside %v..%v", ErrConfig, c.Lease, MinLease, MaxLease)
	case c.Settle < 0:
		return c, fmt.Errorf("%w: negative settle delay %v", ErrConfig, c.Settle)
	case !c.NoLease && c.Settle >= c.Lease/4:
		return c, fmt.Errorf("%w: settle delay %v must be below a quarter of the lease %v", ErrConfig, c.Settle, c.Lease)
	case c.Slots < 0 || c.slotsSet && c.Slots < 1:
		return c, fmt.Errorf("%w: %d slots; a semaphore needs at least 1", ErrConfig, c.Slots)
	case c.Shared && c.Slots > 1:
		return c, fmt.Errorf("%w: a reader (WithShared) cannot also be a semaphore (WithSlots %d)", ErrConfig, c.Slots)
	case c.MinBackoff < 0 || c.MaxBackoff < c.MinBackoff:
		return c, fmt.Errorf("%w: backoff bounds %v..%v", ErrConfig, c.MinBackoff, c.MaxBackoff)
	case c.Stale != stale.Observed && c.Stale != stale.WallClock:
		return c, fmt.Errorf("%w: unknown staleness rule %v", ErrConfig, c.Stale)
	case c.Fencing < FencingOff || c.Fencing > FencingSlots:
		return c, fmt.Errorf("%w: unknown fencing mode %v", ErrConfig, c.Fencing)
	}
	return c, nil
}

// debug logs a debug event about path. It builds no record, and boxes no
// argument, while debug logging is off: an uncontended cycle logs three.
func (c *config) debug(msg, path string) {
	if c.Logger.Enabled(context.Background(), slog.LevelDebug) {
		c.Logger.Debug(msg, "path", path)
	}
}

// lease returns the lease the configuration declares.
func (c config) lease() stale.Lease {
	if c.NoLease {
		return stale.Forever
	}
	return stale.For(c.Lease)
}

func init() {
	optionerr.Refuse = func(err error) any {
		return Option(func(c *config) { c.refused = errors.Join(c.refused, err) })
	}
}
