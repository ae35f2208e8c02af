package fsprobe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// The two-party rendezvous, all in dir/.cryolock-probe-peer (PeerDirName),
// using only the protocol's primitives:
//
//  1. Each side creates the directory if missing and writes
//     "hello.<id>" holding its start time (Unix nanoseconds) and its number
//     of rounds; id is 16 random hex digits. Sides with different numbers
//     of rounds refuse each other.
//  2. Each side lists until it sees exactly one other hello written less
//     than 2 × PeerTimeout ago (older ones are leftovers of a crashed run
//     and are ignored; a third party is an error). The side with the
//     smaller id leads even rounds, the other odd rounds.
//  3. In round k the leader L and follower F, with files "r<k>.<id>":
//     L creates its file (content: its wall clock) and lists until F's
//     file appears; F, on seeing L's, creates its own: the create round
//     trip. L sets its file's mtime to mark(k,0) and stats F's file until
//     it reads mark(k,1); F, on stat-seeing mark(k,0), sets mark(k,1): the
//     mtime round trip. The same with a read before each stat and marks 2
//     and 3: the fresh-mtime round trip. Each mtime measurement is bounded
//     (Options.PeerMeasureTimeout one way, twice that for L's round trip):
//     F, not seeing L's mark within the bound, answers with a give-up mark
//     instead; L, reading a give-up mark or no answer within its bound,
//     counts the round trip as not seen within the bound and goes on (so
//     F, waiting for mark 0, also accepts mark 2, and stops waiting when
//     L's file is gone). L removes its file and lists until
//     F's is gone; F, on seeing L's gone, removes its own: the remove round
//     trip.
//     Then, clReps times, the create-then-list round trip (what rule C4
//     of the lock relies on): L creates "c<k>.<j>.<id>"; F polls, each
//     poll a plain listing, then the create of a fresh marker of its own
//     ("q…"), a listing and the marker's removal, until the listing after
//     its own create shows L's file, and answers with its own
//     "c<k>.<j>.<id>"; L polls the same way until it sees it. A poll whose
//     plain listing missed the other's file and whose listing right after
//     the own create showed it is evidence that a client's own create
//     refreshes its view of the directory.
//  4. Where flock exists, the side with the smaller id flocks its hello
//     file and writes "flock.<id>" ("held"); the other, on reading it, tries
//     flock(LOCK_EX|LOCK_NB) on the same file and writes "flock.<id>"
//     ("excluded" or "admitted"); the first, on reading that, releases the
//     flock and removes its marker, and the second, on seeing the marker
//     gone, is done.
//  5. The joint verdict: each side writes "result.<id>" (its measurements
//     and, from Probe, its single-client report) and polls (create-then-list)
//     until it lists either "verdict.<peer>", which it reads and adopts, or
//     "result.<peer>": then it finishes second, joins the two (see
//     [Verdict]) and writes "verdict.<id>". (If both finish at once, both
//     write a verdict, computed the same way from the same two results.)
//     Then each side writes "done.<id>" and polls until it lists
//     "done.<peer>", which it removes (its own is removed by the peer), so
//     that no side removes what the other has yet to read.
//  6. Each side removes its own files, then tries to remove the directory
//     (which succeeds for whoever is last). Cancellation and timeouts take
//     the same cleanup path.

// Peer runs the two-party measurement: it rendezvouses in dir with another
// party running Peer (or Probe with Options.Peer) on the same directory
// through another mount or from another host, and measures how long each
// side's creates, removals and mtime changes take to become visible to the
// other (see [PeerReport]). Both parties must start within
// Options.PeerTimeout of each other; Peer returns when the rounds are done
// or with an error when the timeout passes or ctx is done, removing its own
// files in either case, and the shared scratch directory
// dir/.cryolock-probe-peer once both sides are gone.
func Peer(ctx context.Context, dir string, opts Options) (PeerReport, error) {
	o := opts.withDefaults()
	if err := opts.check(); err != nil {
		return PeerReport{}, &protocol.Error{Op: "peer", Path: dir, Err: err}
	}
	if dir == "" { // not the working directory by accident
		return PeerReport{}, &protocol.Error{Op: "peer", Err: fmt.Errorf("%w: empty path", ErrUnusable)}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return PeerReport{}, &protocol.Error{Op: "peer", Path: dir, Err: fmt.Errorf("%w: %w", ErrUnusable, err)}
	}
	if fi, err := os.Stat(abs); err != nil {
		return PeerReport{}, &protocol.Error{Op: "peer", Path: abs, Err: fmt.Errorf("%w: %w", ErrUnusable, err)}
	} else if !fi.IsDir() {
		return PeerReport{}, &protocol.Error{Op: "peer", Path: abs, Err: fmt.Errorf("%w: not a directory", ErrUnusable)}
	}
	ctx, cancel := context.WithTimeout(ctx, o.PeerTimeout)
	defer cancel()
	s := &session{
		ctx: ctx, o: o, fs: o.FS, dir: abs,
		pd:     filepath.Join(abs, PeerDirName),
		id:     randHex(),
		warned: map[string]bool{},
		local:  o.local,
	}
	defer s.cleanup()
	err = s.run()
	if err != nil && s.done != "" {
		// The peer may never come to remove it.
		s.created = append(s.created, s.done)
	}
	rep := s.report()
	if err != nil {
		return rep, &protocol.Error{Op: "peer", Path: s.pd, Err: err}
	}
	return rep, nil
}

// peerClock times the two-party mode's measurements and paces its polls:
// the real clock, or in tests a virtual one, so that a verdict comparing
// round trips does not depend on how loaded the machine is.
type peerClock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time                                   { return time.Now() }
func (realClock) Sleep(ctx context.Context, d time.Duration) error { return sleep(ctx, d) }

// tick is an instant of a session's clock.
type tick struct {
	c peerClock
	t time.Time
}

func (t tick) since() time.Duration { return t.c.Now().Sub(t.t) }

func (s *session) start() tick { return tick{s.o.clock, s.o.clock.Now()} }

// poll is the package's poll, paced by the session's clock.
func (s *session) poll(ctx context.Context, cond func() (bool, error)) error {
	return pollSleeping(ctx, s.o.clock.Sleep, cond)
}

type session struct {
	ctx     context.Context
	o       Options
	fs      protocol.FS
	dir, pd string
	d       protocol.Dir // pd, open; nil until run has made it

	id      string
	peer    string
	created []string

	rounds                      int
	create, remove, mt, mtFresh timer
	createList                  timer // create-then-list round trips
	pollCost                    timer // one create-then-list poll
	oneWay                      timer
	mtMiss, mtFreshMiss         int // mtime round trips not completed within their bound
	flockExcludes               *bool
	warned                      map[string]bool // leftovers reported
	marker                      int             // sequence of the poll markers

	local   *Report  // this side's single-client report (from Probe), or nil
	verdict *Verdict // the joint verdict, once agreed
	done    string   // this side's done marker, once written (the peer removes it)
}

func (s *session) progress(format string, args ...any) {
	if s.o.Progress != nil {
		s.o.Progress(sprintf(format, args...))
	}
}

func (s *session) path(name string) string { return filepath.Join(s.pd, name) }

func (s *session) step(name string) error {
	if s.o.step != nil {
		s.o.step(name)
	}
	if err := ctxErr(s.ctx); err != nil {
		return fmt.Errorf("interrupted at %s: %w", name, err)
	}
	return nil
}

func (s *session) write(name string, data []byte) error {
	s.created = append(s.created, name)
	if err := s.fs.WriteFile(s.d, name, data, 0o666); err != nil {
		return err
	}
	return nil
}

func (s *session) removeOwn(name string) error {
	err := s.fs.Remove(s.d, name)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		for i, c := range s.created {
			if c == name {
				s.created = append(s.created[:i], s.created[i+1:]...)
				break
			}
		}
		return nil
	}
	return err
}

func (s *session) cleanup() {
	if s.d == nil {
		return
	}
	for i := len(s.created) - 1; i >= 0; i-- {
		s.fs.Remove(s.d, s.created[i])
	}
	s.created = nil
	s.d.Close()
	s.d = nil
	// Fails while the other side's files remain; the last one out succeeds.
	// The directory given may be a symbolic link (the peer mode accepts one);
	// the lock's rule against following one applies to lock directories.
	parentPath := filepath.Dir(s.pd)
	if real, err := filepath.EvalSymlinks(parentPath); err == nil {
		parentPath = real
	}
	if parent, err := s.fs.OpenDir(nil, parentPath, false, 0); err == nil {
		s.fs.Remove(parent, filepath.Base(s.pd))
		parent.Close()
	}
}

func (s *session) report() PeerReport {
	r := PeerReport{
		Peer: s.peer, Rounds: s.rounds,
		CreateRTT: s.create.stats(), RemoveRTT: s.remove.stats(),
		MtimeRTT: s.mt.stats(), MtimeFreshRTT: s.mtFresh.stats(),
		OneWay: s.oneWay.stats(), FlockExcludes: s.flockExcludes,
		CreateListRTT: s.createList.stats(), CreateListPoll: s.pollCost.stats(),
		MtimeMissed: s.mtMiss, MtimeFreshMissed: s.mtFreshMiss,
		MeasureTimeout: Duration(s.o.PeerMeasureTimeout),
	}
	r.fill()
	r.Verdict = s.verdict
	return r
}

// fill derives the summary fields of r from its round trips.
func (r *PeerReport) fill() {
	r.ListingLag = max(r.CreateRTT.Max, r.RemoveRTT.Max)
	r.ListingLagSeconds = r.ListingLag.Seconds()
	r.MtimeLag, r.MtimeFreshLag = r.MtimeRTT.Max, r.MtimeFreshRTT.Max
	r.CreateListLag = r.CreateListRTT.Max
	r.CreateListLagSeconds = r.CreateListLag.Seconds()
	r.OwnCreateRefreshes = nil
	if r.CreateListRTT.Samples == 0 || r.CreateRTT.Samples == 0 {
		return
	}
	plain, cl := r.CreateRTT.Max.D(), r.CreateListRTT.Max.D()
	switch {
	case plain >= refreshEvidence && cl < plain/2:
		// Plain listings lagged, listings right after an own create far
		// less: the create refreshed the view.
		b := true
		r.OwnCreateRefreshes = &b
	case plain >= max(refreshEvidence, 8*r.CreateListPoll.Median.D()) && cl >= plain/2:
		// Plain listings lagged by many polls' time, and listings after
		// an own create about as much: the create did not refresh it.
		b := false
		r.OwnCreateRefreshes = &b
	}
}

// refreshEvidence is the least plain-listing round trip from which a
// refresh by an own create (or its absence) can be told apart from polling
// noise; the absence also needs 8 times the median poll.
const refreshEvidence = 50 * time.Millisecond

// clReps is the number of create-then-list round trips in each round.
const clReps = 3

// mark is the explicit mtime of step j of round k: whole even seconds, so
// that any granularity up to 2 s stores it exactly.
func mark(k, j int) time.Time { return time.Unix(1_600_000_000+int64(2*(k*4+j)), 0) }

// giveUp is the follower's answer in place of mark(k, j) when it did not
// see the leader's mark(k, j-1) within the measurement's bound: a
// different whole even second, so that the leader tells "seen" from "not
// seen" and records no round trip for the latter.
func giveUp(k, j int) time.Time { return mark(k, j).Add(-1_000_000 * time.Second) }

func (s *session) run() error {
	if err := s.o.mkdir(s.pd, true); err != nil {
		return fmt.Errorf("%w: %w", ErrUnusable, err)
	}
	d, err := s.fs.OpenDir(nil, s.pd, false, 0)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnusable, err)
	}
	s.d = d
	hello := fmt.Sprintf("%d %d", time.Now().UnixNano(), s.o.PeerRounds)
	if err := s.write("hello."+s.id, []byte(hello)); err != nil {
		return err
	}
	if err := s.step("hello"); err != nil {
		return err
	}
	if err := s.findPeer(); err != nil {
		return err
	}
	leader := s.id < s.peer
	for k := 0; k < s.o.PeerRounds; k++ {
		var err error
		if (k%2 == 0) == leader {
			err = s.lead(k)
		} else {
			err = s.follow(k)
		}
		if err != nil {
			return fmt.Errorf("round %d: %w", k, err)
		}
		s.rounds++
		if (k%2 == 0) != leader {
			s.progress("round %d: done (the peer led it)", k)
		}
	}
	if haveFlock {
		if err := s.flock(leader); err != nil {
			return fmt.Errorf("flock: %w", err)
		}
	}
	if err := s.agree(); err != nil {
		return fmt.Errorf("joint verdict: %w", err)
	}
	return nil
}

// findPeer waits for exactly one other fresh hello.
func (s *session) findPeer() error {
	err := s.poll(s.ctx, func() (bool, error) {
		ents, err := s.fs.ReadDir(s.d)
		if err != nil {
			return false, err
		}
		var others []string
		for _, e := range ents {
			id, ok := strings.CutPrefix(e.Name, "hello.")
			if !ok || id == s.id {
				continue
			}
			if !validPeerID(id) {
				// Not a probe's (hello.0 would sort first and so name
				// the file flocked).
				if !s.warned[id] {
					s.warned[id] = true
					s.progress("ignoring %s: not a probe's name (hello.<16 lowercase hex digits>)", s.path(e.Name))
				}
				continue
			}
			b, _, err := s.fs.ReadFile(s.d, e.Name)
			if err != nil {
				continue // gone, or not readable yet
			}
			f := strings.Fields(string(b))
			if len(f) != 2 {
				continue // half-written
			}
			ns, err1 := strconv.ParseInt(f[0], 10, 64)
			rounds, err2 := strconv.Atoi(f[1])
			if err1 != nil || err2 != nil {
				continue // half-written
			}
			if age := time.Since(time.Unix(0, ns)); age > 2*s.o.PeerTimeout {
				if !s.warned[id] {
					s.warned[id] = true
					s.progress("ignoring %s, left %v ago by a run that did not finish; remove %s when no probe runs", e.Name, age.Round(time.Second), s.pd)
				}
				continue
			}
			if rounds != s.o.PeerRounds {
				return false, fmt.Errorf("the peer %s runs %d rounds and this side %d: run both with the same --rounds", id, rounds, s.o.PeerRounds)
			}
			others = append(others, id)
		}
		switch len(others) {
		case 0:
			return false, nil
		case 1:
			s.peer = others[0]
			return true, nil
		}
		return false, fmt.Errorf("more than one peer in %s: %v", s.pd, others)
	})
	if err != nil {
		return fmt.Errorf("waiting for a peer (run `cryolock probe --peer` on the other side): %w", err)
	}
	s.progress("paired with peer %s (I am %s)", s.peer, s.id)
	return s.step("paired")
}

func (s *session) listed(name string, present bool) error {
	return s.poll(s.ctx, func() (bool, error) {
		ents, err := s.fs.ReadDir(s.d)
		if err != nil {
			return false, err
		}
		return hasName(ents, name) == present, nil
	})
}

// waitMark polls the mtime of name (by a plain stat, or with fresh by a
// read and the opened file's stat, as the lock's fresh judgement) until it
// is one of want, and returns that one's index; -1 if none was seen within
// bound (the measurement did not converge: a finding, not an error).
func (s *session) waitMark(name string, fresh bool, bound time.Duration, want ...time.Time) (int, error) {
	t := s.start()
	got := -1
	err := s.poll(s.ctx, func() (bool, error) {
		var fi protocol.FileInfo
		var err error
		if fresh {
			_, fi, err = s.fs.ReadFile(s.d, name)
		} else {
			fi, err = s.fs.Stat(s.d, name)
		}
		if err != nil {
			return false, err
		}
		got = slices.IndexFunc(want, fi.ModTime.Equal)
		return got >= 0 || t.since() >= bound, nil
	})
	return got, err
}

func (s *session) lead(k int) error {
	mine, theirs := fmt.Sprintf("r%d.%s", k, s.id), fmt.Sprintf("r%d.%s", k, s.peer)
	t := s.start()
	if err := s.write(mine, []byte(strconv.FormatInt(time.Now().UnixNano(), 10))); err != nil {
		return err
	}
	if err := s.listed(theirs, true); err != nil {
		return fmt.Errorf("waiting for %s: %w", theirs, err)
	}
	s.create.addD(t.since())
	s.progress("round %d: the peer saw my create and answered in %v", k, t.since())
	if err := s.step("lead-create"); err != nil {
		return err
	}
	bound := 2 * s.o.PeerMeasureTimeout // a round trip: two one-way bounds
	for j, fresh := range []bool{false, true} {
		m := mark(k, 2*j)
		t := s.start()
		if err := s.fs.Chtimes(s.d, mine, m, m); err != nil {
			return err
		}
		got, err := s.waitMark(theirs, fresh, bound, mark(k, 2*j+1), giveUp(k, 2*j+1))
		if err != nil {
			return fmt.Errorf("waiting for the mtime of %s: %w", theirs, err)
		}
		how, tm, miss := "stat", &s.mt, &s.mtMiss
		if fresh {
			how, tm, miss = "read+stat", &s.mtFresh, &s.mtFreshMiss
		}
		switch got {
		case 0:
			tm.addD(t.since())
			s.progress("round %d: the peer saw (by %s) my mtime change and answered in %v", k, how, t.since())
		case 1:
			*miss++
			s.progress("round %d: the peer did not see (by %s) my mtime change within %v", k, how, s.o.PeerMeasureTimeout)
		default:
			*miss++
			s.progress("round %d: no answer to my mtime change (seen by %s) within %v", k, how, bound)
		}
		if err := s.step("lead-mtime"); err != nil {
			return err
		}
	}
	t = s.start()
	if err := s.removeOwn(mine); err != nil {
		return err
	}
	if err := s.listed(theirs, false); err != nil {
		return fmt.Errorf("waiting for %s to go: %w", theirs, err)
	}
	s.remove.addD(t.since())
	s.progress("round %d: the peer saw my removal and answered in %v", k, t.since())
	if err := s.step("lead-remove"); err != nil {
		return err
	}
	for j := 0; j < clReps; j++ {
		mine, theirs := fmt.Sprintf("c%d.%d.%s", k, j, s.id), fmt.Sprintf("c%d.%d.%s", k, j, s.peer)
		t := s.start()
		if err := s.write(mine, nil); err != nil {
			return err
		}
		if err := s.listedAfterCreate(theirs); err != nil {
			return fmt.Errorf("waiting for %s after creates of my own: %w", theirs, err)
		}
		s.createList.addD(t.since())
		s.progress("round %d: a listing right after the peer's own create showed my create, and mine showed its answer, in %v", k, t.since())
		if err := s.removeOwn(mine); err != nil {
			return err
		}
		if err := s.step("lead-create-list"); err != nil {
			return err
		}
	}
	return nil
}

// listedAfterCreate polls until name is listed by a listing made right
// after a create of this side's own (a fresh marker, removed after the
// listing), as the lock's rule C4 lists after its own create. The time of
// each poll (create, list, remove) is recorded: it bounds how finely the
// round trip can tell a refresh from a lag.
func (s *session) listedAfterCreate(name string) error {
	return s.poll(s.ctx, func() (bool, error) {
		t := s.start()
		ents, err := s.listAfterOwnCreate()
		if err != nil {
			return false, err
		}
		s.pollCost.addD(t.since())
		return hasName(ents, name), nil
	})
}

func (s *session) follow(k int) error {
	mine, theirs := fmt.Sprintf("r%d.%s", k, s.id), fmt.Sprintf("r%d.%s", k, s.peer)
	if err := s.listed(theirs, true); err != nil {
		return fmt.Errorf("waiting for %s: %w", theirs, err)
	}
	seen := time.Now()
	if b, _, err := s.fs.ReadFile(s.d, theirs); err == nil {
		if ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			s.oneWay.addD(max(0, seen.Sub(time.Unix(0, ns))))
		}
	}
	if err := s.write(mine, []byte(strconv.FormatInt(time.Now().UnixNano(), 10))); err != nil {
		return err
	}
	if err := s.step("follow-create"); err != nil {
		return err
	}
	// The two mtime steps: answer each mark of the leader's with one of
	// this side's own, or with a give-up mark when it was not seen within
	// the measurement's bound. A later step's mark seen first means the
	// leader gave up waiting on the earlier one; its file gone, that it
	// gave up on both.
	for j := 0; j < 2; {
		want := []time.Time{mark(k, 2*j)}
		if j == 0 {
			want = append(want, mark(k, 2))
		}
		got, err := s.waitMark(theirs, j == 1, s.o.PeerMeasureTimeout, want...)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return fmt.Errorf("waiting for the mtime of %s: %w", theirs, err)
		}
		m := giveUp(k, 2*j+1)
		if got >= 0 {
			j += got
			m = mark(k, 2*j+1)
		}
		j++
		if err := s.fs.Chtimes(s.d, mine, m, m); err != nil {
			return err
		}
		if err := s.step("follow-mtime"); err != nil {
			return err
		}
	}
	if err := s.listed(theirs, false); err != nil {
		return fmt.Errorf("waiting for %s to go: %w", theirs, err)
	}
	if err := s.removeOwn(mine); err != nil {
		return err
	}
	if err := s.step("follow-remove"); err != nil {
		return err
	}
	for j := 0; j < clReps; j++ {
		mine, theirs := fmt.Sprintf("c%d.%d.%s", k, j, s.id), fmt.Sprintf("c%d.%d.%s", k, j, s.peer)
		if err := s.listedAfterCreate(theirs); err != nil {
			return fmt.Errorf("waiting for %s after creates of my own: %w", theirs, err)
		}
		if err := s.write(mine, nil); err != nil {
			return err
		}
		if err := s.step("follow-create-list"); err != nil {
			return err
		}
	}
	return nil
}

// validPeerID reports whether id is one a session generates (randHex: 16
// lowercase hexadecimal digits).
func validPeerID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// flock tests whether a flock held by one side excludes the other. The
// hello file flocked is opened in the peer directory's handle (see
// xdir.openFlock: on Unix without following a symbolic link, without
// blocking, and only a regular file with one name); anything else there,
// planted by another user, ends the session with an error naming it.
func (s *session) flock(leader bool) error {
	if !validPeerID(s.peer) {
		return fmt.Errorf("the peer's id %q is not a probe's", s.peer)
	}
	x, err := openXdir(s.d, s.pd)
	if err != nil {
		return err
	}
	defer x.close()
	target := "hello." + min(s.id, s.peer)
	mine, theirs := "flock."+s.id, "flock."+s.peer
	readTheirs := func() (string, error) {
		var v string
		err := s.poll(s.ctx, func() (bool, error) {
			// Listed first (after a create of this side's own, which
			// refreshes the listing where it can): reading a name not
			// created yet would teach an NFS client that it does not
			// exist, for up to a minute (its negative lookup cache).
			ents, err := s.listAfterOwnCreate()
			if err != nil || !hasName(ents, theirs) {
				return false, err
			}
			b, _, err := s.fs.ReadFile(s.d, theirs)
			if errors.Is(err, fs.ErrNotExist) || (err == nil && len(b) == 0) {
				return false, nil
			}
			v = string(b)
			return err == nil, err
		})
		return v, err
	}
	if leader {
		h, err := flockTry(x, target)
		if errors.Is(err, protocol.ErrNotRegular) {
			return err
		}
		state := "held"
		if err != nil || h == nil {
			state = "error"
		}
		if err := s.write(mine, []byte(state)); err != nil {
			return err
		}
		v, err := readTheirs()
		if h != nil {
			h.release()
		}
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", theirs, err)
		}
		s.setFlock(v)
		// Removing the marker tells the follower it may go.
		if err := s.removeOwn(mine); err != nil {
			return err
		}
		return s.step("flock-lead")
	}
	v, err := readTheirs()
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", theirs, err)
	}
	result := "error"
	if v == "held" {
		h, err := flockTry(x, target)
		switch {
		case errors.Is(err, protocol.ErrNotRegular):
			return err
		case err != nil:
		case h == nil:
			result = "excluded"
		default:
			h.release()
			result = "admitted"
		}
	}
	if err := s.write(mine, []byte(result)); err != nil {
		return err
	}
	s.setFlock(result)
	if err := s.listed(theirs, false); err != nil {
		return fmt.Errorf("waiting for %s to go: %w", theirs, err)
	}
	return s.step("flock-follow")
}

func (s *session) setFlock(v string) {
	switch v {
	case "excluded":
		b := true
		s.flockExcludes = &b
	case "admitted":
		b := false
		s.flockExcludes = &b
	}
}

// joint returns the verdict agreed with the peer if it carries a
// recommendation, else nil.
func (p *PeerReport) joint() *Verdict {
	if p == nil || p.Verdict == nil || p.Verdict.Recommendation == nil {
		return nil
	}
	return p.Verdict
}
