package sim

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/protocol"
)

// server is the model filesystem's true state: directories and regular files
// with content and mtime. Each operation on it is atomic.
type server struct {
	nodes map[string]*node // by clean absolute path; "/" is implicit
	gran  time.Duration
}

type node struct {
	dir      bool
	data     []byte
	mtime    time.Time
	children map[string]*node // dirs only; nil until the first child
	// listing is the sorted listing of a directory's children, made by
	// list and dropped by any change to them. It is shared, never changed
	// in place: every holder treats it as read-only.
	listing []protocol.DirEntry
	// before and added undo a child's addition: the listing before it,
	// and the child's name, until the listing is made again. A wake
	// directory (protocol: refreshView), made and removed with no listing
	// in between, then leaves the listing as it was.
	before []protocol.DirEntry
	added  string
	// name is nonce.ParseName of the node's name, once parsed (parseName).
	name *parsedName
}

type parsedName struct {
	owner  string
	ticket int32
	ok     bool
}

// parseName is nonce.ParseName(name) for the node n named name, parsed
// once: the tie count parses every entry of the directory at each create.
func (n *node) parseName(name string) (owner string, ticket int32, ok bool) {
	if n.name == nil {
		o, t, ok := nonce.ParseName(name)
		n.name = &parsedName{o, t, ok}
	}
	return n.name.owner, n.name.ticket, n.name.ok
}

func newServer(gran time.Duration) *server {
	root := &node{dir: true, children: map[string]*node{}, mtime: epoch}
	return &server{nodes: map[string]*node{"/": root}, gran: gran}
}

func (s *server) stamp(t time.Time) time.Time {
	if s.gran > 0 {
		return t.Truncate(s.gran)
	}
	return t
}

func notExist(op, p string) error { return &fs.PathError{Op: op, Path: p, Err: fs.ErrNotExist} }

// dirOf and baseOf are path.Dir and path.Base for the clean absolute paths
// the model is given (dirFS builds them), without the cleaning that made
// path.Dir a hot spot of the simulator. Most paths name an entry of
// LockDir: for them a comparison and a search for a slash (in assembly)
// replace the byte-by-byte search from the end.
func dirOf(p string) string {
	if inLockDir(p) {
		return LockDir
	}
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return path.Dir(p)
	}
	return p[:i]
}

func baseOf(p string) string {
	if inLockDir(p) {
		return p[len(LockDir)+1:]
	}
	i := strings.LastIndexByte(p, '/')
	if i < 0 || i == len(p)-1 {
		return path.Base(p)
	}
	return p[i+1:]
}

// inLockDir reports whether p is LockDir/name, name without a slash.
func inLockDir(p string) bool {
	return len(p) > len(LockDir)+1 && p[len(LockDir)] == '/' && p[:len(LockDir)] == LockDir && strings.IndexByte(p[len(LockDir)+1:], '/') < 0
}

// addChild links n into directory par under name.
func (par *node) addChild(name string, n *node) {
	if par.children == nil {
		par.children = map[string]*node{}
	}
	par.children[name] = n
	par.before, par.added = par.listing, name
	par.listing = nil
}

// removeChild unlinks name from directory par.
func (par *node) removeChild(name string) {
	delete(par.children, name)
	if par.listing == nil && par.before != nil && par.added == name {
		par.listing = par.before // back to the children it lists
	} else {
		par.listing = nil
	}
	par.before, par.added = nil, ""
}

func (s *server) parent(p string) (*node, error) {
	par, ok := s.nodes[dirOf(p)]
	if !ok {
		return nil, fs.ErrNotExist
	}
	if !par.dir {
		return nil, syscall.ENOTDIR
	}
	return par, nil
}

func (s *server) mkdirAll(p string, now time.Time) error {
	if n, ok := s.nodes[p]; ok {
		if !n.dir {
			return &fs.PathError{Op: "mkdir", Path: p, Err: syscall.ENOTDIR}
		}
		return nil
	}
	dir := dirOf(p)
	if err := s.mkdirAll(dir, now); err != nil {
		return err
	}
	n := &node{dir: true, mtime: s.stamp(now)} // children: made by its first
	s.nodes[p] = n
	s.nodes[dir].addChild(baseOf(p), n)
	return nil
}

func (s *server) list(p string) ([]protocol.DirEntry, error) {
	n, ok := s.nodes[p]
	if !ok {
		return nil, notExist("readdir", p)
	}
	if !n.dir {
		return nil, &fs.PathError{Op: "readdir", Path: p, Err: syscall.ENOTDIR}
	}
	if n.listing != nil {
		return n.listing, nil
	}
	if len(n.children) == 0 {
		return []protocol.DirEntry{}, nil // empty, not nil, as before
	}
	out := make([]protocol.DirEntry, 0, len(n.children))
	for name, c := range n.children {
		var t fs.FileMode
		if c.dir {
			t = fs.ModeDir
		}
		out = append(out, protocol.DirEntry{Name: name, Type: t})
	}
	slices.SortFunc(out, func(a, b protocol.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	n.listing, n.before, n.added = out, nil, ""
	return out, nil
}

func (s *server) stat(p string) (protocol.FileInfo, error) {
	n, ok := s.nodes[p]
	if !ok {
		return protocol.FileInfo{}, notExist("stat", p)
	}
	if n.dir {
		return protocol.FileInfo{ModTime: n.mtime, Mode: fs.ModeDir | 0o777}, nil
	}
	return protocol.FileInfo{Size: int64(len(n.data)), ModTime: n.mtime, Mode: 0o666}, nil
}

// create makes or truncates a regular file.
func (s *server) create(p string, now time.Time) error {
	if n, ok := s.nodes[p]; ok {
		if n.dir {
			return &fs.PathError{Op: "open", Path: p, Err: syscall.EISDIR}
		}
		n.data, n.mtime = nil, s.stamp(now)
		return nil
	}
	par, err := s.parent(p)
	if err != nil {
		return &fs.PathError{Op: "open", Path: p, Err: err}
	}
	n := &node{mtime: s.stamp(now)}
	s.nodes[p] = n
	par.addChild(baseOf(p), n)
	return nil
}

func (s *server) write(p string, data []byte, now time.Time) error {
	n, ok := s.nodes[p]
	if !ok || n.dir {
		// The file was removed between create and write: the write goes to
		// the unlinked inode and is lost.
		return nil
	}
	n.data, n.mtime = slices.Clone(data), s.stamp(now)
	return nil
}

func (s *server) remove(p string) error {
	n, ok := s.nodes[p]
	if !ok {
		return notExist("remove", p)
	}
	if n.dir && len(n.children) > 0 {
		return &fs.PathError{Op: "remove", Path: p, Err: syscall.ENOTEMPTY}
	}
	delete(s.nodes, p)
	s.nodes[dirOf(p)].removeChild(baseOf(p))
	return nil
}

// client is one process's view of the server: its protocol.FS. With
// Faults.CacheDelta it caches listings and attributes.
type client struct {
	p *proc
	// rootIn and rootOut memoize the cleaning of the path dirFS.OpenDir
	// gets with no parent: the lock's path, at every acquisition.
	rootIn, rootOut string
	// The last path dirFS.join made, from joinDir and joinName.
	joinName, joinDir, joinPath string
	dirs                        map[string]cachedList
	attrs                       map[string]cachedAttr
}

type cachedList struct {
	ents  []protocol.DirEntry
	err   error
	until time.Duration
}

type cachedAttr struct {
	fi    protocol.FileInfo
	err   error
	until time.Duration
}

func newClient(p *proc) *client {
	return &client{p: p, dirs: map[string]cachedList{}, attrs: map[string]cachedAttr{}}
}

// begin is the scheduling point of every primitive: the call takes its
// latency (or just yields), then the operation happens atomically.
func (c *client) begin(op Ops, p string) *goroutine {
	w := c.p.w
	g := w.cur
	f := &w.cfg.Faults
	g.pend = pending{op: op, path: p}
	c.p.created = ""
	var d time.Duration
	if f.LatencyMax > 0 {
		d = f.LatencyMin
		if f.LatencyMax > f.LatencyMin {
			d += time.Duration(c.p.faultRand.Int64N(int64(f.LatencyMax - f.LatencyMin)))
		}
	}
	if f.Hangs > 0 {
		d += c.hang(op)
	}
	if d > 0 {
		g.sleepUntil(nil, w.now+d)
	} else {
		g.yield()
	}
	g.pend = pending{}
	return g
}

// fail decides whether op fails with an injected error.
func (c *client) fail(op Ops, name, p string) error {
	w := c.p.w
	f := &w.cfg.Faults
	if f.ErrorRate <= 0 || f.ErrorOps&op == 0 || c.p.faultRand.Float64() >= f.ErrorRate {
		return nil
	}
	errno := syscall.EIO
	if op&(OpWriteFile|OpMkdirAll) != 0 && c.p.faultRand.IntN(2) == 0 {
		errno = syscall.ENOSPC
	}
	if op == OpRemove {
		c.p.removeFailed = true
	}
	return &fs.PathError{Op: name, Path: p, Err: errno}
}

func (c *client) now() time.Time { return epoch.Add(c.p.w.now) } // the server's clock

func (c *client) ttl() time.Duration {
	w := c.p.w
	d := w.cfg.Faults.CacheDelta
	if d <= 0 {
		return -1
	}
	return w.now + time.Duration(c.p.faultRand.Int64N(int64(d)+1))
}

func (c *client) MkdirAll(p string, perm fs.FileMode) error {
	g := c.begin(OpMkdirAll, p)
	err := c.fail(OpMkdirAll, "mkdir", p)
	if err == nil {
		err = c.p.w.srv.mkdirAll(p, c.now())
		delete(c.dirs, dirOf(p))
		delete(c.attrs, p)
	}
	c.p.w.opEvent(c.p, g, "MkdirAll", p, err, "")
	return err
}

func (c *client) ReadDir(p string) ([]protocol.DirEntry, error) {
	g := c.begin(OpReadDir, p)
	w := c.p.w
	if c.p.waiting && w.now-c.p.waitStart >= WaitListingsAfter {
		w.stats.WaitListings++
	}
	if err := c.fail(OpReadDir, "readdir", p); err != nil {
		w.opEvent(c.p, g, "ReadDir", p, err, "")
		return nil, err
	}
	cached := ""
	cl, ok := c.dirs[p]
	if ok && w.now <= cl.until {
		cached = " (cached)"
	} else {
		ents, err := w.srv.list(p)
		cl = cachedList{ents: ents, err: err, until: c.ttl()}
		if cl.until >= 0 {
			c.dirs[p] = cl
		}
	}
	if w.trace != nil {
		names := make([]string, len(cl.ents))
		for i, e := range cl.ents {
			names[i] = e.Name
		}
		w.opEvent(c.p, g, "ReadDir", p, cl.err, "["+strings.Join(names, " ")+"]"+cached)
	}
	if cl.err != nil {
		return nil, cl.err
	}
	w.orderList(c.p, p, cl.ents)
	return slices.Clone(cl.ents), nil
}

func (c *client) ReadFile(p string) ([]byte, error) {
	g := c.begin(OpReadFile, p)
	w := c.p.w
	err := c.fail(OpReadFile, "open", p)
	var data []byte
	if err == nil {
		// Opening revalidates the attributes (close-to-open consistency).
		fi, serr := w.srv.stat(p)
		switch {
		case serr != nil:
			err = serr
		case fi.Mode.IsDir():
			err = &fs.PathError{Op: "read", Path: p, Err: syscall.EISDIR}
		default:
			data = slices.Clone(w.srv.nodes[p].data)
		}
		if until := c.ttl(); until >= 0 {
			c.attrs[p] = cachedAttr{fi: fi, err: serr, until: until}
		}
	}
	if w.trace != nil {
		w.opEvent(c.p, g, "ReadFile", p, err, "\""+string(data)+"\"")
	}
	return data, err
}

func (c *client) WriteFile(p string, data []byte, perm fs.FileMode) error {
	g := c.begin(OpWriteFile, p)
	w := c.p.w
	err := c.fail(OpWriteFile, "write", p)
	if err != nil {
		// A write that fails may have created the file.
		if c.p.faultRand.IntN(2) == 0 {
			if w.srv.create(p, c.now()) == nil {
				c.noteCreate(p)
			}
			c.own(p, true)
			w.opEvent(c.p, g, "WriteFile", p, err, "created empty, then failed")
			return err
		}
		w.opEvent(c.p, g, "WriteFile", p, err, "")
		return err
	}
	if w.cfg.Faults.NonAtomicWrite {
		err = w.srv.create(p, c.now())
		c.own(p, true)
		w.opEvent(c.p, g, "Create", p, err, "empty")
		if err != nil {
			return err
		}
		c.noteCreate(p)
		if w.cfg.Faults.NulTail {
			g = c.begin(OpWriteFile, p)
			err = w.srv.write(p, make([]byte, len(data)), c.now())
			if w.trace != nil {
				w.opEvent(c.p, g, "Write", p, err, fmt.Sprintf("%d NULs", len(data)))
			}
			if err != nil {
				return err
			}
		}
		g = c.begin(OpWriteFile, p)
		err = w.srv.write(p, data, c.now())
		delete(c.attrs, p)
		c.p.created = p
		if w.trace != nil {
			w.opEvent(c.p, g, "Write", p, err, "\""+string(data)+"\"")
		}
		return err
	}
	err = w.srv.create(p, c.now())
	if err == nil {
		c.noteCreate(p)
		err = w.srv.write(p, data, c.now())
	}
	c.own(p, true)
	if w.trace != nil {
		w.opEvent(c.p, g, "WriteFile", p, err, "\""+string(data)+"\"")
	}
	return err
}

// own records a change of the client's own to entry p (created or
// removed). By default it applies the change to its cached listing of the
// directory (it knows what it did) without refetching it, as rclone does,
// so the cached listing still misses what other clients did since it was
// fetched. With Faults.OwnWriteRefreshes it drops the cached listing
// instead, as NFS and sshfs do: the next listing is fetched afresh.
func (c *client) own(p string, created bool) {
	delete(c.attrs, p)
	dir := dirOf(p)
	if c.p.w.cfg.Faults.OwnWriteRefreshes {
		delete(c.dirs, dir)
		return
	}
	cl, ok := c.dirs[dir]
	if !ok {
		return
	}
	name := baseOf(p)
	i, found := slices.BinarySearchFunc(cl.ents, name, func(e protocol.DirEntry, n string) int { return strings.Compare(e.Name, n) })
	switch {
	case created && !found:
		cl.ents = slices.Insert(slices.Clone(cl.ents), i, protocol.DirEntry{Name: name})
	case !created && found:
		cl.ents = slices.Delete(slices.Clone(cl.ents), i, i+1)
	}
	c.dirs[dir] = cl
}

func (c *client) Stat(p string) (protocol.FileInfo, error) {
	g := c.begin(OpStat, p)
	w := c.p.w
	if err := c.fail(OpStat, "stat", p); err != nil {
		w.opEvent(c.p, g, "Stat", p, err, "")
		return protocol.FileInfo{}, err
	}
	cached := ""
	ca, ok := c.attrs[p]
	if ok && w.now <= ca.until {
		cached = " (cached)"
	} else {
		fi, err := w.srv.stat(p)
		ca = cachedAttr{fi: fi, err: err, until: c.ttl()}
		if ca.until >= 0 {
			c.attrs[p] = ca
		}
	}
	if w.trace != nil {
		res := ""
		if ca.err == nil {
			res = "mtime " + fmtWall(ca.fi.ModTime) + " size " + itoa(int(ca.fi.Size))
		}
		w.opEvent(c.p, g, "Stat", p, ca.err, res+cached)
	}
	return ca.fi, ca.err
}

func (c *client) Chtimes(p string, atime, mtime time.Time) error {
	stamp := c.p.created == p
	g := c.begin(OpChtimes, p)
	w := c.p.w
	err := c.fail(OpChtimes, "utimes", p)
	if err == nil {
		n, ok := w.srv.nodes[p]
		if !ok {
			err = notExist("utimes", p)
		} else {
			n.mtime = w.srv.stamp(mtime)
		}
		delete(c.attrs, p)
	}
	c.noteChtimes(stamp, err)
	if w.trace != nil {
		w.opEvent(c.p, g, "Chtimes", p, err, fmtWall(w.srv.stamp(mtime)))
	}
	return err
}

func (c *client) Remove(p string) error {
	g := c.begin(OpRemove, p)
	w := c.p.w
	err := c.fail(OpRemove, "remove", p)
	if err == nil {
		err = w.srv.remove(p)
		if err == nil {
			c.own(p, false)
		}
	}
	c.noteRemove(p, err)
	w.opEvent(c.p, g, "Remove", p, err, "")
	return err
}
