//go:build linux

package protocol

import (
	"context"
	"encoding/binary"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// One inotify instance per process, one poll thread, one inotify watch per
// directory (keyed by device and inode of the directory handle) shared by
// every waiting Lock value of the process, reference-counted: 200 waiters
// on one directory cost one descriptor and one thread, not 200 of each
// (the per-user limit on inotify instances is often 128). When the last
// watch is closed, the instance and its thread go away.

// Watch watches the directory d with inotify when it lives on a local
// filesystem, whose inotify events report every change whoever makes it; on
// network and FUSE filesystems (which report only this client's changes) it
// returns nil. The watch is on the handle's own directory (through
// /proc/self/fd), not on whatever its path names now. Watches of one
// directory within a process share one inotify watch.
func (osFS) Watch(d Dir) (dirWatch, error) {
	p, dfd, err := use(d)
	if err != nil {
		return nil, err
	}
	defer p.done()
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(dfd, &sfs); err != nil {
		return nil, &fs.PathError{Op: "fstatfs", Path: p.path, Err: err}
	}
	if !localMagic[int64(sfs.Type)] {
		return nil, nil
	}
	dev, ino, err := p.ident()
	if err != nil {
		return nil, err
	}
	key := dirKey{dev: dev, ino: ino}
	hub.mu.Lock()
	defer hub.mu.Unlock()
	in := hub.cur
	if in == nil {
		var err error
		if in, err = newInotify(p.path); err != nil {
			return nil, err
		}
		hub.cur = in
	}
	w := in.byKey[key]
	if w != nil && w.added && w.wd < 0 {
		// The kernel dropped that watch (its directory was removed; a new
		// one may have its inode): its holders poll, new ones watch anew.
		delete(in.byKey, key)
		w = nil
	}
	if w != nil && w.refs == 0 && w.gate == nil && w.added && !w.sameInode(dfd) {
		// A lingering watch that nothing pins (no holder's handle, no
		// gate's) was of a directory since removed whose inode number a
		// new directory reuses, before the kernel's IN_IGNORED was read.
		if w.linger != nil {
			w.linger.Stop()
			w.linger = nil
		}
		w.end()
		w = nil
		if hub.cur == nil {
			var err error
			if hub.cur, err = newInotify(p.path); err != nil {
				return nil, err
			}
		}
		in = hub.cur
	}
	if w == nil {
		// The directory's own inotify watch is added when a waiter first
		// arms it (activate): a waiter that only waits for given entries
		// (armEntries) or for the gate needs none, and a process without
		// it is not woken by every change in the directory.
		w = &sharedWatch{in: in, key: key, armed: make(map[*armed]struct{})}
		w.changes.Store(1)
		in.byKey[key] = w
	}
	w.refs++ // a lingering timer finds the watch in use, and lets it be
	return &watchRef{w: w, d: d}, nil
}

// sameInode reports whether the directory open as dfd is the one w
// watches: adding a watch of the same inode to the instance returns w's
// descriptor (the mask unchanged), a new inode another one, which is
// removed again (with hub.mu held).
func (w *sharedWatch) sameInode(dfd int) bool {
	if w.in.stopped {
		return false
	}
	wd, err := unix.InotifyAddWatch(w.in.fd, "/proc/self/fd/"+strconv.Itoa(dfd), dirMask)
	if err != nil {
		return false
	}
	if int32(wd) != w.wd {
		unix.InotifyRmWatch(w.in.fd, uint32(wd))
		return false
	}
	return true
}

// dirMask is what the directory's own watch reports.
const dirMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// activate adds the directory's inotify watch if it has none yet, through
// the handle d. Changes made before it are unknown: it records an unknown
// change, so that a waiter armed since an earlier listing looks again. It
// reports false if the watch cannot be added (the waiter then polls).
func (w *sharedWatch) activate(d Dir) bool {
	hub.mu.Lock()
	if w.added || w.in.stopped {
		ok := w.added && w.wd >= 0 && !w.in.stopped
		hub.mu.Unlock()
		return ok
	}
	p, dfd, err := use(d)
	if err != nil {
		hub.mu.Unlock()
		return false
	}
	wd, err := unix.InotifyAddWatch(w.in.fd, "/proc/self/fd/"+strconv.Itoa(dfd), dirMask)
	p.done()
	if err != nil {
		hub.mu.Unlock()
		return false
	}
	w.added, w.wd = true, int32(wd)
	w.in.byWD[w.wd] = w
	hub.mu.Unlock()
	w.note("", true)
	return true
}

// localMagic are the statfs types of local filesystems, where inotify sees
// every change.
var localMagic = map[int64]bool{
	0xEF53:     true, // ext2/3/4
	0x58465342: true, // xfs
	0x9123683E: true, // btrfs
	0x01021994: true, // tmpfs
	0xF2F52010: true, // f2fs
	0x2FC12FC1: true, // zfs
	0x794c7630: true, // overlayfs
}

// hub holds the process's inotify instance, if any watch is open. Its mutex
// also guards every instance's maps and every shared watch's refs.
var hub struct {
	mu  sync.Mutex
	cur *inotifyInstance
	// orphans are gates whose watch ended while their goroutine was still
	// blocked in flock(2), which nothing can interrupt: the next watch of
	// the same directory takes the gate over instead of opening another
	// (see gate.close), so a process has at most one such goroutine, thread
	// and descriptor per directory, however often its waits are cancelled.
	orphans map[dirKey]*gate
}

type dirKey struct{ dev, ino uint64 }

// inotifyInstance is one inotify descriptor and the goroutine that reads it.
// The descriptor is read through the runtime's poller, so the goroutine
// costs no thread while it waits. (A thread blocked in poll(2) costs more
// than the thread: while a goroutine is in a blocking system call the
// runtime's monitor keeps waking up every 20 µs–10 ms, in every waiting
// process.)
type inotifyInstance struct {
	fd    int      // for adding and removing watches
	f     *os.File // fd, read by the loop; closed by stop
	byKey map[dirKey]*sharedWatch
	byWD  map[int32]*sharedWatch
	files map[int32]*fileWatch // watches of single entries (armEntries)
	// stopped: fd is closed, and its number may be another descriptor's
	// by now (another instance's, whose watches must not be touched). A
	// dropped watch (its directory removed) can outlive its instance in
	// the hands of its waiters, who then poll (TestStoppedInstanceUntouched).
	stopped bool
}

func newInotify(path string) (*inotifyInstance, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, &fs.PathError{Op: "inotify_init", Path: path, Err: err}
	}
	in := &inotifyInstance{fd: fd, f: os.NewFile(uintptr(fd), "inotify"), byKey: make(map[dirKey]*sharedWatch),
		byWD: make(map[int32]*sharedWatch), files: make(map[int32]*fileWatch)}
	go in.loop()
	return in, nil
}

// stop ends the loop (called with hub.mu held, once no watch is left).
func (in *inotifyInstance) stop() {
	if in.stopped {
		return
	}
	in.stopped = true
	in.f.Close()
}

func (in *inotifyInstance) loop() {
	buf := make([]byte, 16384)
	for {
		n, err := in.f.Read(buf)
		if err != nil {
			in.overflow() // the end: every waiter looks again
			return
		}
		in.dispatch(buf[:n])
	}
}

// dispatch hands a buffer of inotify events to the watches they concern.
func (in *inotifyInstance) dispatch(b []byte) {
	for len(b) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(b[0:]))
		mask := binary.NativeEndian.Uint32(b[4:])
		n := int(binary.NativeEndian.Uint32(b[12:]))
		end := unix.SizeofInotifyEvent + n
		if end > len(b) {
			break
		}
		name := b[unix.SizeofInotifyEvent:end]
		if i := indexNUL(name); i >= 0 {
			name = name[:i]
		}
		b = b[end:]
		if mask&unix.IN_Q_OVERFLOW != 0 {
			in.overflow()
			continue
		}
		hub.mu.Lock()
		if fw := in.files[wd]; fw != nil {
			fw.fire()
			if mask&unix.IN_IGNORED != 0 {
				delete(in.files, wd)
				fw.gone = true
			}
			hub.mu.Unlock()
			continue
		}
		w := in.byWD[wd]
		if w != nil && mask&unix.IN_IGNORED != 0 {
			// The directory is gone (or the watch was removed): forget
			// the wd; the watch's holders fall back to polling.
			delete(in.byWD, wd)
			w.wd = -1
		}
		hub.mu.Unlock()
		if w == nil {
			continue
		}
		switch {
		case mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
			w.note(string(name), true)
		case mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0:
			w.note(string(name), false)
		default: // the directory itself moved, was removed, or the watch ended
			w.note("", true)
		}
	}
}

// overflow tells every watch (and every waiter for an entry) that events
// were lost.
func (in *inotifyInstance) overflow() {
	hub.mu.Lock()
	ws := make([]*sharedWatch, 0, len(in.byKey))
	for _, w := range in.byKey {
		ws = append(ws, w)
	}
	for _, fw := range in.files {
		fw.fire()
	}
	hub.mu.Unlock()
	for _, w := range ws {
		w.note("", true)
	}
}

// sharedWatch is the one watch of a directory in this process.
type sharedWatch struct {
	in      *inotifyInstance
	key     dirKey
	added   bool        // the directory's inotify watch was added (guarded by hub.mu)
	wd      int32       // -1 once the kernel dropped the watch (guarded by hub.mu)
	refs    int         // guarded by hub.mu
	linger  *time.Timer // ends the watch, unless watched again (guarded by hub.mu)
	idle    time.Time   // when refs last fell to 0 (guarded by hub.mu)
	gate    *gate       // the directory's gate, once a waiter joined it (guarded by hub.mu)
	noGate  bool        // the gate cannot be opened (guarded by hub.mu)
	changes atomic.Uint64

	mu    sync.Mutex
	log   [watchLog]change // the latest changes, by sequence number
	armed map[*armed]struct{}
}

// watchLog is how many changes a watch remembers for waiters that ask
// which names changed since their last listing.
const watchLog = 256

// change is one event: a name created or removed ("" with removed set:
// unknown changes, as after an overflow).
type change struct {
	seq     uint64
	name    string
	removed bool
}

// armed is one sleeping waiter.
type armed struct {
	cancel context.CancelFunc
	names  map[string]bool // wake only on the removal of one of these; nil: on any change
}

func (a *armed) wants(c change) bool {
	if a.names == nil || c.name == "" {
		return true
	}
	return c.removed && a.names[c.name]
}

// note records a change and wakes the waiters it concerns.
func (w *sharedWatch) note(name string, removed bool) {
	w.mu.Lock()
	seq := w.changes.Add(1)
	c := change{seq: seq, name: name, removed: removed}
	w.log[seq%watchLog] = c
	for a := range w.armed {
		if a.wants(c) {
			a.cancel()
			delete(w.armed, a)
		}
	}
	w.mu.Unlock()
}

// arm registers a waiter; it fires at once if a change it wants happened
// after since.
func (w *sharedWatch) arm(ctx context.Context, since uint64, names []string) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(ctx)
	a := &armed{cancel: cancel}
	if names != nil {
		a.names = make(map[string]bool, len(names))
		for _, n := range names {
			a.names[n] = true
		}
	}
	w.mu.Lock()
	now := w.changes.Load()
	fire := false
	if now != since {
		if a.names == nil || now-since >= watchLog || since == 0 {
			fire = true
		} else {
			for s := since + 1; s <= now; s++ {
				if a.wants(w.log[s%watchLog]) {
					fire = true
					break
				}
			}
		}
	}
	if fire {
		cancel()
	} else {
		w.armed[a] = struct{}{}
	}
	w.mu.Unlock()
	return c, func() {
		w.mu.Lock()
		delete(w.armed, a)
		w.mu.Unlock()
		cancel()
	}
}

// release drops one reference; the last removes the inotify watch, and the
// last watch of the instance ends it.
func (w *sharedWatch) release() {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	w.refs--
	if w.refs > 0 {
		return
	}
	// A contender that just acquired is often back for more a moment
	// later: keep the watch (and its events) that long. One timer serves
	// many such releases (it is not stopped when the watch is taken up
	// again): a process that locks and unlocks a contended lock in a loop
	// sets no timer per acquisition.
	w.idle = time.Now()
	if w.linger == nil {
		w.linger = time.AfterFunc(watchLinger, w.lingered)
	}
}

// lingered ends the watch if nobody has used it for watchLinger; a watch in
// use lets its timer go (its next release sets one again).
func (w *sharedWatch) lingered() {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	switch {
	case w.linger == nil: // stopped: the watch ended
	case w.refs > 0:
		w.linger = nil
	default:
		if left := watchLinger - time.Since(w.idle); left > 0 {
			w.linger.Reset(left)
			return
		}
		w.linger = nil
		w.end()
	}
}

// watchLinger is how long a watch nobody uses any more stays.
const watchLinger = 2 * time.Second

// end removes the watch (with hub.mu held).
func (w *sharedWatch) end() {
	in := w.in
	if in.byKey[w.key] == w {
		delete(in.byKey, w.key)
	}
	if w.added && w.wd >= 0 {
		delete(in.byWD, w.wd)
		if !in.stopped {
			unix.InotifyRmWatch(in.fd, uint32(w.wd))
		}
	}
	if w.gate != nil {
		if w.gate.close() {
			if hub.orphans == nil {
				hub.orphans = make(map[dirKey]*gate)
			}
			hub.orphans[w.key] = w.gate
		}
		w.gate = nil
	}
	if len(in.byKey) == 0 && len(in.files) == 0 {
		in.stop()
		if hub.cur == in {
			hub.cur = nil
		}
	}
}

// watchRef is one holder's reference to a shared watch.
type watchRef struct {
	w      *sharedWatch
	d      Dir // the waiter's handle of the directory (open while the watch is)
	closed atomic.Bool
}

func (r *watchRef) Changes() uint64 { return r.w.changes.Load() }

func (r *watchRef) Arm(ctx context.Context, since uint64) (context.Context, context.CancelFunc) {
	if !r.w.activate(r.d) {
		return context.WithCancel(ctx)
	}
	return r.w.arm(ctx, since, nil)
}

func (r *watchRef) ArmRemovals(ctx context.Context, since uint64, names []string) (context.Context, context.CancelFunc) {
	if names == nil {
		names = []string{}
	}
	if !r.w.activate(r.d) {
		return context.WithCancel(ctx)
	}
	return r.w.arm(ctx, since, names)
}

func (r *watchRef) Close() error {
	if !r.closed.Swap(true) {
		r.w.release()
	}
	return nil
}

// changesSince reports the names created and removed after the change
// numbered since, and the current number; ok is false when the watch does
// not know them all (an overflow, an older change than it remembers).
func (r *watchRef) changesSince(since uint64) (created, removed []string, now uint64, ok bool) {
	w := r.w
	w.mu.Lock()
	defer w.mu.Unlock()
	now = w.changes.Load()
	if since == 0 || now-since >= watchLog {
		return nil, nil, now, false
	}
	for s := since + 1; s <= now; s++ {
		c := w.log[s%watchLog]
		switch {
		case c.seq != s || c.name == "":
			return nil, nil, now, false
		case c.removed:
			removed = append(removed, c.name)
		default:
			created = append(created, c.name)
		}
	}
	return created, removed, now, true
}
