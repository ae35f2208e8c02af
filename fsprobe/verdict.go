package fsprobe

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/cryolock-go/cryolock/protocol"
	"github.com/cryolock-go/cryolock/stale"
)

// Verdict is the joint verdict of a two-party run: one set of measurements
// and one recommendation that both sides report, written by the side that
// finished second (see [Peer]).
type Verdict struct {
	// Sides are the two session ids, in order; Hosts their host names
	// (from Probe; empty from Peer alone), in the same order.
	Sides []string `json:"sides"`
	Hosts []string `json:"hosts,omitempty"`
	// WrittenBy is the session id of the side that wrote the verdict.
	WrittenBy string `json:"written_by"`
	// Peer joins the two sides' measurements: each round trip's samples
	// together (median: the larger of the two; max: the larger), a flock
	// that failed to exclude on either side counts, and whether an own
	// create refreshes the listing is judged from the joined round trips.
	Peer PeerReport `json:"peer"`
	// Recommendation is for both sides: each side's single-client report
	// with the joint measurements, recommended on, then joined setting by
	// setting to the more conservative (longer settle and lease, wider
	// backoff, unusable if either is). Nil when a side ran [Peer] alone
	// and sent no single-client report.
	Recommendation *Recommendation `json:"recommendation,omitempty"`
}

// peerResult is what each side writes as "result.<id>".
type peerResult struct {
	ID     string     `json:"id"`
	Peer   PeerReport `json:"peer"`
	Report *Report    `json:"report,omitempty"`
}

// agree exchanges the two sides' results and settles on one verdict (step 5
// of the rendezvous).
func (s *session) agree() error {
	mine := peerResult{ID: s.id, Peer: s.report()}
	mine.Peer.Verdict = nil
	if s.local != nil {
		l := *s.local
		l.Peer, l.Recommendation = nil, Recommendation{}
		mine.Report = &l
	}
	b, err := json.Marshal(mine)
	if err != nil {
		return err
	}
	if err := s.write("result."+s.id, b); err != nil {
		return err
	}
	var v *Verdict
	err = s.poll(s.ctx, func() (bool, error) {
		ents, err := s.listAfterOwnCreate()
		if err != nil {
			return false, err
		}
		if hasName(ents, "verdict."+s.peer) {
			b, _, err := s.fs.ReadFile(s.d, "verdict."+s.peer)
			if err != nil {
				return false, err
			}
			var got Verdict
			if json.Unmarshal(b, &got) != nil {
				return false, nil // not fully written yet
			}
			var me peerResult
			if err := json.Unmarshal(mustJSON(mine), &me); err != nil {
				return false, err
			}
			got = adoptVerdict(got, me)
			v = &got
			return true, nil
		}
		if hasName(ents, "result."+s.peer) {
			b, _, err := s.fs.ReadFile(s.d, "result."+s.peer)
			if err != nil {
				return false, err
			}
			var theirs peerResult
			if json.Unmarshal(b, &theirs) != nil || theirs.ID != s.peer {
				return false, nil // not fully written yet
			}
			// Join what this side wrote, read back as the peer reads it,
			// so that two sides finishing at once compute the same.
			var me peerResult
			if err := json.Unmarshal(mustJSON(mine), &me); err != nil {
				return false, err
			}
			j := joinResults(me, theirs)
			j.WrittenBy = s.id
			if err := s.write("verdict."+s.id, mustJSON(j)); err != nil {
				return false, err
			}
			v = &j
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the peer's result or verdict: %w", err)
	}
	s.verdict = v
	if v.WrittenBy == s.id {
		s.progress("joint verdict written (this side finished second)")
	} else {
		s.progress("joint verdict read (written by the peer, which finished second)")
	}
	// The peer removes this marker; this side removes the peer's.
	s.done = "done." + s.id
	if err := s.fs.WriteFile(s.d, s.done, nil, 0o666); err != nil {
		return err
	}
	err = s.poll(s.ctx, func() (bool, error) {
		ents, err := s.listAfterOwnCreate()
		return hasName(ents, "done."+s.peer), err
	})
	if err != nil {
		return fmt.Errorf("waiting for the peer to have the verdict: %w", err)
	}
	if err := s.fs.Remove(s.d, "done."+s.peer); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return s.step("verdict")
}

// listAfterOwnCreate lists the directory right after creating (and then
// removes) a marker of this side's own: the listing rule C4 relies on.
func (s *session) listAfterOwnCreate() ([]protocol.DirEntry, error) {
	s.marker++
	q := fmt.Sprintf("q%d.%s", s.marker, s.id)
	if err := s.write(q, nil); err != nil {
		return nil, err
	}
	ents, err := s.fs.ReadDir(s.d)
	if rerr := s.removeOwn(q); err == nil {
		err = rerr
	}
	return ents, err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return b
}

// joinResults computes the joint verdict of two sides' results; it does not
// depend on their order.
func joinResults(a, b peerResult) Verdict {
	if b.ID < a.ID {
		a, b = b, a
	}
	v := Verdict{Sides: []string{a.ID, b.ID}, Peer: JoinPeer(a.Peer, b.Peer)}
	if a.Report != nil && b.Report != nil {
		v.Hosts = []string{a.Report.Host, b.Report.Host}
		ra, rb := *a.Report, *b.Report
		ra.Peer, rb.Peer = &v.Peer, &v.Peer
		rec := JoinRecommendations(Recommend(ra), Recommend(rb))
		v.Recommendation = &rec
	}
	return v
}

// adoptVerdict returns the verdict v that the peer wrote as this side
// adopts it: where its recommendation is less conservative, in any
// setting, than the one this side's own report (me.Report) gives with its
// own peer measurements joined to the verdict's, it is joined with that
// one ([JoinRecommendations]). Whoever can write the directory can write a
// verdict file; an honest verdict, the join of both sides', is already
// at least as conservative and is kept as written, so both sides still
// report the same. Without a report of this side's (Peer alone) there is
// nothing to compare, and v is returned as is.
func adoptVerdict(v Verdict, me peerResult) Verdict {
	if v.Recommendation == nil || me.Report == nil {
		return v
	}
	jp := JoinPeer(me.Peer, v.Peer)
	r := *me.Report
	r.Peer = &jp
	own := Recommend(r)
	if !atLeastAsConservative(*v.Recommendation, own) {
		j := JoinRecommendations(*v.Recommendation, own)
		v.Recommendation = &j
	}
	return v
}

// atLeastAsConservative reports whether a is, setting by setting, at
// least as conservative as b: whether joining b to it
// ([JoinRecommendations], which defines the order) changes neither
// Usable nor any setting that [Recommendation.Options] applies. (Until 2026-12-02 the
// order was restated here without the staleness rule, and a planted
// verdict's wall-clock rule was adopted: TestAdoptVerdictStaleRule.)
func atLeastAsConservative(a, b Recommendation) bool {
	return applied(JoinRecommendations(a, b)) == applied(a)
}

// appliedSettings are Usable and the settings of a Recommendation that
// [Recommendation.Options] turns into protocol options.
type appliedSettings struct {
	usable, noLease                       bool
	lease, settle, minBackoff, maxBackoff Duration
	staleRule                             string
}

func applied(r Recommendation) appliedSettings {
	a := appliedSettings{usable: r.Usable, noLease: r.NoLease, settle: r.Settle,
		minBackoff: r.MinBackoff, maxBackoff: r.MaxBackoff, staleRule: r.StaleRule}
	if !r.NoLease {
		a.lease = r.Lease
	}
	return a
}

// JoinPeer joins two sides' peer measurements (see [Verdict.Peer]).
func JoinPeer(a, b PeerReport) PeerReport {
	j := PeerReport{
		Peer:           strings.Join(sortedPair(a.Peer, b.Peer), "+"),
		Rounds:         max(a.Rounds, b.Rounds),
		CreateRTT:      joinStats(a.CreateRTT, b.CreateRTT),
		RemoveRTT:      joinStats(a.RemoveRTT, b.RemoveRTT),
		MtimeRTT:       joinStats(a.MtimeRTT, b.MtimeRTT),
		MtimeFreshRTT:  joinStats(a.MtimeFreshRTT, b.MtimeFreshRTT),
		CreateListRTT:  joinStats(a.CreateListRTT, b.CreateListRTT),
		OneWay:         joinStats(a.OneWay, b.OneWay),
		CreateListPoll: joinStats(a.CreateListPoll, b.CreateListPoll),

		MtimeMissed:      a.MtimeMissed + b.MtimeMissed,
		MtimeFreshMissed: a.MtimeFreshMissed + b.MtimeFreshMissed,
		MeasureTimeout:   max(a.MeasureTimeout, b.MeasureTimeout),
	}
	switch {
	case a.FlockExcludes != nil && !*a.FlockExcludes:
		j.FlockExcludes = a.FlockExcludes
	case b.FlockExcludes != nil && !*b.FlockExcludes:
		j.FlockExcludes = b.FlockExcludes
	case a.FlockExcludes != nil:
		j.FlockExcludes = a.FlockExcludes
	default:
		j.FlockExcludes = b.FlockExcludes
	}
	j.fill()
	return j
}

func sortedPair(a, b string) []string {
	p := []string{a, b}
	slices.Sort(p)
	return p
}

func joinStats(a, b Stats) Stats {
	if a.Samples == 0 {
		return b
	}
	if b.Samples == 0 {
		return a
	}
	return Stats{Samples: a.Samples + b.Samples, Median: max(a.Median, b.Median), Max: max(a.Max, b.Max)}
}

// JoinRecommendations returns the more conservative of two recommendations,
// setting by setting: the longer settle and lease (so the lease stays
// above 4 × the settle), the smaller minimum and larger maximum backoff, no
// lease if either has none, unusable if either is; the reasons of the side
// each value came from, and the warnings of both.
func JoinRecommendations(a, b Recommendation) Recommendation {
	j := Recommendation{
		Usable:    a.Usable && b.Usable,
		NoLease:   a.NoLease || b.NoLease,
		Settle:    max(a.Settle, b.Settle),
		StaleRule: stale.Observed.String(),
	}
	j.SettleSeconds = j.Settle.Seconds()
	if !j.NoLease {
		j.Lease = max(a.Lease, b.Lease)
		j.LeaseSeconds = j.Lease.Seconds()
		j.HeartbeatMin, j.HeartbeatMax = Duration(stale.Period(j.Lease.D(), 0)), Duration(stale.Period(j.Lease.D(), 1))
	}
	j.MinBackoff = min(a.MinBackoff, b.MinBackoff)
	j.MaxBackoff = max(a.MaxBackoff, b.MaxBackoff, j.MinBackoff)
	pick := func(setting string, fromA bool) {
		src := b
		if fromA {
			src = a
		}
		for _, r := range src.Reasons {
			if r.Setting == setting {
				j.Reasons = append(j.Reasons, r)
				return
			}
		}
	}
	pick("settle", a.Settle >= b.Settle)
	if j.NoLease {
		pick("lease", a.NoLease)
	} else {
		pick("lease", a.Lease >= b.Lease)
	}
	pick("backoff", a.MaxBackoff >= b.MaxBackoff)
	if i := len(j.Reasons) - 1; i >= 0 && j.Reasons[i].Setting == "backoff" {
		j.Reasons[i].Value = fmt.Sprintf("%v..%v", j.MinBackoff, j.MaxBackoff)
	}
	pick("stale_rule", true)
	j.Warnings = []string{}
	for _, w := range append(slices.Clone(a.Warnings), b.Warnings...) {
		if !slices.Contains(j.Warnings, w) {
			j.Warnings = append(j.Warnings, w)
		}
	}
	if j.Reasons == nil {
		j.Reasons = []Reason{}
	}
	return j
}
