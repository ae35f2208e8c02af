package protocol

// Decisions on a listing (rules C1 and C4 of docs/PROTOCOL.md: blocked,
// held, withdraw, wait) and the tickets that order waiters.

import (
	"github.com/cryolock-go/cryolock/nonce"
)

// competitor is a live entry of someone else.
type competitor struct {
	name   string
	ticket int32
	shared bool
}

// blocked is rule 1's test: whether the live entries seen before entering
// mean there is no point entering now. Readers keep out while an exclusive
// entry is live. An exclusive contender in Lock keeps out while slots
// exclusive entries are live, readers not counted: it enters beside
// readers and waits there, which keeps new readers out, so that a stream
// of overlapping reads cannot starve it. TryLock, which does not wait,
// keeps out while slots entries of any kind are live.
func (l *Lock) blocked(live []competitor, try bool) bool {
	n := len(l.keepers(live, try))
	if l.role == shared {
		return n > 0 // a writer holds or waits: readers keep out
	}
	return n >= l.slots
}

// keepers are the names of the entries of live that keep l out at its
// look (rule C1, see blocked): the exclusive ones — except for TryLock of an
// exclusive contender, which any entry keeps out. A waiter with a watch
// sleeps until one of them is removed: readers that wait for a writer are
// not all woken by every reader's release.
func (l *Lock) keepers(live []competitor, try bool) []string {
	if try && l.role != shared {
		return names(live)
	}
	var n []string
	for _, c := range live {
		if !c.shared {
			n = append(n, c.name)
		}
	}
	return n
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

// queueBlocked reports whether a mutex contender (or writer) at the gate
// should keep out: an exclusive entry is live, or its ticket leaves no room
// above it. Readers do not keep it out: it enters beside them and waits
// there, which keeps new readers out.
func (a *attempt) queueBlocked(live []competitor) bool {
	for _, c := range live {
		if !c.shared {
			return true
		}
	}
	return !nonce.QueueRoom(a.highest)
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
