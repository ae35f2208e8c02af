package sim

import (
	"fmt"
	"path"
	"strings"

	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/protocol"
)

// The ticket-order check (docs/PROOF.md §4, "Order of waiters"): under rules
// v1 a mutex contender (or an RW writer) that enters from a listing — every
// entry of an attempt but a blind first one — draws a queued ticket, above
// every exclusive ticket it listed, and a contender that enters blind draws
// one below zero. So a queued entry never withdraws before blind entries:
// it withdraws (rule C4.5) only before another queued entry, whose owner
// waited at least about as long. Newcomers cannot push a waiter that has
// entered back out, which is what bounds the bypass of a queued waiter.
//
// The simulator checks it from the outside, without trusting the tickets'
// signs: it records for every entry whether its creator had listed the lock
// directory in the same attempt before creating it, and for every process
// its latest listing. When a process removes an entry of its own that it
// made from a listing and never held with, and its latest listing shows
// exclusive entries of others with tickets ≥ its own, at least one of them
// must have been made from a listing too; otherwise it withdrew before
// blind entries only, and the run violates KindOrder.

// KindOrder: a waiter's entry made from a listing withdrew before blind
// entries only (the ticket order of rules v1 is broken), or, under a mutex,
// more than one hold of others began while it was live (the bypass bound).
const KindOrder ViolationKind = "ticket-order"

// QueuedBypassBound is the most holds of others that can begin, under a
// mutex, while one entry of a waiter made from a listing stays in the
// directory (docs/PROOF.md §4): the one whose check listing preceded the
// entry's creation. A second would have listed after it and seen it.
const QueuedBypassBound = 1

// LockBypassBound is the most acquisitions of others while one Lock call
// of a mutex waits, on a directory that cannot be watched (every simulated
// one), among procs processes that follow rules v1, that TestLockBypass
// checks on the order workload (contended, inside the fault model, at most
// one crash): each other process about once, as the waiters that came
// first go first once they have waited a poll (rule Y, yieldToOlder in the
// protocol), and a few more for the holds a waiter cannot see coming (blind
// first entries, entries made before its mark was listed, the quickest
// poller's turns while it has waited less than a poll). Measured, not
// proven: docs/PROOF.md §4 says what it rests on.
func LockBypassBound(procs int) int { return procs + 2 }

// orderState is the run's bookkeeping for the ticket-order check.
type orderState struct {
	on       bool
	listed   map[string]bool // entry path → made from a listing in its attempt
	held     map[string]bool // entry paths that became holds
	looked   []bool          // per process: listed the lock directory since its attempt began
	bypassed map[string]int  // queued entry path → holds of others begun while it was live
	// maxQueued is the most holds of others begun while one queued entry
	// was live.
	maxQueued int
	lastList  [][]protocol.DirEntry // per process: its latest listing of the lock directory
	// displaced counts withdrawals of queued entries the check examined
	// (a queued entry withdrew before higher tickets): how often it bit.
	displaced int
}

// orderApplies reports whether the check runs for cfg: rules v1, kinds
// whose exclusive contenders queue, unique identities.
func orderApplies(cfg Config) bool {
	return cfg.Rules == RulesV1 && !cfg.Faults.SameIdentity && (cfg.Kind == KindMutexLock || cfg.Kind == KindRWLock)
}

func (w *world) orderInit() {
	o := &w.order
	o.on = orderApplies(w.cfg)
	if !o.on {
		return
	}
	o.listed, o.held, o.bypassed = map[string]bool{}, map[string]bool{}, map[string]int{}
	o.looked = make([]bool, w.cfg.Procs)
	o.lastList = make([][]protocol.DirEntry, w.cfg.Procs)
}

// orderAttempt notes that p begins a Lock or TryLock call.
func (w *world) orderAttempt(p *proc) {
	if w.order.on {
		w.order.looked[p.id] = false
	}
}

// orderList notes p's listing of dir.
// The listing is kept, not copied: the client never changes a listing in
// place (own clones it).
func (w *world) orderList(p *proc, dir string, ents []protocol.DirEntry) {
	if !w.order.on || dir != LockDir {
		return
	}
	w.order.looked[p.id] = true
	w.order.lastList[p.id] = ents
}

// orderCreate notes that p created the entry at path.
func (w *world) orderCreate(p *proc, path string) {
	if w.order.on {
		w.order.listed[path] = w.order.looked[p.id]
	}
}

// orderHeld notes that p's entry at path became a hold, and counts it
// against every other process's live queued entry.
func (w *world) orderHeld(p *proc, path string) {
	o := &w.order
	if !o.on {
		return
	}
	o.held[path] = true
	if p.shared {
		return // readers overlap: the bound is a mutex's (and a writer's among writers)
	}
	for _, q := range w.procs {
		if q == p || q.crashed {
			continue
		}
		for _, e := range q.entries {
			if !o.listed[e] || o.held[e] || w.owners[e] != q {
				continue // not queued, a hold, or reaped already
			}
			o.bypassed[e]++
			n := o.bypassed[e]
			o.maxQueued = max(o.maxQueued, n)
			if n > QueuedBypassBound && w.cfg.Kind == KindMutexLock {
				w.violate(Violation{
					Kind: KindOrder, Time: w.now, Procs: []int{q.id, p.id},
					Msg: fmt.Sprintf("p%d's entry %s, made from a listing, was bypassed by %d holds (p%d's the latest) while it stayed (bound %d)",
						q.id, pathBase(e), n, p.id, QueuedBypassBound),
				})
			}
		}
	}
}

func pathBase(p string) string { return path.Base(p) }

// orderRemoveOwn checks p's removal of its own entry at p.
func (w *world) orderRemoveOwn(pr *proc, p string) {
	o := &w.order
	if !o.on || o.held[p] || !o.listed[p] || dirOf(p) != LockDir {
		return
	}
	owner, mine, ok := nonce.ParseName(path.Base(p))
	if !ok || nonce.IsShared(owner) {
		return
	}
	var higher, blind []string
	for _, e := range o.lastList[pr.id] {
		n := e.Name
		q := path.Join(LockDir, n)
		if q == p {
			continue
		}
		on, t, ok := nonce.ParseName(n)
		if !ok || nonce.IsShared(on) || t < mine {
			continue
		}
		higher = append(higher, n)
		if _, known := o.listed[q]; known && !o.listed[q] {
			blind = append(blind, n)
		}
	}
	if len(higher) == 0 {
		return // withdrawn for another reason (overdue, an error): not C4.5
	}
	o.displaced++
	if len(blind) < len(higher) {
		return // a queued entry with a ticket ≥ ours: the order holds
	}
	w.violate(Violation{
		Kind: KindOrder, Time: w.now, Procs: []int{pr.id},
		Msg: fmt.Sprintf("p%d withdrew its entry %s, made from a listing, before blind entries only (%s): a newcomer displaced a waiter",
			pr.id, path.Base(p), strings.Join(blind, " ")),
	})
}
