package fsprobe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/internal/locktest"
	"github.com/cryolock-go/cryolock/protocol"
)

// empty fails the test unless dir holds nothing (the probe left nothing
// behind).
func empty(t *testing.T, dir string) {
	t.Helper()
	if names := locktest.Names(t, dir); len(names) > 0 {
		t.Fatalf("%s: left behind: %v", dir, names)
	}
}

// checkUsable fails unless r says every required primitive works and its
// recommendation is a valid configuration.
func checkUsable(t *testing.T, r Report) {
	t.Helper()
	for _, p := range r.Primitives.Required() {
		if !p.Works {
			t.Errorf("%s: primitive %s does not work: %s", r.Dir, p.Name, p.Error)
		}
		if p.Timing.Samples == 0 {
			t.Errorf("%s: primitive %s was not timed", r.Dir, p.Name)
		}
	}
	rec := r.Recommendation
	if !rec.Usable {
		t.Errorf("%s: not usable: %v", r.Dir, rec.Warnings)
	}
	if _, err := protocol.New(filepath.Join(t.TempDir(), "x.cryolock"), WithReport(r)); err != nil {
		t.Errorf("%s: the recommended configuration is invalid: %v", r.Dir, err)
	}
	if r.ClockSkew.Samples == 0 || r.Listing.Samples == 0 {
		t.Errorf("%s: skew or listing not measured: %+v %+v", r.Dir, r.ClockSkew, r.Listing)
	}
}

func TestProbeLocal(t *testing.T) {
	dir := t.TempDir()
	r, err := Probe(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	empty(t, dir)
	checkUsable(t, r)
	if r.Filesystem.Type == "" || (runtime.GOOS == "linux" && r.Filesystem.Type == "unknown") {
		t.Errorf("filesystem type not identified: %+v", r.Filesystem)
	}
	if r.Filesystem.Remote {
		t.Skipf("%s is on a remote filesystem (%s): the local expectations do not apply", dir, r.Filesystem.Type)
	}
	if !r.Listing.CreateListedAtOnce || !r.Listing.RemoveGoneAtOnce {
		t.Errorf("local listing not coherent: %+v", r.Listing)
	}
	if r.Recommendation.Settle != 0 {
		t.Errorf("settle %v on a local filesystem, want 0", r.Recommendation.Settle)
	}
	if r.Recommendation.StaleRule != "observed" {
		t.Errorf("stale rule %q", r.Recommendation.StaleRule)
	}
}

// TestProbeTmpfs probes /dev/shm (tmpfs) and the test's temporary directory
// and checks that each is identified as what statfs says it is.
func TestProbeTmpfs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/dev/shm is a Linux tmpfs")
	}
	shm, err := os.MkdirTemp("/dev/shm", "fsprobe-test-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	defer os.RemoveAll(shm)
	rs, err := Probe(context.Background(), shm, Options{})
	if err != nil {
		t.Fatal(err)
	}
	empty(t, shm)
	checkUsable(t, rs)
	if rs.Filesystem.Type != "tmpfs" || rs.Filesystem.Magic != "0x1021994" || rs.Filesystem.MagicName != "tmpfs" {
		t.Errorf("/dev/shm identified as %+v, want tmpfs (0x1021994)", rs.Filesystem)
	}
	if rs.Filesystem.Mount == nil || rs.Filesystem.Mount.FSType != "tmpfs" {
		t.Errorf("/dev/shm mount entry: %+v", rs.Filesystem.Mount)
	}
	if !rs.MtimeExact || rs.MtimeGranularity != Duration(time.Nanosecond) {
		t.Errorf("tmpfs stores nanosecond mtimes; measured exact=%v granularity=%v", rs.MtimeExact, rs.MtimeGranularity)
	}

	tmp := t.TempDir()
	rt, err := Probe(context.Background(), tmp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rt.Filesystem.Magic != "0x1021994" && rt.Filesystem.Type == rs.Filesystem.Type {
		t.Errorf("%s (statfs %s) and /dev/shm (tmpfs) both identified as %q", tmp, rt.Filesystem.Magic, rt.Filesystem.Type)
	}
	t.Logf("%s: %s (%s); /dev/shm: %s", tmp, rt.Filesystem.Type, rt.Filesystem.Magic, rs.Filesystem.Type)
}

func TestProbeErrors(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o666)
	for _, p := range []string{filepath.Join(dir, "missing"), f} {
		_, err := Probe(context.Background(), p, Options{})
		if !errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), p) {
			t.Errorf("Probe(%s) = %v, want ErrUnusable naming the path", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Probe created the missing directory")
	}
}

// TestProbeCancel cancels the context at every step of a probe in turn and
// checks that the probe stops with the context's error and leaves nothing
// behind.
func TestProbeCancel(t *testing.T) {
	var steps []string
	o := Options{Samples: 3, step: func(s string) { steps = append(steps, s) }}
	if _, err := Probe(context.Background(), t.TempDir(), o); err != nil {
		t.Fatal(err)
	}
	if len(steps) < 20 {
		t.Fatalf("only %d steps: %v", len(steps), steps)
	}
	// Cancelled before it starts.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if _, err := Probe(ctx, dir, o); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before start: %v", err)
	}
	empty(t, dir)
	for n := range steps {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		i := 0
		o.step = func(s string) {
			if i == n {
				cancel()
			}
			i++
		}
		_, err := Probe(ctx, dir, o)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled at step %d (%s): err = %v", n, steps[n], err)
		}
		empty(t, dir)
	}
}

// slowFS makes every WriteFile take d.
type slowFS struct {
	protocol.FS
	d time.Duration
}

func (s slowFS) WriteFile(d protocol.Dir, name string, data []byte, perm os.FileMode) error {
	time.Sleep(s.d)
	return s.FS.WriteFile(d, name, data, perm)
}

func TestProbeTimeout(t *testing.T) {
	dir := t.TempDir()
	// The first create alone outlasts the budget.
	_, err := Probe(context.Background(), dir, Options{Timeout: 20 * time.Millisecond, FS: slowFS{protocol.OSFS(), 40 * time.Millisecond}})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), dir) {
		t.Errorf("err = %v, want DeadlineExceeded naming %s", err, dir)
	}
	empty(t, dir)
}

// TestPeerLocal runs both sides of the two-party mode as goroutines on two
// paths of the same directory (the directory and a symbolic link to it).
func TestPeerLocal(t *testing.T) {
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	os.Mkdir(shared, 0o777)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(shared, link); err != nil {
		link = shared
	}
	reps := runPeers(t, [2]string{shared, link}, [2]Options{{PeerTimeout: 20 * time.Second}, {PeerTimeout: 20 * time.Second}})
	empty(t, shared)
	for i, r := range reps {
		if r.Rounds != DefaultPeerRounds {
			t.Errorf("side %d: %d rounds", i, r.Rounds)
		}
		// Each side led one round: one sample of each round trip.
		for _, s := range []Stats{r.CreateRTT, r.RemoveRTT, r.MtimeRTT, r.MtimeFreshRTT} {
			if s.Samples != DefaultPeerRounds/2 || s.Max <= 0 {
				t.Errorf("side %d: round trips %+v", i, s)
			}
		}
		if r.ListingLag != max(r.CreateRTT.Max, r.RemoveRTT.Max) {
			t.Errorf("side %d: listing lag %v", i, r.ListingLag)
		}
		if haveFlock && (r.FlockExcludes == nil || !*r.FlockExcludes) {
			t.Errorf("side %d: a local flock did not exclude the other side: %v", i, r.FlockExcludes)
		}
		t.Logf("side %d: listing lag %v, mtime lag %v (fresh %v)", i, r.ListingLag, r.MtimeLag, r.MtimeFreshLag)
	}
	if reps[0].Peer == reps[1].Peer {
		t.Errorf("both sides paired with %s", reps[0].Peer)
	}
	// The recommendation from a local peer report is valid.
	rep := Report{Primitives: allWork(), Peer: &reps[0]}
	rec := Recommend(rep)
	if _, err := protocol.New(filepath.Join(dir, "x.cryolock"), WithReport(Report{Recommendation: rec})); err != nil {
		t.Errorf("recommendation from a peer report is invalid: %v", err)
	}
}

// both runs f(0) and f(1) at once and returns their results.
func both[T any](f func(i int) (T, error)) (out [2]T, errs [2]error) {
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = f(i)
		}()
	}
	wg.Wait()
	return out, errs
}

func runPeers(t *testing.T, dirs [2]string, opts [2]Options) [2]PeerReport {
	t.Helper()
	reps, errs := both(func(i int) (PeerReport, error) { return Peer(context.Background(), dirs[i], opts[i]) })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("side %d: %v", i, err)
		}
	}
	return reps
}

// lagFS delays what one client sees of the others' work: an entry created
// through another lagFS sharing the same state is listed, and an mtime set
// through another is seen by Stat, only lag after the act; a removed entry
// stays listed for lag. ReadFile does not revalidate Stat (like sshfs
// without the open revalidation; here plain and fresh look alike).
type lagFS struct {
	protocol.FS
	id  int
	lag time.Duration
	st  *lagState
}

type lagState struct {
	mu      sync.Mutex
	created map[string]lagEvent
	removed map[string]lagEvent
	mtime   map[string]lagMtime
	// refresh: a client's own create or removal refreshes its view of the
	// listing (lastOwn[client]: its latest), as on NFS and sshfs.
	refresh bool
	lastOwn map[int]time.Time
	// clock, if set, is the time of the lags (a virtualClock shared with
	// the parties); else the real clock.
	clock peerClock
	// mtimeNever: an mtime set through another client is never seen, by
	// Stat or ReadFile (as an NFSv4 client holding a read delegation the
	// server does not recall).
	mtimeNever bool
}

type lagEvent struct {
	by int
	at time.Time
}

type lagMtime struct {
	lagEvent
	old time.Time
}

func newLagPair(lag time.Duration) (lagFS, lagFS) {
	st := &lagState{created: map[string]lagEvent{}, removed: map[string]lagEvent{}, mtime: map[string]lagMtime{}, lastOwn: map[int]time.Time{}}
	return lagFS{protocol.OSFS(), 0, lag, st}, lagFS{protocol.OSFS(), 1, lag, st}
}

func (l lagFS) now() time.Time {
	if l.st.clock != nil {
		return l.st.clock.Now()
	}
	return time.Now()
}

func (l lagFS) hidden(e lagEvent, ok bool) bool {
	return ok && e.by != l.id && l.now().Sub(e.at) < l.lag
}

// hiddenFromListing is hidden, except that with refresh an own create or
// removal since the event shows it.
func (l lagFS) hiddenFromListing(e lagEvent, ok bool) bool {
	return l.hidden(e, ok) && !(l.st.refresh && e.at.Before(l.st.lastOwn[l.id]))
}

// hiddenMtime reports whether the mtime set by m is not seen yet.
func (l lagFS) hiddenMtime(m lagMtime, ok bool) bool {
	return l.hidden(m.lagEvent, ok) || (ok && l.st.mtimeNever && m.by != l.id)
}

func (l lagFS) WriteFile(d protocol.Dir, name string, data []byte, perm os.FileMode) error {
	l.st.mu.Lock()
	defer l.st.mu.Unlock()
	path := filepath.Join(d.Path(), name)
	if _, err := os.Lstat(path); err != nil {
		l.st.created[path] = lagEvent{l.id, l.now()}
		l.st.lastOwn[l.id] = l.now()
	}
	return l.FS.WriteFile(d, name, data, perm)
}

func (l lagFS) Remove(d protocol.Dir, name string) error {
	l.st.mu.Lock()
	defer l.st.mu.Unlock()
	l.st.removed[filepath.Join(d.Path(), name)] = lagEvent{l.id, l.now()}
	l.st.lastOwn[l.id] = l.now()
	return l.FS.Remove(d, name)
}

func (l lagFS) Chtimes(d protocol.Dir, name string, atime, mtime time.Time) error {
	l.st.mu.Lock()
	defer l.st.mu.Unlock()
	fi, err := l.FS.Stat(d, name)
	if err != nil {
		return err
	}
	l.st.mtime[filepath.Join(d.Path(), name)] = lagMtime{lagEvent{l.id, l.now()}, fi.ModTime}
	return l.FS.Chtimes(d, name, atime, mtime)
}

func (l lagFS) Stat(d protocol.Dir, name string) (protocol.FileInfo, error) {
	l.st.mu.Lock()
	defer l.st.mu.Unlock()
	fi, err := l.FS.Stat(d, name)
	if m, ok := l.st.mtime[filepath.Join(d.Path(), name)]; err == nil && l.hiddenMtime(m, ok) {
		fi.ModTime = m.old
	}
	return fi, err
}

// ReadFile lags the FileInfo like Stat: the injected lag is on attributes,
// whether fetched by stat or by open+fstat.
func (l lagFS) ReadFile(d protocol.Dir, name string) ([]byte, protocol.FileInfo, error) {
	b, fi, err := l.FS.ReadFile(d, name)
	l.st.mu.Lock()
	defer l.st.mu.Unlock()
	if m, ok := l.st.mtime[filepath.Join(d.Path(), name)]; err == nil && l.hiddenMtime(m, ok) {
		fi.ModTime = m.old
	}
	return b, fi, err
}

func (l lagFS) ReadDir(d protocol.Dir) ([]protocol.DirEntry, error) {
	l.st.mu.Lock()
	defer l.st.mu.Unlock()
	path := d.Path()
	ents, err := l.FS.ReadDir(d)
	if err != nil {
		return nil, err
	}
	var out []protocol.DirEntry
	for _, e := range ents {
		c, ok := l.st.created[filepath.Join(path, e.Name)]
		if !l.hiddenFromListing(c, ok) {
			out = append(out, e)
		}
	}
	for p, e := range l.st.removed {
		if filepath.Dir(p) == path && l.hiddenFromListing(e, true) && !hasName(out, filepath.Base(p)) {
			out = append(out, protocol.DirEntry{Name: filepath.Base(p)})
		}
	}
	return out, nil
}

// TestPeerLag checks that the two-party mode measures an injected lag: no
// round trip can be shorter than the lag there and back, so the measured
// lags are at least twice it, and the settle delay covers it.
func TestPeerLag(t *testing.T) {
	const lag = 40 * time.Millisecond
	a, b := newLagPair(lag)
	dir := t.TempDir()
	reps := runPeers(t, [2]string{dir, dir}, [2]Options{{FS: a, PeerTimeout: 20 * time.Second}, {FS: b, PeerTimeout: 20 * time.Second}})
	empty(t, dir)
	for i, r := range reps {
		for name, s := range map[string]Stats{"create": r.CreateRTT, "remove": r.RemoveRTT, "mtime": r.MtimeRTT, "mtime fresh": r.MtimeFreshRTT} {
			if s.Max.D() < 2*lag {
				t.Errorf("side %d: %s round trip %v, below the injected 2 × %v", i, name, s.Max, lag)
			}
		}
		rec := Recommend(Report{Primitives: allWork(), Peer: &r, Filesystem: Filesystem{Type: "fuse.test", Remote: true}})
		if rec.Settle.D() < lag {
			t.Errorf("side %d: settle %v does not cover the lag %v", i, rec.Settle, lag)
		}
		if rec.Lease.D() <= 4*rec.Settle.D() {
			t.Errorf("side %d: lease %v not above 4 × settle %v", i, rec.Lease, rec.Settle)
		}
	}
}

// TestPeerMtimeNeverSeen: where one client never sees the other's mtime
// changes, each mtime measurement gives up after its bound, the run still
// ends with a joint verdict that counts every round trip as not seen, and
// the recommendation relies on no heartbeat (lease None). On a virtual
// clock; the mtimes are never seen, however long or short the bound.
func TestPeerMtimeNeverSeen(t *testing.T) {
	a, b := newLagPair(0)
	a.st.mtimeNever = true
	clock := newVirtualClock(2)
	a.st.clock = clock
	dir := t.TempDir()
	o := Options{PeerTimeout: time.Minute, PeerMeasureTimeout: 100 * time.Millisecond}
	oa, ob := o, o
	oa.FS, ob.FS = a, b
	reps := runVirtualPeers(t, [2]string{dir, dir}, [2]Options{oa, ob}, clock)
	empty(t, dir)
	for i, r := range reps {
		if r.Rounds != DefaultPeerRounds || r.MtimeRTT.Samples != 0 || r.MtimeFreshRTT.Samples != 0 {
			t.Errorf("side %d: %d rounds, mtime round trips %d/%d seen; want %d rounds, none seen", i, r.Rounds, r.MtimeRTT.Samples, r.MtimeFreshRTT.Samples, DefaultPeerRounds)
		}
		if r.MtimeMissed != DefaultPeerRounds/2 || r.MtimeFreshMissed != DefaultPeerRounds/2 || r.MeasureTimeout.D() != o.PeerMeasureTimeout {
			t.Errorf("side %d: not seen %d (stat) and %d (read+stat) within %v; want %d each within %v", i, r.MtimeMissed, r.MtimeFreshMissed, r.MeasureTimeout, DefaultPeerRounds/2, o.PeerMeasureTimeout)
		}
		if r.CreateListRTT.Samples != clReps*DefaultPeerRounds/2 {
			t.Errorf("side %d: create-then-list samples %d", i, r.CreateListRTT.Samples)
		}
		if r.Verdict == nil {
			t.Fatalf("side %d: no joint verdict", i)
		}
	}
	j := reps[0].Verdict.Peer
	if j.MtimeMissed != DefaultPeerRounds || j.MtimeFreshMissed != DefaultPeerRounds {
		t.Errorf("joint verdict: not seen %d / %d, want %d each", j.MtimeMissed, j.MtimeFreshMissed, DefaultPeerRounds)
	}
	rec := Recommend(Report{Primitives: allWork(), Peer: &j, Filesystem: Filesystem{Type: "nfs4", Remote: true, AttrCache: Duration(time.Minute)}})
	if !rec.NoLease || !rec.Usable {
		t.Errorf("recommendation: no lease %v, usable %v; want lease None (no heartbeat can be relied on), usable", rec.NoLease, rec.Usable)
	}
	if !slices.ContainsFunc(rec.Warnings, func(w string) bool { return strings.Contains(w, "not seen here within 100ms") }) {
		t.Errorf("no warning about the mtime not seen: %q", rec.Warnings)
	}
}

// TestPeerCreateThenList: the create-then-list round trip and whether an
// own create refreshes the listing, with and without that refresh; both
// sides report the same joint verdict, whose settle covers what rule C4
// relies on.
//
// The lag and every round trip are on a virtual clock (virtualClock), which
// moves only while both sides sleep between polls: the verdict, which
// compares round trips, does not depend on the machine's load (on the real
// clock a stall once made a create-then-list round trip look as long as
// a plain one, and the refresh verdict unknown).
func TestPeerCreateThenList(t *testing.T) {
	const lag = 150 * time.Millisecond // virtual
	for _, refresh := range []bool{false, true} {
		t.Run(fmt.Sprintf("refresh=%v", refresh), func(t *testing.T) {
			a, b := newLagPair(lag)
			a.st.refresh = refresh
			clock := newVirtualClock(2)
			a.st.clock = clock
			dir := t.TempDir()
			reps := runVirtualPeers(t, [2]string{dir, dir}, [2]Options{{FS: a, PeerTimeout: 60 * time.Second}, {FS: b, PeerTimeout: 60 * time.Second}}, clock)
			empty(t, dir)
			for i, r := range reps {
				t.Logf("side %d: plain create round trip %v, create-then-list %v, poll %v (virtual)", i, r.CreateRTT.Max, r.CreateListLag, r.CreateListPoll.Median)
			}
			for i, r := range reps {
				if r.CreateListRTT.Samples != clReps*DefaultPeerRounds/2 {
					t.Errorf("side %d: create-then-list samples %d", i, r.CreateListRTT.Samples)
				}
				// (With refresh, a plain round trip can be cut short by the
				// other side's removal of its last marker.)
				if !refresh && r.CreateRTT.Max.D() < 2*lag {
					t.Errorf("side %d: plain create round trip %v below 2 × %v", i, r.CreateRTT.Max, lag)
				}
				if !refresh && r.CreateListLag.D() < 2*lag {
					t.Errorf("side %d: without refresh the create-then-list round trip %v is below 2 × %v", i, r.CreateListLag, lag)
				}
				if refresh && r.CreateListLag.D() >= lag {
					t.Errorf("side %d: with refresh the create-then-list round trip %v is not below the plain lag %v", i, r.CreateListLag, lag)
				}
				if r.OwnCreateRefreshes == nil || *r.OwnCreateRefreshes != refresh {
					t.Errorf("side %d: own create refreshes = %v, want %v (round trips: plain %v, create-then-list %v, poll %v)", i, r.OwnCreateRefreshes, refresh, r.CreateRTT.Max, r.CreateListLag, r.CreateListPoll.Median)
				}
				if r.Verdict == nil {
					t.Fatalf("side %d: no joint verdict", i)
				}
			}
			v0, v1 := reps[0].Verdict, reps[1].Verdict
			if !slices.Equal(v0.Sides, v1.Sides) || v0.Peer.CreateListLag != v1.Peer.CreateListLag {
				t.Errorf("the sides disagree: %+v / %+v", v0, v1)
			}
			j := v0.Peer
			if j.CreateListLag != max(reps[0].CreateListLag, reps[1].CreateListLag) || j.CreateListRTT.Samples != reps[0].CreateListRTT.Samples+reps[1].CreateListRTT.Samples {
				t.Errorf("joint create-then-list %+v from %+v and %+v", j.CreateListRTT, reps[0].CreateListRTT, reps[1].CreateListRTT)
			}
			rec := Recommend(Report{Primitives: allWork(), Peer: &j, Filesystem: Filesystem{Type: "fuse.test", Remote: true}})
			if rec.Settle.D() < j.CreateListLag.D() {
				t.Errorf("settle %v does not cover the create-then-list lag %v", rec.Settle, j.CreateListLag)
			}
			if !refresh && rec.Settle.D() < lag {
				t.Errorf("settle %v below the lag %v without refresh", rec.Settle, lag)
			}
		})
	}
}

// TestProbePeerJointVerdict: two Probes with Peer report one and the same
// recommendation, the join of both sides'.
func TestProbePeerJointVerdict(t *testing.T) {
	dir := t.TempDir()
	reps, errs := both(func(int) (Report, error) {
		return Probe(context.Background(), dir, Options{Peer: true, PeerTimeout: 30 * time.Second})
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("side %d: %v", i, err)
		}
		if reps[i].Peer.joint() == nil {
			t.Fatalf("side %d: no joint recommendation: %+v", i, reps[i].Peer)
		}
	}
	r0, r1 := reps[0].Recommendation, reps[1].Recommendation
	if r0.Settle != r1.Settle || r0.Lease != r1.Lease || r0.MinBackoff != r1.MinBackoff || r0.MaxBackoff != r1.MaxBackoff || r0.Usable != r1.Usable {
		t.Errorf("the sides recommend differently:\n%+v\n%+v", r0, r1)
	}
	for i := range 2 {
		own := Recommend(reps[i])
		if r0.Settle < own.Settle || r0.Lease < own.Lease {
			t.Errorf("side %d: joint %v/%v below this side's own %v/%v", i, r0.Settle, r0.Lease, own.Settle, own.Lease)
		}
	}
	empty(t, dir)
}

func TestJoinRecommendations(t *testing.T) {
	a := Recommendation{Usable: true, Settle: Duration(time.Second), Lease: Duration(20 * time.Second), MinBackoff: Duration(time.Millisecond), MaxBackoff: Duration(50 * time.Millisecond),
		Reasons: []Reason{{"settle", "1s", "a"}, {"lease", "20s", "a"}, {"backoff", "", "a"}}, Warnings: []string{"w1", "w2"}}
	b := Recommendation{Usable: false, Settle: Duration(3 * time.Second), Lease: Duration(15 * time.Second), MinBackoff: Duration(2 * time.Millisecond), MaxBackoff: Duration(80 * time.Millisecond),
		Reasons: []Reason{{"settle", "3s", "b"}, {"lease", "15s", "b"}, {"backoff", "", "b"}}, Warnings: []string{"w2", "w3"}}
	for _, j := range []Recommendation{JoinRecommendations(a, b), JoinRecommendations(b, a)} {
		if j.Usable || j.Settle.D() != 3*time.Second || j.Lease.D() != 20*time.Second || j.MinBackoff.D() != time.Millisecond || j.MaxBackoff.D() != 80*time.Millisecond {
			t.Errorf("joined %+v", j)
		}
		if len(j.Warnings) != 3 || len(j.Reasons) != 3 || j.Reasons[0].Why != "b" || j.Reasons[1].Why != "a" {
			t.Errorf("joined reasons %+v warnings %v", j.Reasons, j.Warnings)
		}
		if j.HeartbeatMax.D() != 10*time.Second {
			t.Errorf("heartbeat %v", j.HeartbeatMax)
		}
	}
}

// TestPeerAlone times out waiting for a peer and cleans up.
func TestPeerAlone(t *testing.T) {
	dir := t.TempDir()
	_, err := Peer(context.Background(), dir, Options{PeerTimeout: 50 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), dir) {
		t.Errorf("err = %v", err)
	}
	empty(t, dir)
}

// TestPeerIgnoresLeftovers: an old hello of a crashed run is not a peer.
func TestPeerIgnoresLeftovers(t *testing.T) {
	dir := t.TempDir()
	pd := filepath.Join(dir, PeerDirName)
	os.Mkdir(pd, 0o777)
	old := filepath.Join(pd, "hello.0000000000000000")
	os.WriteFile(old, []byte("1000 2"), 0o666)
	var msgs []string
	_, err := Peer(context.Background(), dir, Options{PeerTimeout: 50 * time.Millisecond, Progress: func(m string) { msgs = append(msgs, m) }})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a timeout (the leftover is no peer)", err)
	}
	if len(msgs) != 1 || !strings.Contains(msgs[0], "ignoring hello.0000000000000000") {
		t.Errorf("progress %q, want one line about the leftover", msgs)
	}
	if _, err := os.Stat(old); err != nil {
		t.Errorf("the leftover of another run was touched: %v", err)
	}
}

func allWork() Primitives {
	w := Primitive{Works: true, Timing: Stats{Samples: 3, Median: Duration(50 * time.Microsecond), Max: Duration(100 * time.Microsecond)}}
	return Primitives{Mkdir: w, List: w, Create: w, Read: w, Stat: w, SetMtime: w, Remove: w, Excl: w, HardLink: w, RenameOver: w, Flock: w}
}

// TestPeerRoundsMismatch: sides that disagree on the rounds refuse each
// other instead of failing half-way. (The first to see the other refuses at
// once; the other may miss its hello and time out.)
func TestPeerRoundsMismatch(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	var errs [2]error
	for i, rounds := range []int{2, 4} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Peer(context.Background(), dir, Options{PeerRounds: rounds, PeerTimeout: 2 * time.Second})
		}()
	}
	wg.Wait()
	refused := 0
	for i, err := range errs {
		switch {
		case err == nil:
			t.Errorf("side %d: no error", i)
		case strings.Contains(err.Error(), "same --rounds"):
			refused++
		case !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("side %d: %v", i, err)
		}
	}
	if refused == 0 {
		t.Errorf("neither side noticed the mismatch: %v", errs)
	}
	empty(t, dir)
}

// TestPeerCancel cancels a two-party run at every step of one side in turn
// (the context is shared, so both sides stop) and checks that nothing is
// left behind.
func TestPeerCancel(t *testing.T) {
	var mu sync.Mutex
	var steps []string
	record := func(s string) { mu.Lock(); steps = append(steps, s); mu.Unlock() }
	dir := t.TempDir()
	runPeers(t, [2]string{dir, dir}, [2]Options{{step: record, PeerTimeout: 20 * time.Second}, {PeerTimeout: 20 * time.Second}})
	if len(steps) < 8 {
		t.Fatalf("only %d steps: %v", len(steps), steps)
	}
	for n := range steps {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		i := 0
		hook := func(string) {
			if i == n {
				cancel()
			}
			i++
		}
		var wg sync.WaitGroup
		var errs [2]error
		for side, o := range []Options{{step: hook, PeerTimeout: 20 * time.Second}, {PeerTimeout: 20 * time.Second}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[side] = Peer(ctx, dir, o)
			}()
		}
		wg.Wait()
		cancel()
		if !errors.Is(errs[0], context.Canceled) {
			t.Errorf("cancelled at step %d (%s): side 0 err = %v", n, steps[n], errs[0])
		}
		empty(t, dir)
	}
}
