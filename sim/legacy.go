package sim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sync"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/protocol"
	"github.com/cryolock-go/cryolock/stale"
)

// Rules selects what the simulated processes run.
type Rules int

const (
	// RulesV1 runs this module's protocol.Lock (docs/PROTOCOL.md).
	RulesV1 Rules = iota
	// RulesLegacy runs a model of cryolock 1.x's acquire loop, defects
	// included, to show them (row A8 of the audit). It is a contender of
	// the simulator's own over protocol.FS and protocol.Env, as
	// independent of the production lock as the spec contender of the
	// protocol tests; the production package has one rule set.
	RulesLegacy
)

// String returns "v1" or "legacy".
func (r Rules) String() string {
	switch r {
	case RulesV1:
		return "v1"
	case RulesLegacy:
		return "legacy"
	}
	return fmt.Sprintf("Rules(%d)", int(r))
}

// MarshalText implements [encoding.TextMarshaler] with [Rules.String].
func (r Rules) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]: it accepts "v1" or
// "legacy".
func (r *Rules) UnmarshalText(b []byte) error {
	switch string(b) {
	case "v1":
		*r = RulesV1
	case "legacy":
		*r = RulesLegacy
	default:
		return fmt.Errorf("sim: unknown rules %q (want v1 or legacy)", b)
	}
	return nil
}

// contender is what a simulated process acquires: a *protocol.Lock, or the
// legacy model.
type contender interface {
	Lock(ctx context.Context) error
	TryLock(ctx context.Context) (bool, error)
	Unlock() error
	Name() string
	Lost() <-chan struct{}
}

// legacyLock reproduces the defects of cryolock 1.x's acquire loop. It is a
// model, not a byte-exact port: its holders get a heartbeat (the stale
// package's keeper) and are told when they lose the lock (1.x holders never
// are), it reads an entry before stat-ing it (1.x does the reverse), and it
// does not reproduce 1.x's crash on unparsable names or its listing-error
// path (docs/PROTOCOL.md §8 lists those). None of that hides a defect the
// simulator shows. The defects it keeps are deliberate:
//   - no heartbeat until the lock is held, so a contender that waits longer
//     than its lease looks dead;
//   - stale entries are reaped only before entering, never while waiting;
//   - staleness compares a file's mtime with the local wall clock;
//   - a contender never checks that its own file survived;
//   - it polls after sleeping for the duration of its last system call
//     (floored at MinBackoff here, so that a simulation terminates);
//   - an entry it cannot parse counts as a live holder forever.
type legacyLock struct {
	dir        string
	fs         protocol.FS
	env        protocol.Env
	lease      stale.Lease
	minBackoff time.Duration

	mu   sync.Mutex
	held *legacyHold
}

type legacyHold struct {
	d    protocol.Dir
	name string
	stop func()
	lost chan struct{}
	once sync.Once
}

func newLegacy(dir string, c Config, fsys protocol.FS, env protocol.Env) *legacyLock {
	return &legacyLock{dir: dir, fs: fsys, env: env, lease: stale.For(c.Lease), minBackoff: c.MinBackoff}
}

func (l *legacyLock) Lock(ctx context.Context) error {
	_, err := l.acquire(ctx, false)
	return err
}

func (l *legacyLock) TryLock(ctx context.Context) (bool, error) { return l.acquire(ctx, true) }

func (l *legacyLock) Name() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		return ""
	}
	return l.held.name
}

func (l *legacyLock) Lost() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		return nil
	}
	return l.held.lost
}

func (l *legacyLock) Unlock() error {
	l.mu.Lock()
	h := l.held
	l.held = nil
	l.mu.Unlock()
	if h == nil {
		return fmt.Errorf("legacy: unlock %s: %w", l.dir, protocol.ErrNotHeld)
	}
	h.stop()
	err := l.fs.Remove(h.d, h.name)
	h.d.Close()
	if err != nil {
		return fmt.Errorf("legacy: unlock %s: %w", path.Join(l.dir, h.name), err)
	}
	return nil
}

func (l *legacyLock) acquire(ctx context.Context, try bool) (bool, error) {
	d, err := l.fs.OpenDir(nil, l.dir, true, 0o777)
	if err != nil {
		return false, err
	}
	h, err := l.loop(ctx, d, try)
	if h == nil {
		d.Close()
		return false, err
	}
	l.mu.Lock()
	l.held = h
	l.mu.Unlock()
	return true, nil
}

func (l *legacyLock) loop(ctx context.Context, dir protocol.Dir, try bool) (*legacyHold, error) {
	env := l.env
	var last time.Duration // duration of the last system call
	call := func(f func() error) error {
		t := env.Mono()
		err := f()
		last = env.Mono() - t
		return err
	}
	poll := func() error { return env.Sleep(ctx, max(last, l.minBackoff)) }
	judge := stale.NewJudge(stale.WallClock)
	body := []byte(l.lease.String())
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Look and reap.
		var ents []protocol.DirEntry
		if err := call(func() (err error) { ents, err = l.fs.ReadDir(dir); return }); err != nil {
			return nil, fmt.Errorf("legacy: listing %s: %w", l.dir, err)
		}
		busy := false
		for _, d := range ents {
			if d.Type.IsDir() {
				continue
			}
			if _, _, ok := nonce.ParseName(d.Name); !ok {
				busy = true // junk blocks forever
				continue
			}
			var fi protocol.FileInfo
			var b []byte
			err := call(func() (err error) { b, _, err = l.fs.ReadFile(dir, d.Name); return })
			if err == nil {
				err = call(func() (err error) { fi, err = l.fs.Stat(dir, d.Name); return })
			}
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("legacy: reading %s: %w", path.Join(l.dir, d.Name), err)
			}
			lease, kind, _ := stale.ParseContent(b)
			if kind != stale.Valid {
				busy = true
				continue
			}
			if judge.Stale(d.Name, stale.Sighting{ModTime: fi.ModTime, Size: fi.Size, Now: env.Now(), Mono: env.Mono(), Lease: lease}) {
				_ = call(func() error { return l.fs.Remove(dir, d.Name) })
				continue
			}
			busy = true
		}
		if busy {
			if try {
				return nil, nil
			}
			if err := poll(); err != nil {
				return nil, err
			}
			continue
		}
		// Enter, without a heartbeat.
		host, pid := env.Process()
		owner := nonce.NewOwner(env, host, pid) // drawn before the ticket, as protocol does
		ticket := nonce.Ticket(env)
		name := nonce.FormatName(owner, ticket)
		if err := call(func() error { return l.fs.WriteFile(dir, name, body, 0o666) }); err != nil {
			return nil, fmt.Errorf("legacy: entering %s: %w", path.Join(l.dir, name), err)
		}
		// Check, without reaping and without looking for its own file.
		for {
			if err := call(func() (err error) { ents, err = l.fs.ReadDir(dir); return }); err != nil {
				_ = l.fs.Remove(dir, name)
				return nil, fmt.Errorf("legacy: listing %s: %w", l.dir, err)
			}
			higher, lower := false, false
			for _, d := range ents {
				if d.Type.IsDir() || d.Name == name {
					continue
				}
				_, t, ok := nonce.ParseName(d.Name)
				switch {
				case !ok || t >= ticket:
					higher = true
				default:
					lower = true
				}
			}
			if !higher && !lower {
				return l.hold(dir, name), nil
			}
			if higher || try {
				_ = call(func() error { return l.fs.Remove(dir, name) })
				if try {
					return nil, nil
				}
				if err := poll(); err != nil {
					return nil, err
				}
				break
			}
			if err := poll(); err != nil {
				_ = l.fs.Remove(dir, name)
				return nil, err
			}
		}
	}
}

// hold starts the holder's heartbeat: refreshes every 0.4–0.5 × lease, told
// lost when one is overdue or the entry is gone (1.x has no such telling;
// the model adds it so that a violation is one the rules cause, not one the
// missing tell does).
func (l *legacyLock) hold(dir protocol.Dir, name string) *legacyHold {
	env := l.env
	h := &legacyHold{d: dir, name: name, lost: make(chan struct{})}
	lost := func(error) { h.once.Do(func() { close(h.lost) }) }
	kctx, cancel := context.WithCancel(context.Background())
	k := &stale.Keeper{
		Lease:  l.lease,
		Clock:  env,
		Jitter: func() float64 { return float64(env.Uint64()>>11) / (1 << 53) },
		LastOK: env.Mono(),
		Touch: func() error {
			now := env.Now()
			return l.fs.Chtimes(dir, name, now, now)
		},
		Go:     func(f func()) { env.AfterFunc(0, f) },
		OnLost: lost,
	}
	stop := env.AfterFunc(stale.Period(l.lease.D, 0), func() {
		if err := k.Run(kctx); err != nil {
			lost(err)
		}
	})
	h.stop = func() {
		stop()
		cancel()
	}
	return h
}
