package protocol

// Waiting between looks: backoff, the stagger before entering, TryLock's
// watch of suspect entries (rule W) and the listing taken from the
// directory watch's change log.

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
)

// watchSuspects decides whether TryLock, blocked by the live entries live,
// should keep looking instead of giving up. Under the Observed rule an entry
// is judged stale only after a whole lease of watching, so a TryLock that gave
// up at once would never clear a crashed holder's entry: `cryolock run
// --nonblock` from cron would stay blocked forever. So when every blocking
// entry also looks dead by the wall clock (mtime + lease < now: a hint only,
// never a reason to break anything), TryLock watches them for up to
// 1.25 leases, until the judge reaps them or the time is up. A live holder
// looks alive by the wall clock unless clocks are skewed by more than its
// lease, so TryLock still returns at once in the common case. Only the
// entries in the way count, and only while reaping those that look dead
// would let the TryLock in: a reader needs every exclusive entry gone (a
// live reader's entry beside a dead writer's keeps no reader out), a
// contender of n slots fewer than n entries left (a live holder beside a
// dead one leaves a semaphore's slot to reap; a mutex needs all gone).
func (a *attempt) watchSuspects(live []competitor) bool {
	env := a.l.cfg.Env
	now := env.Now()
	var longest time.Duration
	inWay, dead := 0, 0
	for _, c := range live {
		if a.l.role == shared && c.shared {
			continue
		}
		inWay++
		r := a.entries[c.name]
		if r == nil || !r.lastSet {
			continue
		}
		s := r.last
		if s.Lease.Forever || !s.ModTime.Add(s.Lease.D).Before(now) {
			continue
		}
		dead++
		longest = max(longest, s.Lease.D)
	}
	need := inWay // a reader: every exclusive entry must go
	if a.l.role != shared {
		need = inWay - a.l.slots + 1
	}
	if dead == 0 || dead < need {
		return false
	}
	mono := env.Mono()
	if a.tryUntil == 0 {
		a.tryUntil = mono + longest + longest/4 + a.l.cfg.Settle
		a.l.cfg.Logger.Debug("cryolock: TryLock watches entries that look dead", "path", a.l.dir, "for", a.tryUntil-mono)
	}
	return mono < a.tryUntil
}

// backoff sleeps for a randomised, exponentially growing delay between
// MinBackoff and MaxBackoff (or DefaultIdleBackoff: see config.ceiling).
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
	if a.watch == nil && a.queue && !a.try && !a.checking && len(a.youngerListed) > 0 && !a.outranked {
		// First in line (rule Y): waiters behind it have listed it for a
		// poll and wait for its look when the lock comes free, so it
		// looks more often than they do. Waiters that began at the same
		// moment list each other only after their own first marks, and
		// each would take itself for the first: the lowest ticket in
		// their marks (ties by name) is, and the others keep their
		// ceiling.
		if now := c.Env.Mono(); now-a.start >= c.poll() && a.patientOlder(now) == 0 {
			delay = min(delay, max(c.MinBackoff, c.headCeiling(len(a.youngerListed))))
		}
	}
	if a.watch != nil && (a.ew == nil || a.wake != nil) {
		delay = watchedPoll // changes wake us; the poll is only a safety net
	}
	// Sleep a uniformly random time in [delay/2, delay).
	d := delay/2 + time.Duration(unit(c.Env.Uint64())*float64(delay/2))
	if err := a.sleepBackoff(ctx, d); err != nil {
		return err
	}
	if a.watch == nil {
		if a.queue && !a.try && !a.checking {
			a.renewMark()
		} else if c.Settle > 0 {
			a.refreshView()
		}
	}
	return nil
}

// wakePrefix starts the name of the subdirectory a waiter makes and removes
// at once to refresh its view of the lock directory (refreshView), or keeps
// while it waits as its mark (renewMark).
const wakePrefix = ".cryolock-wake-"

// refreshView makes a change of this client's own in the lock directory
// before the listing that follows a wait: a subdirectory, made and removed
// at once, which every contender ignores (subdirectories are not entries,
// F7). Where a client's own change refreshes its view of the directory —
// NFS (the directory's post-operation attributes invalidate its cached
// pages) and sshfs (which drops the directory's cache) — the next listing
// then shows a release within one backoff, not a cache lifetime later
// (sshfs: 20 s). It runs only where listings are cached (Settle > 0) and
// nothing can be watched, for a waiter that keeps no mark (renewMark makes
// the same changes). It is for liveness only: no decision rests on it
// (rule C4's listing follows the contender's own create anyway,
// docs/PROOF.md A1), and its errors are ignored. Its name carries a fresh
// owner (60 random bits), so it never is a directory someone else made.
func (a *attempt) refreshView() {
	l := a.l
	host, pid := l.cfg.Env.Process()
	name := wakePrefix + nonce.NewOwner(l.cfg.Env, host, pid)
	d, err := l.cfg.FS.OpenDir(a.dir, name, true, 0o700)
	if err != nil {
		return
	}
	d.Close()
	l.cfg.FS.Remove(a.dir, name)
}

// renewMark keeps a waiting mutex contender (or writer) of an unwatched
// directory visible while it polls: a subdirectory named like refreshView's,
// made anew after each sleep, before the look that follows, and the previous
// one removed; dropMark removes the last when the attempt ends. A waiter
// that polls leaves no entry, so without it a process that takes the lock
// again the moment it releases it would always find it free, and keep it
// from every waiter (bench kind cryolock-unwatched: one process took nearly
// every acquisition). A contender whose listings show another's fresh mark
// stands aside for a poll before it enters again (standAside). Like
// refreshView, whose work it does (two changes of this client's own before
// its listing), it is for liveness only: every rule ignores the name (F7),
// and its errors are ignored — except that an attempt whose old mark
// could not be removed makes no more (marks must not pile up).
func (a *attempt) renewMark() {
	if a.markOff {
		return
	}
	l := a.l
	if a.markID == "" {
		// Its place in line (rule Y): after every waiter whose mark it
		// has listed, as in Lamport's bakery.
		host, pid := l.cfg.Env.Process()
		a.markTicket = a.maxTicketListed + 1
		a.markID = nonce.NewOwner(l.cfg.Env, host, pid) + "." + strconv.Itoa(a.markTicket)
	}
	a.markSeq++
	name := wakePrefix + a.markID + "." + strconv.Itoa(a.markSeq)
	if d, err := l.cfg.FS.OpenDir(a.dir, name, true, 0o700); err == nil {
		d.Close()
	} else {
		name = ""
	}
	if !a.dropMark() {
		a.markOff = true
		if name != "" {
			l.cfg.FS.Remove(a.dir, name)
		}
		return
	}
	a.mark = name
}

// dropMark removes the attempt's mark, if it has one, and reports whether
// it is gone.
func (a *attempt) dropMark() bool {
	if a.mark == "" {
		return true
	}
	err := a.l.cfg.FS.Remove(a.dir, a.mark)
	a.mark = ""
	return err == nil || errors.Is(err, fs.ErrNotExist)
}

// markFresh is how long after a value first listed a mark it takes the
// mark for a waiter's: a waiter renews it at every poll, at most its backoff
// ceiling apart (the default's, if this value's is shorter: waiters may be
// configured apart), so a mark listed for longer is a crashed waiter's.
func (c *config) markFresh() time.Duration {
	return 2*max(c.ceiling(false), DefaultIdleBackoff) + c.Settle
}

// noteMark records a mark of someone else seen in a listing: the attempt
// met a waiter if the mark is fresh.
func (a *attempt) noteMark(name string) {
	id := markWaiter(name)
	if id == a.markID {
		return // an earlier mark of this attempt's own, in a cached listing
	}
	now := a.l.cfg.Env.Mono()
	first, ok := a.marks[name]
	if !ok {
		a.marks[name] = now
		first = now
	}
	if _, ok := a.waitersSince[id]; !ok {
		a.waitersSince[id] = now
	}
	if now-first > a.l.cfg.markFresh() {
		return
	}
	a.waiters = true
	ticket := markTicket(id)
	if a.markID == "" {
		// Listed before this attempt made a mark of its own: that
		// waiter came first.
		if a.older == nil {
			a.older = make(map[string]bool)
		}
		a.older[id] = true
		a.maxTicketListed = max(a.maxTicketListed, ticket)
	}
	if a.older[id] && !slices.Contains(a.olderListed, id) {
		a.olderListed = append(a.olderListed, id)
	}
	if !a.older[id] && len(a.youngerListed) < crowdCounted && !slices.Contains(a.youngerListed, id) {
		a.youngerListed = append(a.youngerListed, id)
	}
	if ticket < a.markTicket || ticket == a.markTicket && id < a.markID {
		a.outranked = true
	}
}

// beginListing forgets which waiters the previous listing showed
// (olderListed, youngerListed, outranked): noteMark notes them anew for
// each listing.
func (a *attempt) beginListing() {
	a.olderListed, a.youngerListed, a.outranked = a.olderListed[:0], a.youngerListed[:0], false
}

// pruneWaiters forgets when it first listed the waiters whose marks are
// no longer listed: the waiters of the marks in memory (pruned by the
// listing already) are the ones still waiting.
func (a *attempt) pruneWaiters() {
	if len(a.waitersSince) == 0 {
		return
	}
	ids := make(map[string]bool, len(a.marks))
	for n := range a.marks {
		ids[markWaiter(n)] = true
	}
	for id := range a.waitersSince {
		if !ids[id] {
			delete(a.waitersSince, id)
		}
	}
}

// markTicket is a waiter's place in line, from its name in its marks
// (markWaiter; see renewMark): the number after its owner, or 0 for a
// waiter that has none (a wake directory of refreshView, or a mark of an
// older version of this library), which then comes first.
func markTicket(id string) int {
	if i := strings.LastIndexByte(id, '.'); i > 0 {
		if n, err := strconv.Atoi(id[i+1:]); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

// markWaiter is the waiter a mark belongs to: its name without the prefix
// and the renewal's number (renewMark). A name without a number (a wake
// directory of refreshView, or a mark of an older version of this library)
// is a waiter of its own.
func markWaiter(name string) string {
	s := strings.TrimPrefix(name, wakePrefix)
	if i := strings.LastIndexByte(s, '.'); i > 0 {
		return s[:i]
	}
	return s
}

// yieldToOlder decides whether a waiting mutex contender (or writer) of an
// unwatched directory, whose look found the lock free, lets the waiters that
// came first go first (rule Y): those whose marks it listed before it made a
// mark of its own (its first look showed them: such a waiter's first look
// came before its mark, and so before this one's first look, so the order
// is never both ways), whose latest marks are fresh, and that it has listed
// for a poll (its backoff ceiling and the settle delay) or more — a waiter
// listed for less has lost nothing yet, and whoever looks first may enter,
// as when nobody waits long (a lock held for a millisecond at a time hands
// over at the quickest poll, not the longest waiter's). Such a waiter looks
// at least once in every poll of its ceiling, so this one stands back for
// up to a poll, counted from the first look that found the lock free so —
// and counted anew after a look that found it taken, or fewer of them
// waiting than any look since (one took its turn: a poll a ceiling apart
// can miss the whole hold) — and then goes on: a waiter that stopped
// polling holds nobody up for longer (nor does its mark: not renewed, it is
// not fresh for long). Liveness only, like the marks themselves (F7):
// sleeping is never a safety step, and the contender then looks and enters
// under the same rules.
func (a *attempt) yieldToOlder() bool {
	if a.watch != nil {
		return false
	}
	c := &a.l.cfg
	now := c.Env.Mono()
	n := a.patientOlder(now)
	if n == 0 {
		return false
	}
	if !a.yieldSet || n < a.yieldFewest {
		// A new minimum only: a listing that misses a mark now and then
		// cannot keep this going.
		a.yieldFrom, a.yieldSet, a.yieldFewest = now, true, n
		c.Logger.Debug("cryolock: a waiter that came first is polling; letting it take the lock", "path", a.l.dir)
	}
	return now-a.yieldFrom < c.poll()
}

// patientOlder counts the waiters that came first, listed by the latest
// look, that have waited a poll (rule Y).
func (a *attempt) patientOlder(now time.Duration) int {
	n := 0
	for _, id := range a.olderListed {
		if now-a.waitersSince[id] >= a.l.cfg.poll() {
			n++
		}
	}
	return n
}

// standAside is what a mutex contender (or writer) of an unwatched directory
// does first when its previous acquisition met a waiter's mark and ended a
// moment ago: it keeps out for up to a poll of its backoff ceiling and the
// settle delay, so that every waiter looks at least once while the lock is
// free (a waiter sleeps at most its ceiling between looks) — but only while
// someone is still waiting: it lists now and then (backoff from
// MinBackoff), and stops standing aside as soon as a listing shows an entry
// (a waiter took its turn, or someone holds: it then waits as any
// contender) or no fresh mark (nobody polls: contenders that all stood
// aside at once would otherwise leave the lock idle for the whole poll).
// Its listings are only hints, names parsed and nothing judged; sleeping is
// never a safety step: this is for order only.
func (a *attempt) standAside(ctx context.Context) error {
	l := a.l
	c := &l.cfg
	until := c.Env.Mono() + c.poll()
	c.Logger.Debug("cryolock: a waiter is polling; standing aside before taking the lock again", "path", l.dir, "for", until-c.Env.Mono())
	d := c.MinBackoff
	for {
		left := until - c.Env.Mono()
		if left <= 0 {
			return nil
		}
		if err := c.Env.Sleep(ctx, min(d, left)); err != nil {
			return err
		}
		d = min(2*d, c.ceiling(false))
		ents, err := c.FS.ReadDir(a.dir)
		if err != nil {
			return nil // the attempt's own listing will say what is wrong
		}
		a.waiters = false
		a.beginListing()
		for _, e := range ents {
			if strings.HasPrefix(e.Name, wakePrefix) {
				a.noteMark(e.Name)
			} else if _, _, ok := nonce.ParseName(e.Name); ok {
				return nil
			}
		}
		if !a.waiters {
			return nil
		}
	}
}

// gateOpen joins the gate, if the attempt waits at one and has not joined
// yet, and reports whether it has a place there.
func (a *attempt) gateOpen() bool {
	if a.place == nil && a.ew != nil {
		a.place = a.ew.joinGate()
	}
	return a.place != nil
}

// waitGate sleeps until the attempt's place at the gate is granted, or
// the gate wakes it to look (the gate is only a hint: the caller looks
// again either way). The first waiter of the process is woken at the
// gate's ticks, at most every gatePoll; the others behind it only when
// their turn comes (the first looks for them all).
func (a *attempt) waitGate(ctx context.Context) error {
	if a.place.held() {
		return nil
	}
	a.waited = true
	wctx, cancel := a.place.arm(ctx)
	defer cancel()
	<-wctx.Done()
	return ctx.Err()
}

// keepGate hands the attempt's place at the gate, if it was granted, and
// the directory watch that the gate belongs to, over to the hold e: they
// are given up when e is released, after its entry's removal (see
// config.release). Until then the host's other waiters sleep in the
// kernel's queue of the gate's flock instead of watching the holder's
// entry, and the release wakes only the next of them, which then finds the
// lock free. Only a hint, as the gate always is: a waiter still looks
// every gatePoll, and decides from listings.
func (a *attempt) keepGate(e *entry) {
	if a.place == nil || !a.place.held() {
		return
	}
	place, watch := a.place, a.watch
	a.place, a.watch = nil, nil
	// A hold that waited for the gate was contended, even if its listings
	// were empty (the gate handed it over after the previous holder's
	// removal): the value's next attempt queues at the gate too, instead
	// of entering blind ahead of the host's waiters. (One that found the
	// gate free: see acquireV1.)
	a.sawOthers = a.sawOthers || a.waited
	a.gateHold = true
	e.released = func() {
		place.leave()
		if watch != nil {
			watch.Close()
		}
	}
}

// yieldGate is for an attempt back for more after a contended hold (kept
// at the gate, see keepGate) that found the gate free at once: the release
// that just let the gate go has woken the next waiter of the host, which
// may not have run yet. The attempt lets the gate go again, once, and
// joins it anew a stagger later, so that the woken waiter goes first
// instead of being overtaken (as flock(2)'s releaser overtakes its waiters
// about half the time). If nobody waits, this costs the attempt the
// stagger (and only while it is polite: see acquireV1).
func (a *attempt) yieldGate(ctx context.Context) error {
	if a.yielded || a.place == nil || !a.place.held() {
		return nil
	}
	a.yielded = true
	a.leaveGate()
	env := a.l.cfg.Env
	d := staggerMax/2 + time.Duration(unit(env.Uint64())*float64(staggerMax/2))
	if err := env.Sleep(ctx, d); err != nil {
		return err
	}
	a.gateOpen()
	return nil
}

// leaveGate gives up the attempt's place at the gate, if any.
func (a *attempt) leaveGate() {
	if a.place != nil {
		a.place.leave()
		a.place = nil
	}
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
func (m *memory) lastSeen() time.Duration { return seenUntil(m.contended, m.held) }

// seenUntil is at, or the last good heartbeat of held if later (held may be
// nil).
func seenUntil(at time.Duration, held *entry) time.Duration {
	if held != nil {
		at = max(at, time.Duration(held.lastOK.Load()))
	}
	return at
}

// waitersSeen is when the value last knew the waiters its previous
// acquisition met to be current: like lastSeen.
func (m *memory) waitersSeen() time.Duration { return seenUntil(m.waitersAt, m.waitersHeld) }

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
