package fsprobe

import (
	"fmt"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
	"github.com/cryolock-go/cryolock/stale"
)

// Margins of the recommendation (see [Recommend]).
const (
	settleMargin   = 1.5 // settle = 1.5 × the measured listing lag
	cacheSettle    = 1.25
	leaseCacheMul  = 3  // lease ≥ 3 × attribute-cache time
	leaseSettleMul = 5  // lease ≥ 5 × settle (the lock requires > 4 ×)
	leaseGranMul   = 10 // lease ≥ 10 × mtime granularity
	leaseOpMul     = 40 // lease ≥ 40 × the slowest primitive
	skewUnsafe     = time.Second
)

// unknownType is [Filesystem.Type] for a filesystem the probe could not
// identify.
const unknownType = "unknown"

// unknownDirCache is the listing cache assumed where nothing is known of
// one: a filesystem the probe could not identify, or a network filesystem
// whose client caches are not visible to it. It is the Windows SMB
// client's default directory cache ([smbClientCache]), longer than the
// CIFS default on Linux (1 s) and NFS's close-to-open revalidation; only
// sshfs's default (20 s) is longer, and sshfs is identified on Linux.
const unknownDirCache = smbClientCache

// smbClientCache is the Windows SMB client's default lifetime of its
// directory and file-information caches (DirectoryCacheLifetime,
// FileInfoCacheLifetime).
const smbClientCache = 10 * time.Second

// Recommend derives a recommendation from the measurements in r (r's own
// Recommendation is ignored), so that a caller can recompute it, for
// example after attaching a peer measurement (see [Report.WithPeer]). r
// should come from [Probe]: a primitive without a measurement counts as not
// working. The derivation:
//
//   - Settle covers the listing lag between clients that the lock's check
//     (rule C4) relies on: 1.5 × the two-party create-then-list round trip
//     (a listing made right after a client's own create) when a peer
//     measured it; else 1.5 × the plain create and remove round trips when
//     a peer measured those only; else 1.5 × this client's own lag
//     if even its own listings lagged; else, on a remote filesystem, 1.25 ×
//     the listing cache its mount options or defaults declare (with a
//     warning to run the two-party mode); else, on a filesystem that could
//     not be identified, the conservative 1.25 × 10 s (with a warning: it
//     may be a network share); else 0 (a local filesystem whose listings
//     were coherent). A filesystem that could not be identified never gets
//     a settle below the conservative one unless a peer measured it.
//   - The lease is the largest of: the default (10 s); 5 × settle (the lock
//     requires settle < lease/4); 3 × the time an observer may see a stale
//     mtime (the peer's read-then-stat round trip when measured, else the
//     attribute cache of the mount options or defaults) — an observer sees
//     a heartbeat up to that late, heartbeats come every ≤ 0.5 × lease, so
//     the lease must exceed twice that; 10 × the mtime granularity (so that
//     heartbeats 0.4 × lease apart store different mtimes); 40 × the
//     slowest primitive (so a heartbeat fits well within the quarter lease
//     between "overdue" and "stale"). It is rounded up to whole seconds.
//   - Backoff: from the median listing time (min, at least 1 ms) to the
//     larger of 10 ms, 10 × the median and 2 × the max listing time (max, at
//     most lease/8), so that waiting contenders do not list faster than the
//     server answers.
//   - The staleness rule is always "observed", which never compares clocks;
//     a warning says when the measured skew would make "wallclock" unsafe.
//
// If setting an explicit mtime fails, or the peer did not see an mtime
// even after reading the file within its bound (PeerReport.MtimeFreshMissed:
// a heartbeat may never be seen), no heartbeat can be relied on and the
// recommendation is NoLease; if another required primitive fails, Usable
// is false.
func Recommend(r Report) Recommendation {
	rec := Recommendation{Usable: true, StaleRule: stale.Observed.String(), Reasons: []Reason{}, Warnings: []string{}}
	warn := func(format string, args ...any) { rec.Warnings = append(rec.Warnings, sprintf(format, args...)) }
	reason := func(setting, value, format string, args ...any) {
		rec.Reasons = append(rec.Reasons, Reason{Setting: setting, Value: value, Why: sprintf(format, args...)})
	}
	pr := r.Primitives
	f := r.Filesystem
	unidentified := f.Type == "" || f.Type == unknownType
	conservative := roundUp(time.Duration(float64(unknownDirCache)*cacheSettle), 10*time.Millisecond)

	var opMax time.Duration
	for _, p := range pr.Required() {
		opMax = max(opMax, p.Timing.Max.D())
		if p.Works || p.Name == "set_mtime" {
			continue
		}
		rec.Usable = false
		why := p.Error
		if why == "" {
			why = "not measured"
		}
		warn("%s does not work here (%s): the lock cannot work in this directory", p.Name, why)
	}
	if !pr.SetMtime.Works {
		rec.NoLease = true
		warn("setting an explicit mtime does not work here (%s): no heartbeat can be kept, so entries are written with lease None and a crashed holder blocks the lock until its file is removed by hand", orNA(pr.SetMtime.Error))
	}

	if p := r.Peer; p != nil && p.MtimeFreshMissed > 0 {
		rec.NoLease = true
		warn("an mtime set through the other client was not seen here within %v even after reading the file (%d of %d read+stat round trips): a heartbeat may never be seen (an NFSv4 client holding a read delegation that the server does not recall serves its cached attributes), and a live holder would be taken for stale after any lease, so entries are written with lease None and a crashed holder blocks the lock until its file is removed by hand; a longer --peer-measure-timeout may measure the lag instead", p.MeasureTimeout, p.MtimeFreshMissed, p.MtimeFreshMissed+p.MtimeFreshRTT.Samples)
	}

	// Settle.
	var settle time.Duration
	switch {
	case r.Peer.measuredCreateList():
		lag := r.Peer.CreateListLag.D()
		settle = roundUp(time.Duration(float64(lag)*settleMargin), 10*time.Millisecond)
		reason("settle", settle.String(), "a listing made right after a client's own create showed the other client's earlier create within %v (create-then-list round trip, %d samples: what the lock's check relies on); a one-way lag is at most that, and settle is 1.5 × it%s", lag, r.Peer.CreateListRTT.Samples, refreshNote(r.Peer))
		if r.Peer.OwnCreateRefreshes == nil || !*r.Peer.OwnCreateRefreshes {
			if f.DirCache.D() > lag {
				warn("the listing cache declared for %s is %v [%s] but the peer measured at most %v: the measurement is used; a longer run (more rounds) may catch a longer lag", f.Type, f.DirCache, f.DirCacheSource, lag)
			}
		}
	case r.Peer.measuredListing():
		lag := r.Peer.ListingLag.D()
		settle = roundUp(time.Duration(float64(lag)*settleMargin), 10*time.Millisecond)
		reason("settle", settle.String(), "the other client saw this one's creates and removals, and answered, within %v (round trip over %d rounds); a one-way lag is at most that, and settle is 1.5 × it", lag, r.Peer.Rounds)
		if f.DirCache.D() > lag {
			warn("the listing cache declared for %s is %v [%s] but the peer measured at most %v: the measurement is used; a longer run (more rounds) may catch a longer lag", f.Type, f.DirCache, f.DirCacheSource, lag)
		}
	case r.Listing.Samples > 0 && (!r.Listing.CreateListedAtOnce || !r.Listing.RemoveGoneAtOnce):
		lag := r.Listing.Lag.Max.D()
		settle = roundUp(time.Duration(float64(lag)*settleMargin), 10*time.Millisecond)
		why := sprintf("even this client's own listings lagged its creates or removals, by up to %v; settle is 1.5 × that", lag)
		if f.Remote && time.Duration(float64(f.DirCache)*cacheSettle) > settle {
			settle = roundUp(time.Duration(float64(f.DirCache)*cacheSettle), 10*time.Millisecond)
			why += sprintf(", raised to 1.25 × the listing cache of %v [%s]", f.DirCache, f.DirCacheSource)
		}
		if unidentified && conservative > settle {
			settle = conservative
			why += sprintf(", raised to %v because the filesystem could not be identified (the conservative setting: 1.25 × a %v listing cache)", settle, unknownDirCache)
		}
		reason("settle", settle.String(), "%s", why)
		warn("listings are not coherent even from one client (lag up to %v): the settle delay is essential here", lag)
	case f.Remote:
		settle = roundUp(time.Duration(float64(f.DirCache)*cacheSettle), 10*time.Millisecond)
		if f.DirCache > 0 {
			reason("settle", settle.String(), "a %s client may serve a listing up to %v old [%s]; settle is 1.25 × that", f.Type, f.DirCache, f.DirCacheSource)
		} else {
			reason("settle", settle.String(), "no listing cache is declared for %s [%s] and this client's listings were coherent", f.Type, orNA(f.DirCacheSource))
		}
		warn("%s is shared through other clients' caches, whose listing lag one client cannot see: run `cryolock probe --peer` on two clients (or two mounts) of this directory at the same time to measure it", f.Type)
	case unidentified:
		settle = conservative
		reason("settle", settle.String(), "the filesystem could not be identified, so it may be a network share whose clients serve cached listings; settle is the conservative setting, 1.25 × a %v listing cache (the Windows SMB client's default, longer than those of NFS and CIFS on Linux)", unknownDirCache)
		warn("the filesystem could not be identified: the settle delay of %v is a conservative guess, not a measurement; run `cryolock probe --peer` on two clients of this directory at the same time to measure the listing lag, or set the settle yourself if you know the filesystem is local", settle)
	default:
		reason("settle", "0s", "local filesystem (%s): one kernel serves every process, and this client's listings were coherent at once", f.Type)
	}
	rec.Settle, rec.SettleSeconds = Duration(settle), settle.Seconds()
	rcloneUnsafe := f.Type == "fuse.rclone" && f.DirCache.D() >= 10*time.Second && !r.Peer.measuredCreateList()
	if rcloneUnsafe {
		warn("rclone serves listings from its directory cache for up to %v [%s], and a mount's own creates do not refresh it: the lock is UNSAFE here unless every contender uses a settle of at least that (recommended: %v), or the mounts are restarted with --dir-cache-time 0 (or a few seconds) and --attr-timeout 1s or less and probed again", f.DirCache, f.DirCacheSource, settle)
	}
	if f.ReadChecksum {
		warn("not the lock's concern but your data's: this rclone mount checks each read against the remote's hash, and where the remote keeps modification times in whole seconds (sftp) a small file another client rewrote at the same size within the second reads as EIO for a while (rclone logs \"md5 hash differ\"); mount with --no-checksum to avoid it")
	}
	if settle >= 5*time.Second && !rcloneUnsafe {
		src := f.DirCacheSource
		if src == "" {
			src = "no listing cache declared"
		}
		warn("every acquisition will wait the settle delay of %v: a shorter listing cache shortens it [%s], then probe again; `cryolock probe --peer` measures what the lock relies on (where a client's own create refreshes its listing, as on NFS and sshfs, that is far shorter)", settle, src)
	}

	// Lease.
	lease := protocol.DefaultLease
	why := sprintf("the default %v", lease)
	raise := func(floor time.Duration, format string, args ...any) {
		if floor > lease {
			lease = floor
			why = sprintf(format, args...)
		}
	}
	if settle > 0 {
		raise(leaseSettleMul*settle, "5 × the settle delay %v (the lock requires settle < lease/4)", settle)
	}
	cache, src := f.AttrCache.D(), f.AttrCacheSource
	if r.Peer.measuredMtime() {
		cache = r.Peer.MtimeFreshLag.D()
		src = sprintf("measured with the peer: read-then-stat round trip %v, plain stat %v", r.Peer.MtimeFreshLag, r.Peer.MtimeLag)
		if r.Peer.MtimeMissed > 0 {
			src += sprintf(" where seen (%d plain stats did not see the mtime within %v)", r.Peer.MtimeMissed, r.Peer.MeasureTimeout)
		}
	} else if cache > 0 {
		warn("attribute cache of %v [%s]: an observer may see a heartbeat that late, so the lease must exceed it by a wide margin", f.AttrCache, f.AttrCacheSource)
	}
	if cache > 0 {
		raise(leaseCacheMul*cache, "3 × the %v for which an observer may see a stale mtime [%s]: heartbeats come every ≤ 0.5 × lease and an observer sees each up to that late, so the lease must exceed twice it", cache, src)
	}
	if g := r.MtimeGranularity.D(); g > 0 {
		raise(leaseGranMul*g, "10 × the mtime granularity %v, so that heartbeats 0.4 × lease apart store different mtimes", g)
		if g >= time.Second {
			warn("mtime granularity %v: a short lease would let heartbeats store the same mtime and look stale", g)
		}
	}
	if opMax > 0 {
		raise(leaseOpMul*opMax, "40 × the slowest primitive (%v), so that a heartbeat fits well within the quarter lease between \"overdue\" and \"stale\"", opMax)
	}
	lease = roundUp(lease, time.Second)
	if rec.NoLease {
		reason("lease", "None", "no heartbeat is possible without setting mtimes")
	} else {
		rec.Lease, rec.LeaseSeconds = Duration(lease), lease.Seconds()
		rec.HeartbeatMin, rec.HeartbeatMax = Duration(stale.Period(lease, 0)), Duration(stale.Period(lease, 1))
		reason("lease", lease.String(), "%s", why)
	}

	// Backoff.
	med, lmax := pr.List.Timing.Median.D(), pr.List.Timing.Max.D()
	bmin := roundUp(min(max(med, protocol.DefaultMinBackoff), time.Second), 100*time.Microsecond)
	bmax := roundUp(min(max(protocol.DefaultMaxBackoff, 10*med, 2*lmax), max(lease/8, bmin)), time.Millisecond)
	bmax = max(bmax, bmin)
	why = sprintf("a listing takes %v (median, max %v): waiting contenders poll no faster than that, and back off to the larger of 10 ms, 10 × the median and 2 × the max", med, lmax)
	if idle := min(protocol.DefaultIdleBackoff, max(lease/8, bmin)); (f.Remote || unidentified) && bmax < idle {
		// Nothing wakes a waiter on a network or FUSE filesystem (the
		// directory watch is local only): it polls, and the server serves
		// every waiter's listings.
		bmax = roundUp(idle, time.Millisecond)
		why += sprintf("; raised to %v because waiters here cannot be woken by a directory watch and poll: about 1.3 listings a second per waiter at the server (the first in line of a queue more often, the crowd at most 2 a second per waiter), and a release is still noticed within about that", bmax)
	}
	rec.MinBackoff, rec.MaxBackoff = Duration(bmin), Duration(bmax)
	reason("backoff", fmt.Sprintf("%v..%v", bmin, bmax), "%s", why)

	// Staleness rule.
	sk := r.ClockSkew
	switch {
	case sk.Samples == 0:
		reason("stale_rule", "observed", "clock skew was not measured; the observed rule never compares clocks")
	case absDur(sk.MaxAbs.D()) >= skewUnsafe || (lease > 0 && absDur(sk.MaxAbs.D()) >= lease/20):
		reason("stale_rule", "observed", "the observed rule never compares clocks")
		warn("clock skew %v: the wall-clock staleness rule is unsafe here; the observed rule is used", sk.MaxAbs)
	default:
		reason("stale_rule", "observed", "clock skew %v (±%v) is small against the lease, so wallclock would do for this client, but observed does not depend on other clients' clocks, which one probe cannot see", sk.MaxAbs, sk.Uncertainty)
	}

	// For information.
	if r.Peer != nil && r.Peer.FlockExcludes != nil && !*r.Peer.FlockExcludes {
		warn("a flock held through one client did not exclude the other: flock-based locks (flock(1), gofrs/flock) are unsafe here")
	} else if pr.Flock.Error != "" || (!pr.Flock.Works && pr.Flock.Note != "") {
		warn("flock does not work reliably here (%s): flock-based locks are unsafe here", orNA(pr.Flock.Error+pr.Flock.Note))
	}
	if !pr.RenameOver.Works {
		warn("rename over an existing file does not work here (%s): atomic-write libraries (renameio) are unsafe here", orNA(pr.RenameOver.Error+pr.RenameOver.Note))
	}
	return rec
}

// sprintf is fmt.Sprintf with durations rounded for reading.
func sprintf(format string, args ...any) string {
	for i, a := range args {
		switch v := a.(type) {
		case time.Duration:
			args[i] = human(v)
		case Duration:
			args[i] = human(v.D())
		}
	}
	return fmt.Sprintf(format, args...)
}

// human rounds d to about three significant digits, for reading.
func human(d time.Duration) string {
	a := absDur(d)
	for _, u := range []struct{ above, round time.Duration }{
		{10 * time.Second, 100 * time.Millisecond}, {time.Second, 10 * time.Millisecond},
		{10 * time.Millisecond, 100 * time.Microsecond}, {time.Millisecond, 10 * time.Microsecond},
		{10 * time.Microsecond, 100}, {time.Microsecond, 10},
	} {
		if a >= u.above {
			return d.Round(u.round).String()
		}
	}
	return d.String()
}

func orNA(s string) string {
	if s == "" {
		return "no details"
	}
	return s
}

// roundUp rounds d up to a multiple of unit (0 stays 0).
func roundUp(d, unit time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return (d + unit - 1) / unit * unit
}

// measuredListing reports whether this side of a peer run measured listing
// lags itself. With one round, only the side that led measured anything: the
// other must not read its zeros as "no lag".
func (p *PeerReport) measuredListing() bool {
	return p != nil && p.Rounds > 0 && p.CreateRTT.Samples > 0 && p.RemoveRTT.Samples > 0
}

// measuredCreateList reports whether create-then-list round trips were
// measured (this side's, or the joint verdict's).
func (p *PeerReport) measuredCreateList() bool {
	return p != nil && p.Rounds > 0 && p.CreateListRTT.Samples > 0
}

// refreshNote says what the peer found of refreshes by an own create.
func refreshNote(p *PeerReport) string {
	switch {
	case p.OwnCreateRefreshes == nil:
		return sprintf("; plain listings lagged too little (round trip %v, one create-then-list poll %v) to tell whether an own create refreshes the listing, and the settle covers the measured lag either way", p.CreateRTT.Max, p.CreateListPoll.Median)
	case *p.OwnCreateRefreshes:
		return sprintf("; a client's own create refreshes its listing here (plain listings lagged up to %v round trip, listings right after an own create up to %v), so the plain lag does not bound the settle", p.CreateRTT.Max, p.CreateListLag)
	}
	return sprintf("; a client's own create does NOT refresh its listing here (plain listings lagged up to %v round trip, listings after an own create up to %v): every listing may be that old", p.CreateRTT.Max, p.CreateListLag)
}

// measuredMtime reports whether this side measured the read-then-stat lag
// (every round trip of it completed within its bound).
func (p *PeerReport) measuredMtime() bool {
	return p != nil && p.Rounds > 0 && p.MtimeFreshRTT.Samples > 0 && p.MtimeFreshMissed == 0
}
