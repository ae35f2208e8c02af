package fsprobe

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
	"github.com/cryolock-go/cryolock/stale"
)

// fakeProc writes a process pid under proc with the given command line and,
// unless uid is negative, a status file saying its real uid.
func fakeProc(t *testing.T, proc, pid string, uid int, argv ...string) string {
	t.Helper()
	pd := filepath.Join(proc, pid)
	if err := os.MkdirAll(pd, 0o777); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(pd, "cmdline"), []byte(strings.Join(argv, "\x00")+"\x00"), 0o666)
	if uid >= 0 {
		status := "Name:\trclone\nUmask:\t0022\nUid:\t" + strconv.Itoa(uid) + "\t" + strconv.Itoa(uid) + "\t" + strconv.Itoa(uid) + "\t" + strconv.Itoa(uid) + "\nGid:\t0\t0\t0\t0\n"
		os.WriteFile(filepath.Join(pd, "status"), []byte(status), 0o666)
	}
	return pd
}

// TestRcloneImpostorIgnored: a process named rclone whose arguments name
// the mount point but that neither root nor the mount's owner runs is not
// believed: rclone's defaults (a 5-minute listing cache) are assumed, and
// the lock is called UNSAFE without a settle that covers them.
func TestRcloneImpostorIgnored(t *testing.T) {
	impostor := []string{"rclone", "mount", "remote:", "/mnt/rc", "--dir-cache-time", "0", "--attr-timeout", "0"}
	for _, c := range []struct {
		name    string
		line    string
		uid     int // the impostor's real uid; -1: no status file
		trusted bool
	}{
		{name: "other user, root's mount", line: "49 27 0:59 / /mnt/rc rw - fuse.rclone remote: rw,user_id=0,group_id=0", uid: 65534},
		{name: "other user, a user's mount", line: "49 27 0:59 / /mnt/rc rw - fuse.rclone remote: rw,user_id=1000,group_id=1000", uid: 65534},
		{name: "no user_id", line: "49 27 0:59 / /mnt/rc rw - fuse.rclone remote: rw", uid: 1000},
		{name: "uid unknown", line: "49 27 0:59 / /mnt/rc rw - fuse.rclone remote: rw,user_id=0", uid: -1},
		{name: "root", line: "49 27 0:59 / /mnt/rc rw - fuse.rclone remote: rw,user_id=1000", uid: 0, trusted: true},
		{name: "the mount's owner", line: "49 27 0:59 / /mnt/rc rw - fuse.rclone remote: rw,user_id=1000,group_id=1000", uid: 1000, trusted: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			proc := t.TempDir()
			fakeProc(t, proc, "4242", c.uid, impostor...)
			m := parseMountinfo(strings.NewReader(c.line), "/mnt/rc/lock")
			f := Filesystem{Type: m.FSType, Mount: m, Remote: true}
			cacheTimesFrom(&f, proc)
			rec := Recommend(Report{Filesystem: f, Primitives: allWork(), Listing: Listing{Samples: 5, CreateListedAtOnce: true, RemoveGoneAtOnce: true}})
			unsafe := slices.ContainsFunc(rec.Warnings, func(w string) bool { return strings.Contains(w, "UNSAFE") })
			if c.trusted {
				if f.DirCache != 0 || f.AttrCache != 0 || !strings.Contains(f.DirCacheSource, "pid 4242") {
					t.Errorf("a trusted rclone's options were not read: dir %v attr %v (%s)", f.DirCache, f.AttrCache, f.DirCacheSource)
				}
				return
			}
			if f.DirCache.D() != rcloneDirCacheDefault || f.AttrCache.D() != rcloneAttrDefault || strings.Contains(f.DirCacheSource, "4242") {
				t.Errorf("the impostor was believed: dir %v attr %v (%s)", f.DirCache, f.AttrCache, f.DirCacheSource)
			}
			if rec.Settle.D() < rcloneDirCacheDefault || !unsafe {
				t.Errorf("settle %v, UNSAFE warning %v; want at least %v and the warning", rec.Settle, unsafe, rcloneDirCacheDefault)
			}
		})
	}
}

// TestRclonePrefersFuseDaemon: of two trusted processes naming the mount
// point, the one holding /dev/fuse (the FUSE daemon) is believed.
func TestRclonePrefersFuseDaemon(t *testing.T) {
	proc := t.TempDir()
	fakeProc(t, proc, "100", 0, "rclone", "mount", "remote:", "/mnt/rc", "--dir-cache-time", "0")
	daemon := fakeProc(t, proc, "200", 0, "rclone", "mount", "remote:", "/mnt/rc", "--dir-cache-time", "7m")
	os.Mkdir(filepath.Join(daemon, "fd"), 0o777)
	os.Symlink("/dev/null", filepath.Join(daemon, "fd", "0"))
	os.Symlink("/dev/fuse", filepath.Join(daemon, "fd", "3"))
	m := parseMountinfo(strings.NewReader("49 27 0:59 / /mnt/rc rw - fuse.rclone remote: rw,user_id=0"), "/mnt/rc")
	f := Filesystem{Type: m.FSType, Mount: m, Remote: true}
	cacheTimesFrom(&f, proc)
	if f.DirCache.D() != 7*time.Minute || !strings.Contains(f.DirCacheSource, "pid 200") {
		t.Errorf("dir %v (%s), want the daemon's 7m", f.DirCache, f.DirCacheSource)
	}
}

// TestRcloneNegativeDuration: a negative --dir-cache-time or
// --attr-timeout is not a cache time: rclone's defaults are assumed, not a
// settle of 0.
func TestRcloneNegativeDuration(t *testing.T) {
	for _, v := range []string{"-5m", "-1s", "-2d", "-300"} {
		if d, err := parseRcloneDuration(v); err == nil {
			t.Errorf("%q: %v, want an error", v, d)
		}
		proc := t.TempDir()
		fakeProc(t, proc, "4242", 0, "rclone", "mount", "remote:", "/mnt/rc", "--dir-cache-time", v, "--attr-timeout="+v)
		m := parseMountinfo(strings.NewReader("49 27 0:59 / /mnt/rc rw - fuse.rclone remote: rw,user_id=0"), "/mnt/rc")
		f := Filesystem{Type: m.FSType, Mount: m, Remote: true}
		cacheTimesFrom(&f, proc)
		if f.DirCache.D() != rcloneDirCacheDefault || f.AttrCache.D() != rcloneAttrDefault {
			t.Errorf("%q: dir %v attr %v, want rclone's defaults", v, f.DirCache, f.AttrCache)
		}
		rec := Recommend(Report{Filesystem: f, Primitives: allWork(), Listing: Listing{Samples: 5, CreateListedAtOnce: true, RemoveGoneAtOnce: true}})
		if rec.Settle.D() < rcloneDirCacheDefault {
			t.Errorf("%q: settle %v", v, rec.Settle)
		}
	}
}

// TestAdoptVerdictKeepsOwn: a verdict less conservative than what this
// side's own measurements give (here: an sshfs mount's 20 s caches) is
// joined with this side's recommendation; an honest verdict is kept as
// written.
func TestAdoptVerdictKeepsOwn(t *testing.T) {
	s := time.Second
	sshfs := Filesystem{Type: "fuse.sshfs", Remote: true, AttrCache: Duration(20 * s), AttrCacheSource: "sshfs default", DirCache: Duration(20 * s), DirCacheSource: "sshfs default"}
	local := Report{Host: "a", Filesystem: sshfs, Primitives: allWork(), Listing: Listing{Samples: 5, CreateListedAtOnce: true, RemoveGoneAtOnce: true}}
	me := peerResult{ID: "aaaa", Peer: PeerReport{Peer: "bbbb", Rounds: 2}, Report: &local}
	own := Recommend(Report{Filesystem: sshfs, Primitives: allWork(), Listing: local.Listing, Peer: &me.Peer})
	if own.Settle.D() < 20*s || own.Lease.D() < 60*s {
		t.Fatalf("own recommendation %v / %v: the test needs a long one", own.Settle, own.Lease)
	}
	forged := Verdict{Sides: []string{"aaaa", "bbbb"}, WrittenBy: "bbbb", Peer: PeerReport{Peer: "aaaa+bbbb", Rounds: 2},
		Recommendation: &Recommendation{Usable: true, Settle: 0, Lease: Duration(2 * s), MinBackoff: Duration(time.Millisecond), MaxBackoff: Duration(10 * time.Millisecond), StaleRule: "observed", Reasons: []Reason{}, Warnings: []string{}}}
	got := adoptVerdict(forged, me).Recommendation
	if got.Settle < own.Settle || got.Lease < own.Lease || got.NoLease != own.NoLease || got.Usable != own.Usable {
		t.Errorf("adopted %v / %v (usable %v), below this side's own %v / %v", got.Settle, got.Lease, got.Usable, own.Settle, own.Lease)
	}
	if !atLeastAsConservative(*got, own) {
		t.Errorf("adopted %+v is less conservative than own %+v", *got, own)
	}

	// The honest verdict: joined from both sides' results, kept as is.
	theirs := local
	theirs.Host = "b"
	honest := joinResults(me, peerResult{ID: "bbbb", Peer: PeerReport{Peer: "aaaa", Rounds: 2}, Report: &theirs})
	kept := adoptVerdict(honest, me)
	if !reflect.DeepEqual(kept, honest) {
		t.Errorf("an honest verdict was changed:\n%+v\n%+v", *kept.Recommendation, *honest.Recommendation)
	}
}

// TestAdoptVerdictStaleRule: a planted verdict as conservative as this
// side's own in every duration but with the wall-clock staleness rule
// (which trusts the hosts' clocks to agree) is not adopted as written: the
// joined recommendation keeps the observed rule, which WithReport applies.
func TestAdoptVerdictStaleRule(t *testing.T) {
	s := time.Second
	sshfs := Filesystem{Type: "fuse.sshfs", Remote: true, AttrCache: Duration(20 * s), AttrCacheSource: "sshfs default", DirCache: Duration(20 * s), DirCacheSource: "sshfs default"}
	local := Report{Host: "a", Filesystem: sshfs, Primitives: allWork(), Listing: Listing{Samples: 5, CreateListedAtOnce: true, RemoveGoneAtOnce: true}}
	me := peerResult{ID: "aaaa", Peer: PeerReport{Peer: "bbbb", Rounds: 2}, Report: &local}
	own := Recommend(Report{Filesystem: sshfs, Primitives: allWork(), Listing: local.Listing, Peer: &me.Peer})
	forgedRec := own
	forgedRec.StaleRule = stale.WallClock.String()
	forgedRec.Settle, forgedRec.Lease = own.Settle*2, own.Lease*2
	forged := Verdict{Sides: []string{"aaaa", "bbbb"}, WrittenBy: "bbbb", Peer: PeerReport{Peer: "aaaa+bbbb", Rounds: 2}, Recommendation: &forgedRec}
	got := adoptVerdict(forged, me).Recommendation
	if got.StaleRule != stale.Observed.String() {
		t.Errorf("adopted stale rule %q from a planted verdict, want %q (this side's own)", got.StaleRule, stale.Observed)
	}
	if got.Settle < forgedRec.Settle || got.Lease < forgedRec.Lease {
		t.Errorf("adopted %v / %v, below the verdict's %v / %v", got.Settle, got.Lease, forgedRec.Settle, forgedRec.Lease)
	}
}

// TestProbeForgedVerdict: a Probe with Peer whose peer plants a verdict
// file less conservative than this side's own recommendation (lease 1 s)
// reports the join with its own, not the planted one.
func TestProbeForgedVerdict(t *testing.T) {
	if !haveFlock {
		t.Skip("the forger waits at its flock step")
	}
	dir := t.TempDir()
	pd := filepath.Join(dir, PeerDirName)
	var forgerID string
	hello := make(chan struct{})
	aDone := make(chan struct{})
	bctx, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	hook := func(step string) {
		switch step {
		case "hello": // only the forger's hello is there yet
			ents, _ := os.ReadDir(pd)
			for _, e := range ents {
				if id, ok := strings.CutPrefix(e.Name(), "hello."); ok {
					forgerID = id
				}
			}
			close(hello)
		case "flock-lead", "flock-follow":
			rec := Recommendation{Usable: true, Lease: Duration(time.Second), HeartbeatMin: Duration(400 * time.Millisecond), HeartbeatMax: Duration(500 * time.Millisecond),
				MinBackoff: Duration(time.Millisecond), MaxBackoff: Duration(time.Millisecond), StaleRule: "observed", Reasons: []Reason{}, Warnings: []string{}}
			v := Verdict{Sides: []string{forgerID}, WrittenBy: forgerID, Recommendation: &rec}
			os.WriteFile(filepath.Join(pd, "verdict."+forgerID), mustJSON(v), 0o666)
			os.WriteFile(filepath.Join(pd, "done."+forgerID), nil, 0o666)
			select {
			case <-aDone:
			case <-time.After(30 * time.Second):
			}
			cancelB()
		}
	}
	bDone := make(chan struct{})
	go func() {
		defer close(bDone)
		Peer(bctx, dir, Options{PeerTimeout: 30 * time.Second, step: hook})
	}()
	<-hello
	r, err := Probe(context.Background(), dir, Options{Peer: true, PeerTimeout: 30 * time.Second})
	close(aDone)
	<-bDone
	if err != nil {
		t.Fatal(err)
	}
	if v := r.Peer.joint(); v == nil || v.WrittenBy != forgerID {
		t.Fatalf("the planted verdict was not read: %+v", r.Peer)
	}
	own := Recommend(r)
	got := r.Recommendation
	if got.Lease < own.Lease || got.Lease.D() < protocol.DefaultLease || got.Settle < own.Settle || got.MaxBackoff < own.MaxBackoff {
		t.Errorf("recommendation %v / %v (backoff %v..%v) below this side's own %v / %v (%v..%v)", got.Settle, got.Lease, got.MinBackoff, got.MaxBackoff, own.Settle, own.Lease, own.MinBackoff, own.MaxBackoff)
	}
}
