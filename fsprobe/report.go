package fsprobe

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cryolock-go/cryolock/internal/optionerr"
	"github.com/cryolock-go/cryolock/protocol"
	"github.com/cryolock-go/cryolock/stale"
)

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("1.5ms", "2s", "-3ms"). Unmarshalling also accepts a number of
// seconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.String.
func (d Duration) String() string { return time.Duration(d).String() }

// Seconds returns d in seconds.
func (d Duration) Seconds() float64 { return time.Duration(d).Seconds() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of seconds; a number
// a time.Duration cannot hold is an error, and null leaves d as it is (as
// encoding/json does for its own types).
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("fsprobe: bad duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("fsprobe: bad duration %s (want a string such as \"2s\" or seconds)", b)
	}
	ns := f * float64(time.Second)
	// 2^63 is exactly representable; every float below it converts.
	if !(ns >= math.MinInt64 && ns < math.MaxInt64) {
		return fmt.Errorf("fsprobe: duration %s seconds is out of range (at most about 292 years either way)", b)
	}
	*d = Duration(ns)
	return nil
}

// Stats summarises repeated measurements of one duration.
type Stats struct {
	// Samples is the number of measurements (0: not measured).
	Samples int `json:"samples"`
	// Median and Max of the measurements.
	Median Duration `json:"median"`
	Max    Duration `json:"max"`
}

// Report is what [Probe] measured of a directory and what it recommends.
// Every item is measured on the directory itself unless its field says
// otherwise (the cache times read from mount options are declared, not
// measured, and are labelled with their source). See the package
// documentation for the JSON form.
type Report struct {
	// Version is the schema version, [ReportVersion].
	Version int `json:"version"`
	// Dir is the absolute path probed.
	Dir string `json:"dir"`
	// Host is the name of the machine that ran the probe (a report is
	// only valid for the client that measured it).
	Host string `json:"host"`
	// Started is the wall-clock time the probe started; Elapsed how long
	// it took.
	Started time.Time `json:"started"`
	Elapsed Duration  `json:"elapsed"`

	// Filesystem identifies the filesystem under Dir.
	Filesystem Filesystem `json:"filesystem"`
	// Primitives says which operations work and how long they take.
	Primitives Primitives `json:"primitives"`

	// MtimeGranularity is the resolution at which the filesystem stores
	// modification times (1ns on most local filesystems, 1s or 2s on
	// some network and FAT-like ones); 0 if it could not be measured.
	MtimeGranularity Duration `json:"mtime_granularity"`
	// MtimeGranularitySeconds is MtimeGranularity in seconds.
	MtimeGranularitySeconds float64 `json:"mtime_granularity_seconds"`
	// MtimeExact reports whether an explicitly set mtime read back exactly
	// (to the nanosecond).
	MtimeExact bool `json:"mtime_set_exact"`

	// ClockSkew compares the mtime a freshly written file gets (the file
	// server's clock) with the local wall clock.
	ClockSkew Skew `json:"clock_skew"`

	// Listing is the listing coherence seen from this client alone.
	Listing Listing `json:"listing"`

	// Peer holds the two-party measurements when the probe ran with a
	// peer (Options.Peer or [Peer]); nil otherwise.
	Peer *PeerReport `json:"peer,omitempty"`

	// Recommendation is the configuration the measurements call for.
	Recommendation Recommendation `json:"recommendation"`
}

// Filesystem identifies a filesystem.
type Filesystem struct {
	// Type is a name for the filesystem: the mount's fstype where
	// /proc/self/mountinfo is readable ("ext4", "tmpfs", "nfs4",
	// "fuse.sshfs"), else the name of the statfs magic number, else
	// "unknown".
	Type string `json:"type"`
	// Magic is the statfs f_type as hex ("0xef53"); "" where the platform
	// has no statfs.
	Magic string `json:"statfs_magic,omitempty"`
	// MagicName is the name of the statfs magic ("ext2/3/4", "tmpfs",
	// "nfs", "fuse", ...), or "" if unknown.
	MagicName string `json:"statfs_name,omitempty"`
	// Mount is the mountinfo entry of the mount holding Dir, or nil.
	Mount *Mount `json:"mount,omitempty"`
	// Remote reports whether other clients may reach this directory
	// through caches of their own (network and FUSE filesystems): then
	// one client cannot see the listing lag others suffer, and the
	// two-party mode is the only measurement of it.
	Remote bool `json:"remote"`
	// AttrCache is how long a client may serve a stale mtime, as declared
	// by the mount options or known defaults (see AttrCacheSource); 0 if
	// attributes are not cached or nothing is known.
	AttrCache Duration `json:"attr_cache"`
	// AttrCacheSource says where AttrCache comes from ("mount option
	// acregmax=60", "sshfs default cache_timeout", ...).
	AttrCacheSource string `json:"attr_cache_source,omitempty"`
	// DirCache is how long a client may serve a stale listing, as declared
	// by the mount options or known defaults; 0 if none.
	DirCache Duration `json:"dir_cache"`
	// DirCacheSource says where DirCache comes from.
	DirCacheSource string `json:"dir_cache_source,omitempty"`
	// ReadChecksum is set for an rclone mount that checks what a read
	// returned against the remote object's hash (rclone's default; the
	// mount has no --no-checksum): where the remote keeps modification
	// times in whole seconds (sftp), a small file that another client
	// rewrote at the same size within the second keeps its old hash in
	// this mount's cache, and reads of it fail with EIO for a while. Not
	// the lock's concern (it reads no file's contents to decide): the
	// data's that the lock guards.
	ReadChecksum bool `json:"read_checksum,omitempty"`
}

// Mount is one entry of /proc/self/mountinfo.
type Mount struct {
	MountPoint string `json:"mount_point"`
	// Root is the root of the mount within its filesystem (not "/" for a
	// bind mount of a subdirectory).
	Root   string `json:"root"`
	FSType string `json:"fstype"`
	Source string `json:"source"`
	// Options are the per-mount options ("rw,relatime"); SuperOptions the
	// filesystem's own ("vers=4.2,actimeo=3,...").
	Options      []string `json:"options"`
	SuperOptions []string `json:"super_options"`
}

// Primitive is how one operation behaved in the probe.
type Primitive struct {
	// Works reports whether every attempt succeeded (for the
	// informational capabilities: whether the operation has the semantics
	// lock libraries rely on, see Primitives).
	Works bool `json:"works"`
	// Error is the first failure, if any.
	Error string `json:"error,omitempty"`
	// Timing of the successful attempts (zero for the capabilities that
	// are not timed).
	Timing Stats `json:"timing,omitzero"`
	// Note adds what the probe learnt beyond works/fails.
	Note string `json:"note,omitempty"`
}

// Primitives are the operations the protocol needs (the methods of
// protocol.FS) and, for information and comparison, those other locks rely
// on and cryolock does not.
type Primitives struct {
	Mkdir    Primitive `json:"mkdir"`
	List     Primitive `json:"list"`
	Create   Primitive `json:"create_write"`
	Read     Primitive `json:"read"`
	Stat     Primitive `json:"stat"`
	SetMtime Primitive `json:"set_mtime"`
	Remove   Primitive `json:"remove"`

	// Excl: creating with O_EXCL succeeds once and then fails with
	// EEXIST (informational).
	Excl Primitive `json:"o_excl"`
	// HardLink: link() succeeds and the link count reads 2.
	HardLink Primitive `json:"hard_link"`
	// RenameOver: rename() onto an existing file replaces it and the
	// source name is gone (what renameio relies on).
	RenameOver Primitive `json:"rename_over"`
	// Flock: flock(LOCK_EX) succeeds and a second open file description
	// of the same file is refused LOCK_EX|LOCK_NB. Seen from one client
	// only: it says nothing of exclusion between clients (the two-party
	// mode tests that).
	Flock Primitive `json:"flock"`
}

// Required returns the primitives the protocol needs, by name, in a fixed
// order.
func (p Primitives) Required() []Named {
	return []Named{
		{"mkdir", p.Mkdir}, {"list", p.List}, {"create_write", p.Create}, {"read", p.Read},
		{"stat", p.Stat}, {"set_mtime", p.SetMtime}, {"remove", p.Remove},
	}
}

// Informational returns the capabilities the protocol does not use, by
// name, in a fixed order.
func (p Primitives) Informational() []Named {
	return []Named{{"o_excl", p.Excl}, {"hard_link", p.HardLink}, {"rename_over", p.RenameOver}, {"flock", p.Flock}}
}

// Named is a primitive with its JSON name.
type Named struct {
	Name string
	Primitive
}

// Skew is the clock skew between the local wall clock and the clock that
// stamps a freshly written file: mtime minus the local time, taken as zero
// when the mtime falls between the local readings before and after the
// write. Positive: the server's clock is ahead.
type Skew struct {
	Samples int `json:"samples"`
	// Median and MaxAbs summarise the samples (MaxAbs keeps its sign:
	// it is the sample of largest magnitude).
	Median Duration `json:"median"`
	MaxAbs Duration `json:"max_abs"`
	// MaxAbsSeconds is MaxAbs in seconds.
	MaxAbsSeconds float64 `json:"max_abs_seconds"`
	// Uncertainty bounds the error of one sample: the longest write plus
	// the mtime granularity.
	Uncertainty Duration `json:"uncertainty"`
}

// Listing is the coherence of listings seen from the probing client alone:
// is a file it created listed at once, and a file it removed gone at once?
type Listing struct {
	Samples int `json:"samples"`
	// CreateListedAtOnce and RemoveGoneAtOnce report whether every sample
	// was coherent on the first listing after the operation.
	CreateListedAtOnce bool `json:"create_listed_at_once"`
	RemoveGoneAtOnce   bool `json:"remove_gone_at_once"`
	// Lag is how long incoherent samples took to become coherent (zero
	// samples when every listing was coherent at once).
	Lag Stats `json:"lag"`
}

// PeerReport is what the two-party mode measured between this client and a
// peer working on the same directory through another mount or host. Times
// are round trips, measured on this side's monotonic clock only: one side
// acts, the other polls until it sees the act and answers in kind, and the
// first side polls until it sees the answer. Each one-way lag is at most
// the round trip, whatever the two clocks say.
type PeerReport struct {
	// Peer is the peer's session id; Rounds the rounds completed (this
	// side led every other one).
	Peer   string `json:"peer"`
	Rounds int    `json:"rounds"`
	// CreateRTT: a file created on one side appears in the other side's
	// listing, and back.
	CreateRTT Stats `json:"create_round_trip"`
	// RemoveRTT: a file removed on one side disappears from the other
	// side's listing, and back.
	RemoveRTT Stats `json:"remove_round_trip"`
	// MtimeRTT: an mtime set on one side is seen by the other side's plain
	// stat, and back.
	MtimeRTT Stats `json:"mtime_round_trip"`
	// MtimeFreshRTT: as MtimeRTT, but the observer reads the file before
	// each stat, as the lock does before breaking an entry (on
	// close-to-open filesystems the read revalidates the attributes).
	MtimeFreshRTT Stats `json:"mtime_fresh_round_trip"`
	// ListingLag is the larger of the create and remove round trips' max:
	// an upper bound of the listing lag between the two clients.
	ListingLag Duration `json:"listing_lag"`
	// ListingLagSeconds is ListingLag in seconds.
	ListingLagSeconds float64 `json:"listing_lag_seconds"`
	// MtimeLag and MtimeFreshLag are the max of MtimeRTT and
	// MtimeFreshRTT: upper bounds of how old an mtime seen through the
	// other client can be.
	MtimeLag      Duration `json:"mtime_lag"`
	MtimeFreshLag Duration `json:"mtime_fresh_lag"`
	// MtimeMissed and MtimeFreshMissed count the mtime round trips (plain
	// stat, read+stat) that did not complete within their bound: the
	// other side did not see the mtime within MeasureTimeout, or its answer
	// did not come back within twice that. They are findings, not errors
	// (a client holding a delegation may never see another's change); the
	// round trips above then cover only those that completed, and the
	// recommendation does not trust the read+stat lag (see [Recommend]).
	MtimeMissed      int `json:"mtime_round_trips_not_seen,omitempty"`
	MtimeFreshMissed int `json:"mtime_fresh_round_trips_not_seen,omitempty"`
	// MeasureTimeout is the one-way bound of each mtime measurement
	// (Options.PeerMeasureTimeout).
	MeasureTimeout Duration `json:"measure_timeout,omitempty"`
	// OneWay is the one-way listing lag estimated from the two wall clocks
	// (the actor writes its time into the file): informational, wrong by
	// the clock skew between the two clients.
	OneWay Stats `json:"one_way_by_clocks"`
	// FlockExcludes reports whether a flock held on one side refused the
	// other side's LOCK_EX|LOCK_NB; nil if not tested (no flock).
	FlockExcludes *bool `json:"flock_excludes_peer,omitempty"`

	// CreateListRTT is what the lock's rule C4 relies on (docs/PROOF.md,
	// A1): a file created on one side appears in a listing the other side
	// makes right after a create of its own, and back (each side's answer
	// is its own create). Each one-way create-then-list lag is at most the
	// round trip.
	CreateListRTT Stats `json:"create_then_list_round_trip"`
	// CreateListLag is CreateListRTT's max: the bound the settle delay
	// must cover. CreateListLagSeconds is it in seconds.
	CreateListLag        Duration `json:"create_then_list_lag"`
	CreateListLagSeconds float64  `json:"create_then_list_lag_seconds"`
	// CreateListPoll is the time of one poll of the create-then-list
	// measurement (create a marker, list, remove the marker).
	CreateListPoll Stats `json:"create_then_list_poll"`
	// OwnCreateRefreshes reports whether a client's own create in the
	// directory refreshes its view of it: true if plain listings lagged
	// (CreateRTT of 50 ms or more) and the create-then-list round trip was
	// under half the plain one; false if plain listings lagged by 50 ms
	// and 8 median polls or more and the create-then-list round trip was
	// at least half the plain one; nil otherwise (plain listings lagged
	// too little to tell: nothing to refresh).
	OwnCreateRefreshes *bool `json:"own_create_refreshes,omitempty"`

	// Verdict is the joint verdict both sides agreed on (nil if the run
	// did not get that far).
	Verdict *Verdict `json:"joint_verdict,omitempty"`
}

// Recommendation is a configuration for the lock derived from a [Report],
// with the reason for each choice.
type Recommendation struct {
	// Usable is false when a primitive the protocol needs fails: the lock
	// cannot work in this directory (Warnings say which).
	Usable bool `json:"usable"`
	// Lease, Settle and the backoff bounds are the values of the protocol
	// options of the same names (protocol.WithLease, WithSettle,
	// WithBackoff).
	Lease         Duration `json:"lease"`
	LeaseSeconds  float64  `json:"lease_seconds"`
	NoLease       bool     `json:"no_lease,omitempty"`
	Settle        Duration `json:"settle"`
	SettleSeconds float64  `json:"settle_seconds"`
	MinBackoff    Duration `json:"min_backoff"`
	MaxBackoff    Duration `json:"max_backoff"`
	// StaleRule is the staleness rule, "observed" or "wallclock".
	StaleRule string `json:"stale_rule"`
	// Heartbeat is the resulting heartbeat period range, for information
	// (0.4–0.5 × Lease).
	HeartbeatMin Duration `json:"heartbeat_min"`
	HeartbeatMax Duration `json:"heartbeat_max"`
	// Reasons explain each choice, in plain language.
	Reasons []Reason `json:"reasons"`
	// Warnings are what a user must know about this filesystem.
	Warnings []string `json:"warnings"`
}

// Reason explains one setting of a [Recommendation].
type Reason struct {
	Setting string `json:"setting"` // "lease", "settle", "backoff", "stale_rule"
	Value   string `json:"value"`
	Why     string `json:"why"`
}

// Options returns the recommendation as protocol options (lease, settle,
// backoff and staleness rule only), to pass to protocol.New before or after
// options of one's own. An unknown staleness rule or a zero lease (a
// hand-edited report) leaves the protocol's default. A recommendation that
// is not Usable (the probe found that the lock cannot work there) makes
// protocol.New fail with an error wrapping [protocol.ErrConfig] that gives
// the warnings: no settings make the lock safe there.
func (r Recommendation) Options() []protocol.Option {
	if !r.Usable {
		why := "no reason given"
		if len(r.Warnings) > 0 {
			why = strings.Join(r.Warnings, "; ")
		}
		refuse := optionerr.Refuse(fmt.Errorf("the probe's recommendation is not usable: the lock cannot work on this filesystem (%s)", why))
		return []protocol.Option{refuse.(protocol.Option)}
	}
	opts := []protocol.Option{
		protocol.WithSettle(r.Settle.D()),
		protocol.WithBackoff(r.MinBackoff.D(), r.MaxBackoff.D()),
	}
	if rule, err := stale.ParseRule(r.StaleRule); err == nil {
		opts = append(opts, protocol.WithStaleRule(rule))
	}
	switch {
	case r.NoLease:
		opts = append(opts, protocol.WithoutLease())
	case r.Lease != 0: // protocol.WithLease(0) is an error, not the default
		opts = append(opts, protocol.WithLease(r.Lease.D()))
	}
	return opts
}

// WithReport returns one protocol option that applies r's recommendation
// (lease, settle, backoff, staleness rule) and leaves every other setting
// alone; if the recommendation is not Usable, protocol.New fails with an
// error wrapping [protocol.ErrConfig] (see [Recommendation.Options]):
//
//	l, err := protocol.New(path, fsprobe.WithReport(report), protocol.WithLogger(log))
func WithReport(r Report) protocol.Option {
	return protocol.WithOptions(r.Recommendation.Options()...)
}

// WithPeer returns a copy of r with the two-party measurement p attached and
// the recommendation recomputed: for a probe of one mount and a [Peer] run
// made separately (for example by a test driving both sides).
func (r Report) WithPeer(p PeerReport) Report {
	r.Peer = &p
	r.Recommendation = Recommend(r)
	return r
}
