package protocol

// The attempt loop of Lock and TryLock: rules C0–C4 of docs/PROTOCOL.md
// (look, enter, settle, check, confirm), withdrawal, backoff and TryLock's
// watch of suspect entries (rule W).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/stale"
)

// outcome of one entry's check phase.
type outcome int

const (
	held outcome = iota
	withdrawn
	busy // keep the entry and look again (TryLock gives up instead)
)

// attempt is the state of one call to Lock or TryLock.
type attempt struct {
	l      *Lock
	dir    Dir  // the lock directory, opened once for the whole attempt
	waited bool // the attempt has slept at least once
	memory
	delay    time.Duration // current backoff
	live     []competitor  // the live competitors of the latest check
	tryUntil time.Duration // TryLock: how long to watch suspect entries

	watch      DirWatch // wakes the backoff early, if the FS can watch
	watchTried bool
	seen       uint64   // watch.Changes() when the last listing began
	wake       []string // the next sleep ends when one of these is removed (nil: at any change)

	// Waiters of a mutex (or writers) queue by ticket: see drawTicket.
	queue       bool
	start       time.Duration   // Mono when the attempt began
	listed      bool            // the entry about to be made follows a listing
	highest     int32           // the highest exclusive ticket of that listing (-1: none)
	staggered   bool            // the look before this one staggered
	displaced   int             // how often a queued entry of this attempt withdrew before a higher ticket
	woke        bool            // the latest sleep was ended by the watch
	polite      bool            // the value's previous acquisition met others a moment ago
	sawOthers   bool            // a listing of this attempt showed live entries of others
	behind      map[string]bool // exclusive entries the previous look showed beside other exclusive ones
	interrupted bool            // the latest stagger was cut short by a change
	blockers    []competitor    // the live entries that keep a waiting looker out
	enteredAt   time.Time       // wall clock when the latest entry's check began
}

// newAttempt starts an acquisition. What the Lock value has seen of other
// entries (the judge's sightings, their leases) carries over from its earlier
// attempts: an entry watched across several TryLock calls is judged by the
// whole time it was watched. Only one acquisition of a Lock value runs at a
// time (the busy flag), so the memory needs no lock of its own.
func (l *Lock) newAttempt(d Dir) *attempt {
	if l.mem.judge == nil {
		l.mem = memory{
			judge:   stale.NewJudge(l.cfg.Stale),
			entries: make(map[string]*seen),
		}
	}
	return &attempt{l: l, dir: d, memory: l.mem, queue: l.role == exclusive && l.slots == 1, start: l.cfg.Env.Mono(), highest: -1}
}

func (l *Lock) acquireV1(ctx context.Context, d Dir, try bool) (*entry, error) {
	a := l.newAttempt(d)
	defer a.stopWatch()
	// The first round enters at once: on an uncontended lock that is one
	// create, one listing and (at release) one removal. Looking first (rule
	// 1) is an optimisation for contended locks, not a safety step — except
	// for liveness after an error: a caller that retries a failed Lock at
	// once would otherwise enter again and again, and with a settle delay
	// longer than the gap between (transient) errors every contender keeps
	// withdrawing and nobody wins. So after an error the next attempt of the
	// value looks first.
	look := l.lookFirst
	// A value whose previous acquisition met others, a moment ago, looks
	// before entering, and lets those waiting go first: on a busy lock its
	// blind entry would only withdraw again (two more changes that every
	// waiter's watch reports), or barge in ahead of them.
	if m := &l.mem; m.contendedSet && l.cfg.Env.Mono()-m.lastSeen() < max(contendedFor, l.lease.D) {
		look, a.polite = true, true
		a.startWatch()
	}
	var got *entry
	defer func() {
		l.mem.contendedSet, l.mem.held = false, nil
		if a.sawOthers {
			l.mem.contended, l.mem.contendedSet, l.mem.held = l.cfg.Env.Mono(), true, got
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return nil, l.ctxErr(err)
		}
		a.listed = look
		if look {
			live, fromLog, err := a.look(ctx)
			if err != nil {
				return nil, err
			}
			a.highest = highestExclusive(live)
			a.sawOthers = a.sawOthers || len(live) > 0
			// The place behind a lone entry is not taken at once if the
			// previous look showed it with others: its holder may just
			// have left, and it may be the next in line that has not
			// checked yet; an entry above it would make it withdraw.
			single := singleExclusive(live)
			confirmed := single == "" || !a.behind[single]
			a.behind = behindOthers(live)
			if a.queue && !try && a.watch != nil {
				// Only where a watch reports changes (a local filesystem,
				// whose listings are coherent): with listings cached for
				// seconds (FUSE, sshfs) contenders on two mounts
				// leapfrogged each other, and waiting 8 times longer on
				// sshfs is no price for order.
				//
				// A waiting mutex contender (or writer) enters as soon
				// as the only exclusive entry left is the holder's, with
				// a ticket above it, and waits there to be next; others
				// sleep until one of those entries is removed. Where a
				// watch wakes a crowd at once, it staggers a moment before
				// it enters (shorter the longer it has waited), so that the
				// first to enter is seen by the rest, who go back to sleep
				// instead of entering and withdrawing together; without a
				// watch, polls are spread out already.
				// Leapfrogging needs a window between an entry and its
				// check: here, a settle delay.
				plain := l.cfg.Settle > 0 && a.displaced >= maxDisplaced
				if plain && l.blocked(live) || !plain && a.queueFull(live) {
					a.staggered = false
					a.blockers = live
					a.wake = names(live)
					if err := a.backoff(ctx); err != nil {
						return nil, l.ctxErr(err)
					}
					continue
				}
				if !a.staggered && a.watch != nil && (len(live) > 0 || a.waited || a.polite) {
					a.staggered = true
					a.blockers = live
					if err := a.stagger(ctx); err != nil {
						return nil, l.ctxErr(err)
					}
					continue
				}
				if !confirmed {
					a.wake = nil
					if err := a.backoff(ctx); err != nil {
						return nil, l.ctxErr(err)
					}
					continue
				}
				if fromLog {
					// The watch's names say the way is clear: see for
					// ourselves before entering (after a new stagger if
					// the last one was cut short by a change).
					a.staggered = a.staggered && !a.interrupted
					a.blockers = nil
					continue
				}
				a.staggered = false
			} else if l.blocked(live) {
				if try && !a.watchSuspects(live) {
					return nil, nil
				}
				a.wake = names(live)
				if err := a.backoff(ctx); err != nil {
					return nil, l.ctxErr(err)
				}
				continue
			}
		}
		look = true
		a.blockers = nil
		e, err := a.enter()
		if errors.Is(err, errOwnGone) {
			if err := a.backoff(ctx); err != nil {
				return nil, l.ctxErr(err)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		out, err := a.check(ctx, e, try)
		switch {
		case err != nil:
			return nil, err
		case out == held:
			out, err = a.confirm(ctx, e)
			if err != nil {
				return nil, err
			}
			if out == held {
				a.delay = 0
				got = e
				return e, nil
			}
		}
		if try && !a.watchSuspects(a.live) {
			return nil, nil
		}
		if err := a.backoff(ctx); err != nil {
			return nil, l.ctxErr(err)
		}
	}
}

func (l *Lock) ctxErr(err error) error {
	return fmt.Errorf("cryolock: lock %s: %w", l.dir, err)
}

// openDir opens the lock directory (F1), creating it if missing, without
// following a symbolic link: every later primitive of the acquisition and
// the hold acts relative to this handle.
func (l *Lock) openDir() (Dir, error) {
	d, err := l.cfg.FS.OpenDir(nil, l.dir, true, l.cfg.DirPerm)
	switch {
	case err == nil:
		return d, nil
	case errors.Is(err, ErrBadPath):
		return nil, err
	}
	return nil, fmt.Errorf("cryolock: opening lock directory %s: %w", l.dir, err)
}

// check is rules 3 and 4: settle, then list until the entry is held, must
// withdraw, or (TryLock) meets a live competitor.
func (a *attempt) check(ctx context.Context, e *entry, try bool) (outcome, error) {
	l := a.l
	fail := func(err error) (outcome, error) {
		if werr := a.withdraw(e); werr != nil {
			err = errors.Join(err, werr)
		}
		return withdrawn, err
	}
	if err := l.cfg.Env.Sleep(ctx, l.cfg.Settle); err != nil {
		return fail(l.ctxErr(err))
	}
	a.enteredAt = l.cfg.Env.Now()
	raceUntil := l.cfg.Env.Mono() + raceWait + l.cfg.Settle
	for {
		live, err := a.scan(ctx, e.name)
		if errors.Is(err, errOwnGone) {
			e.stop()
			l.cfg.Logger.Warn("cryolock: own spec file was removed while waiting; starting over", "path", e.path)
			return withdrawn, nil
		}
		if err != nil {
			return fail(err)
		}
		if a.overdue(e) || e.lostErr() != nil {
			// Our heartbeat is too old: someone may be judging us stale
			// right now. Start over rather than trust this listing.
			l.cfg.Logger.Warn("cryolock: heartbeat overdue while waiting; starting over", "path", e.path)
			return fail(nil)
		}
		a.live = live
		a.sawOthers = a.sawOthers || len(live) > 0
		switch l.decide(live, e.ticket) {
		case held:
			l.cfg.Logger.Debug("cryolock: held", "path", e.path)
			return held, nil
		case withdrawn:
			if a.queue && e.ticket >= 0 {
				// A queued entry made to withdraw by a higher one. After
				// maxDisplaced of those this attempt enters only on a
				// listing without live entries, as an unqueued contender,
				// so waiters cannot leapfrog each other forever while
				// nobody holds (the simulator found that with a long
				// settle: each saw only the other's entry and entered
				// above it).
				a.displaced++
			}
			if _, err := fail(nil); err != nil {
				return withdrawn, err
			}
			return withdrawn, nil
		}
		a.wake = names(live)
		if try {
			// Only lower tickets: they withdraw (they see ours), unless
			// one of them holds. Racers that entered at about the same
			// time are given a moment to withdraw, so that of TryLocks
			// racing on a free lock one wins instead of none; an entry
			// older than that is a holder, and TryLock gives up at once.
			if left := raceUntil - l.cfg.Env.Mono(); left > 0 && a.racers(live) {
				a.startWatch()
				d := min(left, max(l.cfg.MinBackoff, time.Millisecond))
				if a.watch != nil {
					d = left
				}
				if err := a.sleepBackoff(ctx, d); err != nil {
					return fail(l.ctxErr(err))
				}
				continue
			}
			if _, err := fail(nil); err != nil {
				return withdrawn, err
			}
			return busy, nil
		}
		if err := a.backoff(ctx); err != nil {
			return fail(l.ctxErr(err))
		}
	}
}

var errOwnGone = errors.New("own spec file gone")

// fences reports whether the lock issues fencing tokens: exclusive,
// single-slot locks with fencing on.
func (l *Lock) fences() bool {
	return l.cfg.Fencing != FencingOff && l.role == exclusive && l.slots == 1
}

// confirm stands between a "held" decision and success (rule T). Without
// fencing it only refuses a hold already known to be lost. With fencing it
// writes the next token and then lists again: the token is good only if the
// entry was never reaped between its creation and that listing (it is still
// listed) and its heartbeat is neither overdue nor lost. Then no other
// contender held in that span, so every earlier holder wrote its token
// before our read and every later one reads ours: tokens increase with
// holds. A contender paused between "held" and its token write (reaped and
// replaced meanwhile) fails this check and starts over instead of
// returning a token greater than its successor's (TestFencingPausedHolder).
func (a *attempt) confirm(ctx context.Context, e *entry) (outcome, error) {
	l := a.l
	if a.waited {
		// The directory was opened before a wait that may have been long:
		// a hold in a directory no longer at the lock's path is no hold.
		if err := l.cfg.FS.Verify(a.dir); err != nil {
			if werr := a.withdraw(e); werr != nil {
				err = errors.Join(err, werr)
			}
			return withdrawn, fmt.Errorf("cryolock: lock %s: %w", l.dir, err)
		}
	}
	if !l.fences() {
		if e.lostErr() != nil || a.overdue(e) {
			return withdrawn, a.withdraw(e)
		}
		return held, nil
	}
	tok, err := l.nextFence(a.dir)
	if err != nil {
		if werr := a.withdraw(e); werr != nil {
			err = errors.Join(err, werr)
		}
		return withdrawn, err
	}
	if _, err := a.scan(ctx, e.name); errors.Is(err, errOwnGone) {
		e.stop()
		l.cfg.Logger.Warn("cryolock: own entry was removed before its fencing token was confirmed; starting over", "path", e.path)
		return withdrawn, nil
	} else if err != nil {
		if werr := a.withdraw(e); werr != nil {
			err = errors.Join(err, werr)
		}
		return withdrawn, err
	}
	if e.lostErr() != nil || a.overdue(e) {
		l.cfg.Logger.Warn("cryolock: heartbeat overdue before the fencing token was confirmed; starting over", "path", e.path)
		return withdrawn, a.withdraw(e)
	}
	e.token = tok
	return held, nil
}

// competitor is a live spec file of someone else.
type competitor struct {
	name   string
	ticket int32
	shared bool
}

// blocked is rule 1's test: whether the live entries seen before entering
// mean there is no point entering now.
func (l *Lock) blocked(live []competitor) bool {
	if l.role == shared {
		for _, c := range live {
			if !c.shared {
				return true // a writer holds or waits: readers keep out
			}
		}
		return false
	}
	return len(live) >= l.slots
}

// decide is rule 4's test for an entry with ticket mine, given the live
// entries of others seen in a listing made after the entry was created:
// held, withdrawn (remove the entry, back off, start over) or busy (keep the
// entry and look again).
//
//   - A reader holds when no exclusive entry is live, and withdraws
//     otherwise: a waiting writer keeps readers out, so readers cannot
//     starve writers.
//   - An exclusive entry holds when fewer than slots others are live
//     (readers included). Otherwise it withdraws if at least slots
//     exclusive entries have a ticket ≥ mine (ties withdraw both), and waits
//     if not: the lower tickets will withdraw, or are holders that will
//     release. With slots = 1 this is the mutex rule: hold on an empty
//     listing, withdraw before any ticket ≥ mine, wait on lower ones.
//
// Safety rests only on the "held" cases, which need an empty-enough listing
// made after the entry's own creation; the tickets only break symmetry.
func (l *Lock) decide(live []competitor, mine int32) outcome {
	if l.role == shared {
		for _, c := range live {
			if !c.shared {
				return withdrawn
			}
		}
		return held
	}
	if len(live) < l.slots {
		return held
	}
	higher := 0
	for _, c := range live {
		if !c.shared && c.ticket >= mine {
			higher++
		}
	}
	if higher >= l.slots {
		return withdrawn
	}
	return busy
}

// watchSuspects decides whether TryLock, blocked by the live entries live,
// should keep looking instead of giving up. Under the Observed rule an entry
// is judged stale only after a whole lease of watching, so a TryLock that gave
// up at once would never clear a crashed holder's entry: `cryolock run
// --nonblock` from cron would stay blocked forever. So when every blocking
// entry also looks dead by the wall clock (mtime + lease < now: a hint only,
// never a reason to break anything), TryLock watches them for up to
// 1.25 leases, until the judge reaps them or the time is up. A live holder
// looks alive by the wall clock unless clocks are skewed by more than its
// lease, so TryLock still returns at once in the common case.
func (a *attempt) watchSuspects(live []competitor) bool {
	if len(live) == 0 {
		return false
	}
	env := a.l.cfg.Env
	now := env.Now()
	var longest time.Duration
	for _, c := range live {
		r := a.entries[c.name]
		if r == nil || !r.lastSet {
			return false
		}
		s := r.last
		if s.Lease.Forever || !s.ModTime.Add(s.Lease.D).Before(now) {
			return false
		}
		longest = max(longest, s.Lease.D)
	}
	mono := env.Mono()
	if a.tryUntil == 0 {
		a.tryUntil = mono + longest + longest/4 + a.l.cfg.Settle
		a.l.cfg.Logger.Debug("cryolock: TryLock watches entries that look dead", "path", a.l.dir, "for", a.tryUntil-mono)
	}
	return mono < a.tryUntil
}

// backoff sleeps for a randomised, exponentially growing delay between
// MinBackoff and MaxBackoff (or DefaultIdleBackoff: see Config.ceiling).
func (a *attempt) backoff(ctx context.Context) error {
	c := &a.l.cfg
	a.startWatch()
	if a.delay == 0 {
		a.delay = c.MinBackoff
	} else {
		a.delay = min(a.delay*2, c.ceiling(a.watch != nil))
	}
	a.waited = true
	delay := a.delay
	if a.watch != nil {
		delay = WatchedPoll // changes wake us; the poll is only a safety net
	}
	// Sleep a uniformly random time in [delay/2, delay).
	d := delay/2 + time.Duration(unit(c.Env.Uint64())*float64(delay/2))
	if err := a.sleepBackoff(ctx, d); err != nil {
		return err
	}
	if a.watch == nil && c.Settle > 0 {
		a.refreshView()
	}
	return nil
}

// wakePrefix starts the name of the subdirectory a waiter makes and removes
// at once to refresh its view of the lock directory (refreshView).
const wakePrefix = ".cryolock-wake-"

// refreshView makes a change of this client's own in the lock directory
// before the listing that follows a wait: a subdirectory, made and removed
// at once, which every contender ignores (subdirectories are not entries,
// PROTOCOL.md). Where a client's own change refreshes its view of the
// directory — NFS (the directory's post-operation attributes invalidate its
// cached pages) and sshfs (which drops the directory's cache) — the next
// listing then shows a release within one backoff, not a cache lifetime
// later (sshfs: 20 s). It runs only where listings are cached (Settle > 0)
// and nothing can be watched. It is for liveness only: no decision rests on
// it (rule C4's listing follows the contender's own create anyway,
// docs/PROOF.md A1), its errors are ignored, a name shared by two waiters
// (the host and pid of Env.Process) costs one of them that refresh, and
// only a directory is removed (a regular file of that name is foreign, F8).
func (a *attempt) refreshView() {
	l := a.l
	host, pid := l.cfg.Env.Process()
	name := wakePrefix + strconv.Itoa(pid) + "-" + strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, host)
	d, err := l.cfg.FS.OpenDir(a.dir, name, true, 0o700)
	if err != nil {
		return // e.g. a file of that name: foreign (F8), never removed
	}
	d.Close()
	l.cfg.FS.Remove(a.dir, name) // a directory: empty, unless someone filled it
}

// unit maps 64 random bits to a float64 uniform in [0, 1).
func unit(v uint64) float64 { return float64(v>>11) / (1 << 53) }

// raceWait is how long a TryLock whose entry sees only lower tickets of
// entries made at about the same time waits for them to withdraw; raceAge is
// how much older than its own entry such an entry may look (by its mtime).
const (
	raceWait = 20 * time.Millisecond
	raceAge  = 2 * time.Second
)

// racers reports whether every competitor in live looks like a contender
// that entered at about the same time as ours (not a holder that has been
// there for a while): its latest mtime is no older than raceAge before our
// entry. Only a hint for how long TryLock looks; decisions are the check's.
func (a *attempt) racers(live []competitor) bool {
	for _, c := range live {
		r := a.entries[c.name]
		if r == nil || !r.lastSet || r.last.ModTime.Before(a.enteredAt.Add(-raceAge)) {
			return false
		}
	}
	return true
}

// drawTicket is the ticket of the entry about to be made. A mutex
// contender (or writer) draws a blind ticket (below zero) when it enters
// without having listed the directory, and a queued one (above every live
// exclusive ticket it listed, more so the longer it has waited) when it
// enters from a listing: it then waits behind the holder rather than
// withdrawing, and newcomers that enter blind yield to it, so waiters are
// served roughly in order of arrival. Tickets only break symmetry; safety
// never depends on them (docs/PROOF.md). Other kinds draw uniformly.
func (a *attempt) drawTicket() int32 {
	env := a.l.cfg.Env
	if !a.queue {
		return nonce.Ticket(env)
	}
	if a.listed {
		if t, ok := nonce.QueuedTicket(env, a.highest, env.Mono()-a.start); ok {
			return t
		}
	}
	return nonce.BlindTicket(env)
}

// queueFull reports whether a waiting mutex contender should keep out: two
// or more exclusive entries are live (a holder and the next in line, or
// contenders still sorting themselves out), or the holder's ticket leaves
// no room above it.
func (a *attempt) queueFull(live []competitor) bool {
	n := 0
	for _, c := range live {
		if !c.shared {
			n++
		}
	}
	return n >= 2 || !nonce.QueueRoom(a.highest)
}

// highestExclusive is the highest ticket of the exclusive entries in live
// (-1 if none).
func highestExclusive(live []competitor) int32 {
	h := int32(-1)
	for _, c := range live {
		if !c.shared && c.ticket > h {
			h = c.ticket
		}
	}
	return h
}

// behindOthers are the exclusive entries of live if there are two or more.
func behindOthers(live []competitor) map[string]bool {
	var m map[string]bool
	n := 0
	for _, c := range live {
		if !c.shared {
			n++
		}
	}
	if n < 2 {
		return nil
	}
	m = make(map[string]bool, n)
	for _, c := range live {
		if !c.shared {
			m[c.name] = true
		}
	}
	return m
}

// singleExclusive is the name of the only exclusive entry in live ("" if
// there are none or several).
func singleExclusive(live []competitor) string {
	name := ""
	for _, c := range live {
		if !c.shared {
			if name != "" {
				return ""
			}
			name = c.name
		}
	}
	return name
}

// names are the names of live.
func names(live []competitor) []string {
	n := make([]string, len(live))
	for i, c := range live {
		n[i] = c.name
	}
	return n
}

// staggerMax bounds the stagger of a contender that has not waited yet;
// staggerRef is how long a wait halves it.
const (
	staggerMax = 2 * time.Millisecond
	staggerRef = 100 * time.Millisecond
)

// stagger sleeps a random moment before a waiting mutex contender enters,
// shorter the longer it has waited, or until the directory changes.
func (a *attempt) stagger(ctx context.Context) error {
	a.startWatch()
	env := a.l.cfg.Env
	// A contender that has not waited yet (one that just released, back
	// for more) staggers longest, so that those woken by its release go
	// first.
	d := staggerMax
	if a.waited {
		waited := max(env.Mono()-a.start, 0)
		scale := float64(staggerRef) / float64(staggerRef+waited)
		d = time.Duration(unit(env.Uint64()) * float64(staggerMax) * scale)
	}
	a.waited = true
	a.wake = nil
	err := a.sleepBackoff(ctx, d)
	a.interrupted = a.woke
	return err
}

// maxDisplaced is how often an attempt's queued entry may be made to
// withdraw by a higher ticket, on a watched directory with a settle delay,
// before the attempt stops queueing.
const maxDisplaced = 3

// lastSeen is when the value last knew its previous acquisition's
// contention to be current: its end, or the last good heartbeat of the
// hold it gave (which runs every half lease until the release).
func (m *memory) lastSeen() time.Duration {
	t := m.contended
	if m.held != nil {
		t = max(t, time.Duration(m.held.lastOK.Load()))
	}
	return t
}

// contendedFor (or the lease, if longer) is how long after an acquisition
// that met others the next acquisition of the same value looks before
// entering.
const contendedFor = time.Second

// look is rule C1's listing. A waiting mutex contender woken by the removal
// of an entry that kept it out may instead take the live entries from what
// it last listed and the names the watch saw created and removed since:
// only a hint for whether to go on sleeping — it lists before it enters.
// fromLog tells which.
func (a *attempt) look(ctx context.Context) (live []competitor, fromLog bool, err error) {
	woke := a.woke
	a.woke = false
	if woke && a.blockers != nil {
		if cl, ok := a.watch.(changeLog); ok {
			if created, removed, now, ok := cl.changesSince(a.seen); ok {
				a.seen = now
				return applyChanges(a.blockers, created, removed), true, nil
			}
		}
	}
	live, err = a.scan(ctx, "")
	return live, false, err
}

// applyChanges is live with the names removed dropped and the entry names
// created added (names that do not parse are ignored: a hint).
func applyChanges(live []competitor, created, removed []string) []competitor {
	out := make([]competitor, 0, len(live)+len(created))
	gone := make(map[string]bool, len(removed))
	for _, n := range removed {
		gone[n] = true
	}
	for _, c := range live {
		if !gone[c.name] {
			out = append(out, c)
		}
	}
	for _, n := range created {
		if gone[n] {
			continue
		}
		if owner, ticket, ok := nonce.ParseName(n); ok {
			out = append(out, competitor{name: n, ticket: ticket, shared: nonce.IsShared(owner)})
		}
	}
	return out
}
