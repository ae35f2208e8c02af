package protocol

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/stale"
)

// acquireLegacy reproduces the defects of cryolock 1.x's acquire loop for the
// simulator. It is a model, not a byte-exact port: its holders get this
// package's heartbeat and are told when they lose the lock (1.x holders never
// are), it reads a spec file before stat-ing it (1.x does the reverse), and
// it does not reproduce 1.x's crash on unparsable names or its listing-error
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
func (l *Lock) acquireLegacy(ctx context.Context, dir Dir, try bool) (*entry, error) {
	env := l.cfg.Env
	var last time.Duration // duration of the last system call
	call := func(f func() error) error {
		t := env.Mono()
		err := f()
		last = env.Mono() - t
		return err
	}
	poll := func() error { return env.Sleep(ctx, max(last, l.cfg.MinBackoff)) }
	judge := stale.NewJudge(stale.WallClock)
	for {
		if err := ctx.Err(); err != nil {
			return nil, l.ctxErr(err)
		}
		// Look and reap.
		var ents []DirEntry
		if err := call(func() (err error) { ents, err = l.cfg.FS.ReadDir(dir); return }); err != nil {
			return nil, fmt.Errorf("cryolock: listing %s: %w", l.dir, err)
		}
		busy := false
		for _, d := range ents {
			if d.Type.IsDir() {
				continue
			}
			path := filepath.Join(l.dir, d.Name)
			if _, _, ok := nonce.ParseName(d.Name); !ok {
				busy = true // junk blocks forever
				continue
			}
			var fi FileInfo
			var b []byte
			err := call(func() (err error) { b, _, err = l.cfg.FS.ReadFile(dir, d.Name); return })
			if err == nil {
				err = call(func() (err error) { fi, err = l.cfg.FS.Stat(dir, d.Name); return })
			}
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("cryolock: reading %s: %w", path, err)
			}
			lease, kind, _ := stale.ParseContent(b)
			if kind != stale.Valid {
				busy = true
				continue
			}
			if judge.Stale(d.Name, stale.Sighting{ModTime: fi.ModTime, Size: fi.Size, Now: env.Now(), Mono: env.Mono(), Lease: lease}) {
				_ = call(func() error { return l.cfg.FS.Remove(dir, d.Name) })
				continue
			}
			busy = true
		}
		if busy {
			if try {
				return nil, nil
			}
			if err := poll(); err != nil {
				return nil, l.ctxErr(err)
			}
			continue
		}
		// Enter, without a heartbeat.
		e := l.newEntry()
		e.dir = dir
		ticket := e.ticket
		if err := call(func() error { return l.cfg.FS.WriteFile(dir, e.name, l.body, l.cfg.FilePerm) }); err != nil {
			return nil, fmt.Errorf("cryolock: entering %s: %w", e.path, err)
		}
		// Check, without reaping and without looking for its own file.
		for {
			if err := call(func() (err error) { ents, err = l.cfg.FS.ReadDir(dir); return }); err != nil {
				_ = l.cfg.FS.Remove(dir, e.name)
				return nil, fmt.Errorf("cryolock: listing %s: %w", l.dir, err)
			}
			higher, lower := false, false
			for _, d := range ents {
				if d.Type.IsDir() || d.Name == e.name {
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
				e.lastOK.Store(int64(env.Mono()))
				a := &attempt{l: l, dir: dir}
				a.startKeeper(e, true)
				return e, nil
			}
			if higher || try {
				_ = call(func() error { return l.cfg.FS.Remove(dir, e.name) })
				if try {
					return nil, nil
				}
				if err := poll(); err != nil {
					return nil, l.ctxErr(err)
				}
				break
			}
			if err := poll(); err != nil {
				_ = l.cfg.FS.Remove(dir, e.name)
				return nil, l.ctxErr(err)
			}
		}
	}
}
