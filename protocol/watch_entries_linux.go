//go:build linux

package protocol

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Waiting without a crowd, on a local filesystem (Linux):
//
//   - armEntries watches single entries (an inotify watch on each file), so
//     that a waiter blocked by a holder wakes when that holder's entry goes,
//     and no other process is woken by it, nor this one by anybody else's
//     entries coming and going;
//   - the gate is a queue of the local waiters of one lock directory: a
//     flock(2) on the lock directory itself, held by the holder of the lock
//     if it took the lock through the gate (until its release, after its
//     entry's removal: see keepGate), or else by the one waiter of the host
//     that watches for the lock to come free; the others sleep in the
//     kernel's queue of the flock (one thread per process and directory,
//     whatever the number of its waiters). Each release of the lock then
//     wakes the next waiter of the host, which finds the lock free, not
//     every waiter.
//
// Both are hints. A waiter decides only from listings, and does not trust
// the gate to come: it looks again every gatePoll, and enters if the lock is
// free, so a stopped process at the gate delays the others and never
// blocks them. The gate is used only where the directory watch is (local
// filesystems, whose flock is the kernel's own).

// entryMask is what a watch of one entry reports: its removal (the link
// count's change, then the inode's end) or a move; also its heartbeats
// (IN_ATTRIB), which wake the waiter for one more look.
const entryMask = unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_DONT_FOLLOW | unix.IN_MASK_ADD

// fileWatch is the inotify watch of one entry, shared by the waiters of
// this process that wait for it (guarded by hub.mu).
type fileWatch struct {
	wd    int32
	refs  int
	gone  bool // the kernel ended it (IN_IGNORED)
	armed map[*context.CancelFunc]struct{}
}

// fire wakes every waiter of the entry (with hub.mu held).
func (fw *fileWatch) fire() {
	for c := range fw.armed {
		(*c)()
		delete(fw.armed, c)
	}
}

// armEntries returns a context derived from ctx that is also cancelled when
// one of names (entries of the watched directory) is removed, moved or
// touched — at once if one is gone already — and a function to call when
// done with it. It never wakes for other entries.
func (r *watchRef) armEntries(ctx context.Context, names []string) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(ctx)
	in := r.w.in
	p, dfd, err := use(r.d)
	if err != nil {
		cancel()
		return c, cancel
	}
	defer p.done()
	prefix := "/proc/self/fd/" + strconv.Itoa(dfd) + "/"
	var mine []*fileWatch
	hub.mu.Lock()
	if in.stopped {
		// The watch outlived its instance (see inotifyInstance.stopped):
		// the sleep's own timeout is the waiter's poll.
		names = nil
	}
	for _, n := range names {
		// Under hub.mu: an event for the new watch waits in dispatch until
		// the watch is registered.
		wd, err := unix.InotifyAddWatch(in.fd, prefix+n, entryMask)
		if err == unix.ENOENT {
			cancel() // gone already: look again
			break
		}
		if err != nil {
			// Cannot be watched (out of inotify watches, say): the
			// sleep's own timeout is the waiter's poll.
			continue
		}
		fw := in.files[int32(wd)]
		if fw == nil {
			fw = &fileWatch{wd: int32(wd), armed: make(map[*context.CancelFunc]struct{})}
			in.files[fw.wd] = fw
		}
		fw.refs++
		fw.armed[&cancel] = struct{}{}
		mine = append(mine, fw)
	}
	hub.mu.Unlock()
	return c, func() {
		hub.mu.Lock()
		for _, fw := range mine {
			delete(fw.armed, &cancel)
			fw.refs--
			if fw.refs == 0 && !fw.gone {
				delete(in.files, fw.wd)
				if !in.stopped {
					unix.InotifyRmWatch(in.fd, uint32(fw.wd))
				}
			}
		}
		hub.mu.Unlock()
		cancel()
	}
}

// joinGate queues the caller at the directory's gate (nil if the gate
// cannot be opened).
func (r *watchRef) joinGate() gatePlace {
	w := r.w
	hub.mu.Lock()
	g := w.gate
	if g == nil && !w.noGate {
		if g = hub.orphans[w.key]; g != nil {
			// The directory's previous gate, still blocked in flock.
			delete(hub.orphans, w.key)
			g.adopt()
		} else {
			g = openGate(r.d)
			if g != nil {
				g.key = w.key
			}
		}
		w.gate = g
		w.noGate = g == nil
	}
	hub.mu.Unlock()
	if g == nil {
		return nil
	}
	return g.join()
}

// openGate opens the lock directory d anew for its gate (a flock is
// held by an open file description: the handle d is shared with the
// protocol's calls); nil if it cannot.
func openGate(d Dir) *gate {
	p, dfd, err := use(d)
	if err != nil {
		return nil
	}
	defer p.done()
	fd, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return &gate{fd: fd}
}

// gate is this process's side of a lock directory's gate: its waiters in
// order of arrival, one of which (owner) holds the flock at a time.
type gate struct {
	key     dirKey // the directory's (see hub.orphans)
	mu      sync.Mutex
	fd      int
	queue   []*gateSeat
	owner   *gateSeat
	running bool        // a goroutine is blocked in flock for the queue's head
	broken  bool        // flock failed: every seat is granted at once
	closed  bool        //
	poll    *time.Timer // wakes the queue's head now and then (see tick)
}

// gateSeat is one waiter's place at a gate.
type gateSeat struct {
	g       *gate
	granted bool
	armed   map[*context.CancelFunc]struct{}
}

func (g *gate) join() *gateSeat {
	s := &gateSeat{g: g, armed: make(map[*context.CancelFunc]struct{})}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.broken || g.closed {
		s.granted = true
		return s
	}
	g.queue = append(g.queue, s)
	g.pump(true)
	if g.poll == nil && !s.granted {
		g.poll = time.AfterFunc(gatePollNext(), g.tick)
	}
	return s
}

// tick wakes the head of the queue, which then looks at the lock once
// (the gate is only a hint), and sets the next tick; with nobody waiting
// it stops (the next wait sets it again). One timer per gate serves every
// wait (a waiter sets none of its own): a process that waits in a loop
// sets no timer per acquisition.
func (g *gate) tick() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || len(g.queue) == 0 {
		g.poll = nil
		return
	}
	g.queue[0].wake()
	g.poll.Reset(gatePollNext())
}

// gatePollNext is the time to the next tick: uniform in [gatePoll/2,
// gatePoll), so that the heads of several processes' queues do not look
// in step.
func gatePollNext() time.Duration {
	return gatePoll/2 + rand.N(gatePoll/2)
}

// pump gives the flock to the first waiter of the queue if no waiter of
// this process holds it: at once if it is free and try is set, otherwise
// through a goroutine that blocks in flock (with g.mu held).
func (g *gate) pump(try bool) {
	if g.owner != nil || g.running || len(g.queue) == 0 || g.closed {
		return
	}
	if try {
		if err := unix.Flock(g.fd, unix.LOCK_EX|unix.LOCK_NB); err == nil {
			g.grant()
			return
		} else if err != unix.EWOULDBLOCK && err != unix.EINTR {
			g.fail()
			return
		}
	}
	g.running = true
	go g.wait()
}

// wait blocks in flock until this process holds it, then grants it to the
// head of the queue (or lets it go if nobody waits any more).
func (g *gate) wait() {
	var err error
	for {
		if err = gateFlock(g.fd); err != unix.EINTR {
			break
		}
	}
	hub.mu.Lock() // before g.mu, as everywhere
	defer hub.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running = false
	switch {
	case g.closed:
		// An orphan (see close): nobody took it over.
		if hub.orphans[g.key] == g {
			delete(hub.orphans, g.key)
		}
		unix.Close(g.fd)
	case err != nil:
		g.fail()
	case len(g.queue) == 0:
		unix.Flock(g.fd, unix.LOCK_UN)
	default:
		g.grant()
	}
}

// grant makes the head of the queue the owner (with g.mu held and the flock
// held).
func (g *gate) grant() {
	s := g.queue[0]
	g.queue = g.queue[1:]
	g.owner = s
	s.fire()
	g.promote()
}

// promote wakes the new head of the queue, which from then on looks at the
// lock now and then while it waits for the flock (with g.mu held).
func (g *gate) promote() {
	if len(g.queue) > 0 {
		g.queue[0].wake()
	}
}

// fail gives up on the flock: every waiter is granted (with g.mu held).
func (g *gate) fail() {
	g.broken = true
	for _, s := range g.queue {
		s.fire()
	}
	g.queue = nil
}

func (s *gateSeat) fire() {
	s.granted = true
	s.wake()
}

func (s *gateSeat) wake() {
	for c := range s.armed {
		(*c)()
		delete(s.armed, c)
	}
}

// arm returns a context derived from ctx that is cancelled when the seat is
// granted (at once if it is already), becomes the head of the queue, or is
// the head at the gate's next tick, and a function to call when done.
func (s *gateSeat) arm(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(ctx)
	g := s.g
	g.mu.Lock()
	if s.granted {
		cancel()
	} else {
		s.armed[&cancel] = struct{}{}
	}
	g.mu.Unlock()
	return c, func() {
		g.mu.Lock()
		delete(s.armed, &cancel)
		g.mu.Unlock()
		cancel()
	}
}

// held reports whether the seat was granted.
func (s *gateSeat) held() bool {
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	return s.granted
}

// leave gives up the seat: the flock goes to the next waiter (of this
// process, through the kernel's queue, so that other processes' waiters
// are not overtaken).
func (s *gateSeat) leave() {
	g := s.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.owner == s {
		g.owner = nil
		if !g.closed {
			unix.Flock(g.fd, unix.LOCK_UN)
		}
		g.pump(false)
		return
	}
	for i, q := range g.queue {
		if q == s {
			g.queue = append(g.queue[:i], g.queue[i+1:]...)
			if i == 0 {
				g.promote()
			}
			break
		}
	}
}

// close ends the gate when its directory's watch ends (with hub.mu held;
// nobody waits then). It reports whether the gate's goroutine is still
// blocked in flock(2), waiting for another process to let the gate go: no
// call interrupts that, so the caller keeps the gate as an orphan for the
// directory's next watch to take over (adopt), and the goroutine closes
// the descriptor when the flock comes if nobody has by then.
// (TestGateWaitNotLeaked.)
func (g *gate) close() (orphan bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.closed = true
	if g.poll != nil {
		g.poll.Stop()
		g.poll = nil
	}
	if !g.running {
		unix.Close(g.fd)
		return false
	}
	return true
}

// adopt takes over an orphaned gate (with hub.mu held): its goroutine's
// flock, when it comes, is granted to the new watch's waiters.
func (g *gate) adopt() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = false
}
