package protocol

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/stale"
)

// Snapshot is one look at a lock directory, its entries classified exactly
// as the protocol classifies them while acquiring. It is a one-shot view:
// entries may appear, vanish or be refreshed right after it was taken, and
// nothing in it says for certain who holds the lock (see [Inspect]).
type Snapshot struct {
	// Path is the lock directory, cleaned.
	Path string
	// Exists reports whether the lock directory exists. A missing directory
	// is a free lock: the first contender creates it.
	Exists bool
	// Now is the observer's wall clock just after the listing, the time to
	// judge ages and wall-clock staleness against.
	Now time.Time
	// Entries are the lock directory's entries, sorted by ticket, then name.
	Entries []Entry
	// Foreign are the entries the protocol refuses to touch; while one is
	// present no contender can acquire the lock (they fail with
	// [ErrForeign]). Sorted by name.
	Foreign []Foreign
	// Ignored are the names the protocol skips: subdirectories (such as
	// .meta) and client-side artefacts of network filesystems (.nfs*,
	// .fuse_hidden*). Sorted.
	Ignored []string
}

// Entry is one entry "<owner>.<ticket>" as seen by [Inspect].
type Entry struct {
	Name    string
	Owner   string
	Ticket  int32
	ModTime time.Time // last heartbeat
	Size    int64
	// Lease is the lease the file declares; meaningful only if LeaseKnown.
	Lease stale.Lease
	// LeaseKnown is false when the content is empty or a prefix of a lease
	// (written just now, or torn by a crash): the entry is present and a
	// contender judges it with its own lease.
	LeaseKnown bool
	// Host and Pid are the contender's host name and process id as its
	// owner name records them (nonce.ParseOwner), when the owner is one
	// this implementation makes; Pid is 0 otherwise.
	Host string
	Pid  int
	// Shared reports a reader's entry (see [WithShared]).
	Shared bool
	// Age is how long before the snapshot's Now the entry's mtime (its
	// last heartbeat) is.
	Age time.Duration
	// Live is the one-shot verdict of the wall-clock rule at Now: mtime +
	// lease ≥ Now, with [DefaultLease] for an entry whose lease is not
	// known yet. A contender judges by its own rule over time (the
	// Observed rule watches an entry for a whole lease), so an entry
	// called stale here may still be live to it, and reaped only later.
	Live bool
}

// Foreign is an entry of the lock directory the protocol does not understand.
type Foreign struct {
	Name   string
	Reason string // why it is foreign, for humans
}

// Inspect lists the lock directory path once and classifies its entries the
// way the protocol does, without creating, changing or removing anything.
// Only the FS of the options matters (the default is the OS filesystem).
//
// It returns an error wrapping [ErrBadPath] if the path's name does not end
// in ".cryolock" or the path exists and is not a directory (a symbolic link
// included), and the filesystem's error, naming the path, if the directory or
// an entry cannot be read. An entry that vanishes during the look is
// left out.
func Inspect(ctx context.Context, path string, opts ...Option) (Snapshot, error) {
	l, err := New(path, opts...)
	if err != nil {
		return Snapshot{}, err
	}
	fsys, env := l.cfg.FS, l.cfg.Env
	snap := Snapshot{Path: l.dir}
	d, err := fsys.OpenDir(nil, l.dir, false, 0)
	if errors.Is(err, fs.ErrNotExist) {
		snap.Now = env.Now()
		return snap, nil
	}
	if err != nil {
		return snap, &Error{Op: "inspect", Path: l.dir, Err: err}
	}
	defer d.Close()
	snap.Exists = true
	ents, err := fsys.ReadDir(d)
	if err != nil {
		return snap, &Error{Op: "inspect", Path: l.dir, Err: err}
	}
	snap.Now = env.Now()
	for _, de := range ents {
		if err := ctx.Err(); err != nil {
			return snap, &Error{Op: "inspect", Path: l.dir, Err: err}
		}
		owner, ticket, ignore, foreign, gone := classifyChecked(fsys, d, de)
		switch {
		case gone: // vanished since the listing: left out
			continue
		case ignore:
			snap.Ignored = append(snap.Ignored, de.Name)
			continue
		case foreign != "":
			snap.Foreign = append(snap.Foreign, Foreign{de.Name, foreign})
			continue
		}
		p := filepath.Join(l.dir, de.Name)
		r, err := readEntry(fsys, d, de.Name, p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case errors.Is(err, ErrForeign):
			snap.Foreign = append(snap.Foreign, Foreign{de.Name, foreignReason(err, p)})
			continue
		case err != nil:
			return snap, err
		}
		e := Entry{Name: de.Name, Owner: owner, Ticket: ticket, ModTime: r.fi.ModTime, Size: r.fi.Size,
			Age: snap.Now.Sub(r.fi.ModTime)}
		lease := stale.For(DefaultLease)
		if r.kind == stale.Valid {
			e.Lease, e.LeaseKnown = r.lease, true
			lease = r.lease
		}
		if info, ok := nonce.ParseOwner(owner); ok {
			e.Host, e.Pid, e.Shared = info.Host, info.Pid, info.Shared
		} else {
			e.Shared = nonce.IsShared(owner)
		}
		e.Live = !stale.NewJudge(stale.WallClock).Stale(e.Name, stale.Sighting{ModTime: e.ModTime, Size: e.Size, Now: snap.Now, Lease: lease})
		snap.Entries = append(snap.Entries, e)
	}
	slices.SortFunc(snap.Entries, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Ticket, b.Ticket), cmp.Compare(a.Name, b.Name))
	})
	slices.SortFunc(snap.Foreign, func(a, b Foreign) int { return cmp.Compare(a.Name, b.Name) })
	slices.Sort(snap.Ignored)
	return snap, nil
}

// Holders returns the entries that most likely hold the lock: the live entry
// with the lowest ticket and, if it is a reader's, every live reader with it
// (in ticket order). It is a guess from one look — contenders decide from
// listings of their own — but it is the guess `cryolock status` prints.
func (s Snapshot) Holders() []Entry {
	var out []Entry
	for _, e := range s.Entries { // sorted by ticket
		if !e.Live {
			continue
		}
		if len(out) == 0 || out[0].Shared && e.Shared {
			out = append(out, e)
		}
	}
	return out
}

// Contenders returns the live entries that are not [Snapshot.Holders].
func (s Snapshot) Contenders() []Entry {
	h := s.Holders()
	var out []Entry
	for _, e := range s.Entries {
		if e.Live && !slices.ContainsFunc(h, func(x Entry) bool { return x.Name == e.Name }) {
			out = append(out, e)
		}
	}
	return out
}

// Stale returns the entries that are stale by the wall-clock rule at Now.
func (s Snapshot) Stale() []Entry {
	var out []Entry
	for _, e := range s.Entries {
		if !e.Live {
			out = append(out, e)
		}
	}
	return out
}
