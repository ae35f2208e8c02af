package protocol

// Listing and judging: rules S and J of docs/PROTOCOL.md (classify the
// listed names, read and judge each entry, reap the stale ones). Scan and
// Inspect share the classification and the reading.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/stale"
)

// memory is what a Lock value remembers of other entries between attempts:
// the staleness judge (which keeps its own sightings) and one record per
// entry name.
type memory struct {
	judge   *stale.Judge
	entries map[string]*seen
	// contended is when an acquisition of this value last had to wait
	// (Mono), if contendedSet: its next acquisition looks before entering.
	contended    time.Duration
	contendedSet bool
	held         *entry // the entry of that acquisition, if it succeeded
	// marks are the waiters' marks (see renewMark) this value has
	// listed, with when it first listed each (Mono).
	marks map[string]time.Duration
	// waitersSince is when this value first listed a mark of each waiter
	// (an attempt's marks share one owner: markWaiter), across renewals.
	waitersSince map[string]time.Duration
	// waiters: the previous acquisition's listings showed a fresh mark
	// of a waiter (at waitersAt, Mono; its hold was waitersHeld): the next
	// acquisition of the value stands aside first (standAside).
	waiters     bool
	waitersAt   time.Duration
	waitersHeld *entry
}

// seen is what a Lock value knows of one entry of someone else.
type seen struct {
	lease      stale.Lease    // read from complete content, if leaseKnown
	leaseKnown bool           //
	alive      time.Duration  // when it was last judged alive (Mono), if aliveSet
	aliveSet   bool           //
	last       stale.Sighting // its latest sighting, if lastSet
	lastSet    bool           //
	// The parse of its name (attempt.classify), if parsed.
	ticket int32
	shared bool
	parsed bool
}

// entry returns the record of name, creating it.
func (m memory) entry(name string) *seen {
	r := m.entries[name]
	if r == nil {
		r = &seen{}
		m.entries[name] = r
	}
	return r
}

// forget drops everything known of name.
func (m memory) forget(name string) {
	m.judge.Forget(name)
	delete(m.entries, name)
}

// classify sorts a listed entry the way the protocol does: ignored
// (subdirectories, client artefacts: F7), foreign (with the reason: F8), or a
// entry's owner and ticket (F2). Scan and Inspect share it, so the lock
// and `cryolock status` never disagree.
func classify(d DirEntry) (owner string, ticket int32, ignore bool, foreign string) {
	if d.Type.IsDir() || transient(d.Name) {
		return "", 0, true, ""
	}
	owner, ticket, ok := nonce.ParseName(d.Name)
	if !ok {
		return "", 0, false, "the name is not <owner>.<ticket>"
	}
	if !d.Type.IsRegular() {
		return "", 0, false, notRegular(d.Type)
	}
	return owner, ticket, false, ""
}

// classifyChecked is classify for a listed entry, with a foreign verdict
// checked by an lstat of the name first: a listing's file types can be
// wrong (an SMB client listed another client's `.cryolock-wake-…`
// subdirectory, made and removed at once, as a file) and a foreign entry
// fails the caller, so the verdict rests on the file's own type. A name
// gone since the listing is ignored (and reported as gone).
func classifyChecked(fsys FS, d Dir, de DirEntry) (owner string, ticket int32, ignore bool, foreign string, gone bool) {
	owner, ticket, ignore, foreign = classify(de)
	if foreign == "" {
		return owner, ticket, ignore, foreign, false
	}
	fi, err := fsys.Stat(d, de.Name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", 0, true, "", true
	case err != nil || fi.Mode.Type() == de.Type.Type():
		return owner, ticket, ignore, foreign, false
	}
	de.Type = fi.Mode.Type()
	owner, ticket, ignore, foreign = classify(de)
	return owner, ticket, ignore, foreign, false
}

// goneErr makes an error count as fs.ErrNotExist for the heartbeat: the
// entry is gone for everyone else.
type goneErr struct{ err error }

func (g goneErr) Error() string { return g.err.Error() }

func (g goneErr) Unwrap() error { return g.err }

func (g goneErr) Is(target error) bool { return target == fs.ErrNotExist }

func notRegular(t fs.FileMode) string {
	return fmt.Sprintf("an entry's name on something that is not a regular file (%v)", t.Type())
}

// foreignErr is the error of a contender that meets a foreign entry.
func foreignErr(path, reason string) error {
	return &Error{Op: "check", Path: path, Err: &foreignError{reason}}
}

// foreignError is the cause of foreignErr: ErrForeign, and why.
type foreignError struct{ reason string }

func (e *foreignError) Error() string {
	return fmt.Sprintf("%v: %s; it was left untouched, remove it by hand if it is junk", ErrForeign, e.reason)
}

func (e *foreignError) Unwrap() error { return ErrForeign }

// foreignReason is the reason of a foreignErr.
func foreignReason(err error, path string) string {
	var fe *foreignError
	if errors.As(err, &fe) {
		return fe.reason
	}
	return err.Error()
}

// transient names are client-side artefacts some filesystems create in any
// directory (NFS silly-renames, FUSE hidden files). They are not entries of
// the protocol and are neither counted nor reported.
func transient(name string) bool {
	// A waiter's wake subdirectory (refreshView) too, whatever type a
	// listing gives it: an SMB client lists one being removed as a file
	// that an lstat cannot describe. Its name never parses as an entry's.
	return strings.HasPrefix(name, ".nfs") || strings.HasPrefix(name, ".fuse_hidden") || strings.HasPrefix(name, wakePrefix)
}

// scan lists the lock directory, reaps stale entries and returns the live
// ones other than own (nil if none). If own is not empty and not listed it
// returns errOwnGone.
func (a *attempt) scan(ctx context.Context, own string) ([]competitor, error) {
	l := a.l
	if a.watch != nil {
		a.seen = a.watch.Changes()
	}
	ents, err := l.cfg.FS.ReadDir(a.dir)
	if err != nil {
		return nil, &Error{Op: "list", Path: l.dir, Err: err}
	}
	var live []competitor
	ownSeen := own == ""
	a.beginListing()
	for _, d := range ents {
		if d.Name == own {
			ownSeen = true
			continue
		}
		if strings.HasPrefix(d.Name, wakePrefix) {
			// A waiter's mark, or a wake directory (refreshView): never
			// an entry (F7), only a hint that someone waits.
			if d.Name != a.mark {
				a.noteMark(d.Name)
			}
			continue
		}
		ticket, shared, ignore, foreign := a.classify(d)
		if ignore {
			continue
		}
		if foreign != "" {
			return nil, foreignErr(filepath.Join(l.dir, d.Name), foreign)
		}
		path := entryPath(l.dir, d.Name)
		alive, err := a.judge1(ctx, d.Name, path)
		if err != nil {
			return nil, err
		}
		if alive {
			live = append(live, competitor{name: d.Name, ticket: ticket, shared: shared})
		}
	}
	if !ownSeen {
		return nil, errOwnGone
	}
	// Keep the memory bounded by the directory.
	pruneEntries := len(ents) < len(a.entries)
	if pruneEntries || len(a.marks) > 0 {
		names := make(map[string]bool, len(ents))
		for _, d := range ents {
			names[d.Name] = true
		}
		for n := range a.marks {
			if !names[n] {
				delete(a.marks, n)
			}
		}
		if pruneEntries {
			a.judge.Retain(func(n string) bool { return names[n] })
			for n := range a.entries {
				if !names[n] {
					delete(a.entries, n)
				}
			}
		}
	}
	a.pruneWaiters()
	return live, nil
}

// classify is classify(d) for scan, with an entry's ticket and kind
// remembered in its record: the same names come back scan after scan, and
// parsing them again (nonce.ParseName, nonce.IsShared) was a tenth of the
// simulator's instructions. Only a regular file's name is taken from the
// record; the record is the one judge1 makes for the entry anyway.
func (a *attempt) classify(d DirEntry) (ticket int32, shared, ignore bool, foreign string) {
	if r := a.entries[d.Name]; r != nil && r.parsed && d.Type.IsRegular() {
		return r.ticket, r.shared, false, ""
	}
	owner, ticket, ignore, foreign, _ := classifyChecked(a.l.cfg.FS, a.dir, d)
	if ignore || foreign != "" {
		return 0, false, ignore, foreign
	}
	r := a.entry(d.Name)
	r.ticket, r.shared, r.parsed = ticket, nonce.IsShared(owner), true
	return ticket, r.shared, false, ""
}

// entryPath is filepath.Join(dir, name) for the lock's directory (clean)
// and the name of an entry classify accepted (<owner>.<ticket>: letters,
// digits, '_', '-' and one '.', never a separator): a plain concatenation
// unless dir ends in a separator (a root) or a dot ("." or ".."), where
// Join's cleaning could change the result. Every scan joins every entry's
// name, so Join's cleaning was a hot spot of the simulator.
func entryPath(dir, name string) string {
	if dir == "" || os.IsPathSeparator(dir[len(dir)-1]) || dir[len(dir)-1] == '.' {
		return filepath.Join(dir, name)
	}
	return dir + string(filepath.Separator) + name
}

// judge1 decides whether the entry name is alive, reaping it if it is
// stale. A file that vanished is not alive.
func (a *attempt) judge1(ctx context.Context, name, path string) (bool, error) {
	l := a.l
	// An entry judged alive a moment ago is still alive: staleness takes a
	// lease to develop, so looking at its mtime every lease/8 only delays
	// reaping by that much, and spares a stat per competitor per poll.
	// An entry whose lease is not known (not read yet, or half-written
	// when read) is presumed to have the observer's own lease; if that is
	// None, it is judged again at every look, so that the lease it declares
	// is read once it is complete (an entry presumed never stale would never
	// be read again, and a dead one never reaped).
	if r := a.entries[name]; r != nil && r.aliveSet && (r.leaseKnown || !l.lease.Forever) {
		lease := l.lease
		if r.leaseKnown {
			lease = r.lease
		}
		if lease.Forever || l.cfg.Env.Mono()-r.alive < lease.D/8 {
			return true, nil
		}
	}
	// A first verdict from a stat; then, about to break someone's lock,
	// a second from a fresh view (T4): reading the file makes close-to-open
	// filesystems (NFS) revalidate its attributes, and rereads a lease that
	// may have been half-written.
	var s stale.Sighting
	for _, fresh := range [...]bool{false, true} {
		var gone bool
		var err error
		if s, gone, err = a.sight(name, path, fresh); gone || err != nil {
			return false, err
		}
		if !a.judge.Stale(name, s) {
			r := a.entry(name)
			r.alive, r.aliveSet = s.Mono, true
			return true, nil
		}
	}
	err := l.cfg.FS.Remove(a.dir, name)
	switch {
	case err == nil:
		l.cfg.Logger.Info("cryolock: reaped stale entry", "path", path, "mtime", s.ModTime, "lease", s.Lease.String(), "rule", l.cfg.Stale.String())
	case errors.Is(err, fs.ErrNotExist):
	default:
		return false, &Error{Op: "reap", Path: path, Err: err}
	}
	a.forget(name)
	return false, nil
}

// sight describes an entry: it reads the entry (its lease unknown, or
// fresh set) and takes the FileInfo of the opened file, or stats it.
func (a *attempt) sight(name, path string, fresh bool) (s stale.Sighting, gone bool, err error) {
	l := a.l
	rec := a.entry(name)
	lease, known := rec.lease, rec.leaseKnown
	var fi FileInfo
	if !known {
		lease = l.lease
	}
	if fresh || !known && !a.firstLookStats(rec) {
		var r readResult
		r, err = readEntry(l.cfg.FS, a.dir, name, path)
		switch {
		case isStaleHandle(err):
			return s, false, err // readEntry said why
		case errors.Is(err, fs.ErrNotExist):
			return s, true, nil
		case err != nil:
			return s, false, err
		case r.kind == stale.Valid:
			lease = r.lease
			rec.lease, rec.leaseKnown = r.lease, true
		default:
			// Present, lease not written yet (or torn by a crash):
			// presume the observer's own lease.
			lease = l.lease
		}
		fi = r.fi
	} else {
		fi, err = l.cfg.FS.Stat(a.dir, name)
		if isStaleHandle(err) {
			return s, false, staleHandleErr("stat", path, err)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return s, true, nil
		}
		if err != nil {
			return s, false, &Error{Op: "stat", Path: path, Err: err}
		}
		if !fi.IsRegular() {
			return s, false, foreignErr(path, notRegular(fi.Mode))
		}
	}
	env := l.cfg.Env
	s = stale.Sighting{ModTime: fi.ModTime, Size: fi.Size, Mono: env.Mono(), Now: env.Now(), Lease: lease}
	rec.last, rec.lastSet = s, true
	return s, false, nil
}

// firstLookStats reports whether the sighting of the entry of rec may be a
// stat although its lease is not known (J0): under Observed an entry's first
// sighting cannot be stale (it starts the observer's watch of it), so what
// the lease is does not matter yet, and a stat is one system call where a
// read is four. The read comes at the next judging (J1: a lease/8 later),
// and only for an entry that lives that long: on a busy directory most
// entries are gone by then. TryLock reads at once, as it decides from one
// look: content no contender wrote must be ErrForeign there, not "busy".
func (a *attempt) firstLookStats(rec *seen) bool {
	return !rec.lastSet && !a.try && a.l.cfg.Stale == stale.Observed
}

// readResult is what reading an entry tells.
type readResult struct {
	lease stale.Lease
	kind  stale.Content // Valid or Unknown
	fi    FileInfo      // of the opened file
}

// readEntry reads the entry name in d (F3): its lease if the content is
// complete, stale.Unknown if it is a prefix a contender may still be
// writing. Content no contender could have written, and anything but a
// regular file, is an error wrapping ErrForeign; a vanished entry wraps
// fs.ErrNotExist. Scan and Inspect share it.
func readEntry(fsys FS, d Dir, name, path string) (readResult, error) {
	b, fi, err := fsys.ReadFile(d, name)
	switch {
	case errors.Is(err, ErrNotRegular) && fi == (FileInfo{}):
		// Refused at the open (a symbolic link, say): the FS's own words
		// say what it is, a zero mode would not.
		why := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			why = pe.Err.Error()
		}
		return readResult{}, foreignErr(path, "an entry's name on something that is not a regular file ("+why+")")
	case errors.Is(err, ErrNotRegular):
		return readResult{}, foreignErr(path, notRegular(fi.Mode))
	case isStaleHandle(err):
		return readResult{}, staleHandleErr("read", path, err)
	case err != nil:
		return readResult{}, &Error{Op: "read", Path: path, Err: err}
	}
	lease, kind, perr := stale.ParseEntry(b, fi.Size)
	if kind == stale.Garbage {
		if fi.Links > 1 {
			// Another name of a file that may be anybody's (a hard link
			// planted here): its content is not for our messages.
			return readResult{}, foreignErr(path, fmt.Sprintf("a file with %d links (another name for it exists, maybe outside the lock directory) whose content is not a lease; the content is not shown", fi.Links))
		}
		return readResult{}, foreignErr(path, perr.Error())
	}
	return readResult{lease: lease, kind: kind, fi: fi}, nil
}

// isStaleHandle reports NFS's ESTALE (which reads as fs.ErrNotExist
// elsewhere). A listed entry that answers ESTALE is not judged gone: on a
// server failover a live entry can answer ESTALE, and counting it out would
// let this contender hold beside its owner (PROOF.md, A0c). The attempt
// fails instead, and the caller's next attempt looks again.
func isStaleHandle(err error) bool {
	if err == nil {
		return false // without errors.As's allocation, on every read and stat
	}
	var sh staleHandle
	return errors.As(err, &sh)
}

func staleHandleErr(op, path string, err error) error {
	return &Error{Op: op, Path: path, Err: &peerStaleError{err}}
}

// peerStaleError is why an attempt failed when another's entry answered
// ESTALE: not a fault of this contender's own files, so a blocking Lock
// waits and looks again (Lock.acquire) where TryLock reports it.
type peerStaleError struct{ err error }

func (e *peerStaleError) Error() string {
	return "a stale file handle (ESTALE: a server failover?); not judged gone: " + e.err.Error()
}

func (e *peerStaleError) Unwrap() error { return e.err }
