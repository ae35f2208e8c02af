package sim

import (
	"slices"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
)

// The hooks of this file sit beside the model filesystem (fs.go calls
// them at a few points) and keep the coverage counters of [Stats] and the
// hung-call fault, so that fs.go itself stays a plain filesystem model.

// hang returns how long primitive op hangs on top of its latency (zero for
// most calls).
func (c *client) hang(op Ops) time.Duration {
	w := c.p.w
	f := &w.cfg.Faults
	if f.Hangs <= w.hangs || f.HangRate <= 0 || f.HangOps&op == 0 {
		return 0
	}
	if c.p.faultRand.Float64() >= f.HangRate {
		return 0
	}
	w.hangs++
	d := f.HangMin
	if f.HangMax > f.HangMin {
		d += time.Duration(c.p.faultRand.Int64N(int64(f.HangMax - f.HangMin)))
	}
	w.event(c.p.id, w.cur.id, "HANG", d.String(), "the next primitive hangs")
	return d
}

// noteCreate records that c's process created entry p: it owns it from now
// on; a create next to a live entry with the same ticket is a tie.
func (c *client) noteCreate(p string) {
	w := c.p.w
	c.p.created = p
	w.orderCreate(c.p, p)
	if w.owners == nil {
		w.owners = map[string]*proc{}
	}
	if _, ok := w.owners[p]; ok {
		return
	}
	w.owners[p] = c.p
	c.p.entries = append(c.p.entries, p)
	owner, ticket, ok := nonce.ParseName(baseOf(p))
	if !ok {
		return
	}
	dir := w.srv.nodes[dirOf(p)]
	if dir == nil {
		return
	}
	for name, n := range dir.children {
		if o, t, ok := n.parseName(name); ok && t == ticket && o != owner {
			w.stats.Ties++
			return
		}
	}
}

// noteRemove records c's process's removal of p (err: its outcome). Its own
// entries it no longer counts on, whatever the outcome; removing another
// live process's entry that it still counts on is a reap of a live entry.
func (c *client) noteRemove(p string, err error) {
	w := c.p.w
	if i := slices.Index(c.p.entries, p); i >= 0 {
		c.p.entries = slices.Delete(c.p.entries, i, i+1)
	}
	if err != nil {
		return
	}
	o := w.owners[p]
	delete(w.owners, p)
	if o == c.p {
		w.orderRemoveOwn(c.p, p)
	}
	if o == nil || o == c.p {
		return
	}
	w.stats.Reaps++
	if o.crashed || !slices.Contains(o.entries, p) {
		return
	}
	w.stats.ReapsLive++
	w.event(c.p.id, w.cur.id, "REAP", shortPath(p), "the owner p"+itoa(o.id)+" is alive and counts on it")
}

// noteChtimes counts a failed stamp: set-times right after the create.
func (c *client) noteChtimes(stamp bool, err error) {
	if stamp && err != nil {
		c.p.w.stats.FailedStamps++
	}
}
