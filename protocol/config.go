package protocol

import (
	"fmt"
	"io/fs"
	"log/slog"
	"time"

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

// Bounds of Config.Lease. A shorter lease cannot be kept alive on a loaded
// machine (the heartbeat must run every 0.4 × lease); a longer one would be
// written as a number other contenders (and cryolock 1.x) may not parse.
const (
	MinLease = 10 * time.Millisecond
	MaxLease = 24 * 365 * time.Hour
)

// Defaults of [Config].
const (
	DefaultLease      = 10 * time.Second
	DefaultMinBackoff = 1 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Millisecond
)

// Config is the complete configuration of a [Lock]. The zero value of each
// field means its default; options (With...) set fields one at a time, and
// [WithConfig] sets them all, for example from fsprobe's recommendation.
type Config struct {
	// Lease is how long after its last heartbeat a contender may be
	// presumed dead (default 10 s). The heartbeat refreshes the spec file
	// every 0.4–0.5 × Lease, and a holder that could not refresh for
	// 0.75 × Lease is told it lost the lock.
	Lease time.Duration
	// NoLease writes the lease "None": the entry never goes stale and no
	// heartbeat runs. A holder that crashes then blocks the lock until a
	// human removes its file.
	NoLease bool
	// Settle is how long to wait after entering before listing, to cover a
	// filesystem's listing lag between clients (0 on coherent filesystems;
	// `cryolock probe --peer` measures it).
	Settle time.Duration
	// MinBackoff and MaxBackoff bound the randomised exponential backoff
	// between polls while waiting (defaults 1 ms and 10 ms). A larger
	// MaxBackoff costs wake-up latency and saves listings; on a network
	// filesystem use a multiple of its listing time.
	MinBackoff, MaxBackoff time.Duration
	// NoWatch turns off the directory watch (see [Watcher]) that wakes a
	// waiting contender when the lock directory changes; waiting then polls
	// every MinBackoff..MaxBackoff.
	NoWatch bool
	// Stale is the staleness rule (default stale.Observed).
	Stale stale.Rule
	// DirPerm and FilePerm are the permissions of a lock directory the lock
	// creates and of spec files, before the umask (defaults 0777 and 0666,
	// so that several users can share a lock directory).
	DirPerm, FilePerm fs.FileMode
	// Shared makes the Lock a reader (see [WithShared]).
	Shared bool
	// Slots makes the Lock one holder of a semaphore of Slots (see
	// [WithSlots]); 0 and 1 mean a mutex.
	Slots    int
	slotsSet bool // WithSlots was given (so 0 is an error, not a default)
	// Fencing selects fencing tokens (default FencingOff; see [Fencing]).
	Fencing Fencing
	// Logger receives the protocol's events (debug: enter, withdraw, held;
	// info: reaping a stale entry; warn: lost). Default: discard.
	Logger *slog.Logger
	// FS is the filesystem (default OSFS()).
	FS FS
	// Env is the environment (default OSEnv()).
	Env Env
}

// Option configures a [Lock].
type Option func(*Config)

// WithConfig sets every field of c that is not zero (for example the
// Config that fsprobe recommends), keeping what earlier options set for the
// others; options after it adjust the result further. Zero fields take their
// defaults unless an option sets them.
func WithConfig(c Config) Option {
	return func(dst *Config) {
		for _, f := range []struct{ src, dst *time.Duration }{
			{&c.Lease, &dst.Lease}, {&c.Settle, &dst.Settle},
			{&c.MinBackoff, &dst.MinBackoff}, {&c.MaxBackoff, &dst.MaxBackoff},
		} {
			if *f.src != 0 {
				*f.dst = *f.src
			}
		}
		if c.NoLease {
			dst.NoLease = true
		}
		if c.NoWatch {
			dst.NoWatch = true
		}
		if c.Stale != 0 {
			dst.Stale = c.Stale
		}
		if c.DirPerm != 0 {
			dst.DirPerm = c.DirPerm
		}
		if c.FilePerm != 0 {
			dst.FilePerm = c.FilePerm
		}
		if c.Shared {
			dst.Shared = true
		}
		if c.Slots != 0 {
			dst.Slots = c.Slots
		}
		if c.Fencing != 0 {
			dst.Fencing = c.Fencing
		}
		if c.Logger != nil {
			dst.Logger = c.Logger
		}
		if c.FS != nil {
			dst.FS = c.FS
		}
		if c.Env != nil {
			dst.Env = c.Env
		}
	}
}

// WithLease sets the lease (see Config.Lease).
func WithLease(d time.Duration) Option {
	return func(c *Config) { c.Lease, c.NoLease = d, false }
}

// WithoutLease makes entries that never go stale (see Config.NoLease).
func WithoutLease() Option { return func(c *Config) { c.NoLease = true } }

// WithSettle sets the settle delay (see Config.Settle).
func WithSettle(d time.Duration) Option { return func(c *Config) { c.Settle = d } }

// WithBackoff sets the polling backoff bounds (see Config.MinBackoff).
func WithBackoff(min, max time.Duration) Option {
	return func(c *Config) { c.MinBackoff, c.MaxBackoff = min, max }
}

// WithStaleRule sets the staleness rule (see Config.Stale).
func WithStaleRule(r stale.Rule) Option { return func(c *Config) { c.Stale = r } }

// WithLogger sets the logger (see Config.Logger).
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }

// WithFS sets the filesystem (see Config.FS).
func WithFS(fsys FS) Option { return func(c *Config) { c.FS = fsys } }

// WithEnv sets the environment (see Config.Env).
func WithEnv(e Env) Option { return func(c *Config) { c.Env = e } }

// withDefaults fills zero fields and validates the result.
func (c Config) withDefaults() (Config, error) {
	if c.Lease == 0 {
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

// lease returns the lease the configuration declares.
func (c Config) lease() stale.Lease {
	if c.NoLease {
		return stale.Forever
	}
	return stale.For(c.Lease)
}
