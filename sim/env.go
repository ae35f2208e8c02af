package sim

import (
	"context"
	"math/rand/v2"
	"time"
)

// epoch is the true wall-clock time at virtual time zero.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// clock is a process's clocks: wall = epoch + offset + local(t), mono =
// local(t), where local scales true virtual time t by the process's rate.
type clock struct {
	offset time.Duration
	ppm    int64 // rate error in parts per million
}

// local converts true virtual time to the process's clock (integer
// arithmetic only, so that runs are the same on every platform).
func (c clock) local(t time.Duration) time.Duration {
	n := int64(t)
	return time.Duration(n + n/1_000_000*c.ppm + n%1_000_000*c.ppm/1_000_000)
}

// real converts a duration on the process's clock to true virtual time,
// rounding up.
func (c clock) real(d time.Duration) time.Duration {
	rate := 1_000_000 + c.ppm
	n := int64(d)
	q := n / rate * 1_000_000
	r := n % rate * 1_000_000
	q += (r + rate - 1) / rate
	return time.Duration(q)
}

// env is one process's protocol.Env. Every method runs while the calling
// simulated goroutine holds the baton; Sleep is a scheduling point. Now,
// Mono, Uint64 and Go touch nothing another process can see, so they are
// not scheduling points: interleaving them differently could not change
// any other process's view (virtual time moves only when every goroutine
// sleeps).
type env struct {
	p *proc
}

func (e env) Now() time.Time {
	p := e.p
	return epoch.Add(p.clock.offset + p.clock.local(p.w.now))
}

func (e env) Mono() time.Duration { return e.p.clock.local(e.p.w.now) }

func (e env) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		e.p.w.cur.yield()
		return ctx.Err()
	}
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	if e.sleep(d, done) {
		return ctx.Err()
	}
	return nil
}

// sleep is Sleep for d > 0 until done is closed (nil: never) or the
// goroutine is stopped; it reports whether that ended the sleep.
func (e env) sleep(d time.Duration, done <-chan struct{}) bool {
	p := e.p
	w := p.w
	g := w.cur
	rd := p.clock.real(d)
	if !g.main && w.cfg.Faults.HeartbeatStretch > 1 {
		rd = time.Duration(float64(rd) * w.cfg.Faults.HeartbeatStretch)
	}
	if w.trace != nil {
		w.event(p.id, g.id, "sleep", d.String(), "")
	}
	if g.sleepUntil(done, w.now+rd) {
		if w.trace != nil {
			w.event(p.id, g.id, "wake", "", "cancelled")
		}
		return true
	}
	return false
}

// Uint64 is the process's randomness. With Faults.Tickets it narrows the
// high 32 bits (a ticket: nonce.Ticket) to that many values spread over the
// range, so that tickets tie; the low bits (an owner's random part) stay.
func (e env) Uint64() uint64 {
	v := e.p.rng.Uint64()
	if k := uint64(e.p.w.cfg.Faults.Tickets); k > 0 {
		hi := (v >> 32) % k * ((1 << 32) / k)
		v = hi<<32 | v&(1<<32-1)
	}
	return v
}

// AfterFunc spawns a simulated goroutine that sleeps d (a scheduling point,
// in virtual time) and then runs f, unless stop came first. Stop ends the
// sleep as the cancellation of a context would (goroutine.stopped), at
// less cost than a context per call.
func (e env) AfterFunc(d time.Duration, f func()) func() bool {
	started := false // one goroutine runs at a time: no race
	var g *goroutine
	g = e.p.w.spawn(e.p, false, func() {
		if d > 0 && e.sleep(d, nil) {
			return
		}
		if g.stopped {
			return
		}
		started = true
		f()
	})
	return func() bool {
		if started {
			return false
		}
		g.stopped = true
		return true
	}
}

func (e env) Process() (string, int) {
	if e.p.w.cfg.Faults.SameIdentity {
		return "p", 100
	}
	return e.p.name, 100 + e.p.id
}

// newRand returns a generator for stream k of a run's seed.
func newRand(seed, k uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, k*0x9e3779b97f4a7c15+0x632be59bd9b4e019))
}
