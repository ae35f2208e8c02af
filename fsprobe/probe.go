package fsprobe

import (
	"errors"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// Defaults of [Options].
const (
	DefaultTimeout     = 5 * time.Second
	DefaultSamples     = 7
	DefaultPeerTimeout = 2 * time.Minute
	DefaultPeerRounds  = 4
	DefaultCacheMaxAge = 24 * time.Hour
)

// ScratchPrefix starts the name of the scratch directory [Probe] creates in
// the probed directory (followed by a random suffix); [PeerDirName] is the
// fixed scratch directory of the two-party mode.
const (
	ScratchPrefix = ".cryolock-probe-"
	PeerDirName   = ".cryolock-probe-peer"
)

// ErrUnusable is wrapped by errors about a directory the probe cannot work
// in at all (missing, not a directory, not writable).
var ErrUnusable = errors.New("directory unusable for probing")

// Options configure [Probe], [Peer] and [Cached]. The zero value means every
// default.
type Options struct {
	// Timeout bounds the single-client probe (default 5 s). Sampling
	// stops early when its share of the budget is used; if the budget
	// runs out altogether, Probe returns an error wrapping
	// context.DeadlineExceeded (after cleaning up).
	Timeout time.Duration
	// Samples is the number of timed repetitions of each primitive
	// (default 7).
	Samples int
	// FS performs the protocol's primitives (default protocol.OSFS()).
	// The informational checks (O_EXCL, link, rename, flock), statfs and
	// the mount table always use the operating system.
	FS protocol.FS
	// Peer makes Probe also run the two-party measurement ([Peer]) and
	// fold it into the report and the recommendation.
	Peer bool
	// PeerTimeout bounds the two-party measurement, waiting for the peer
	// included (default 2 min).
	PeerTimeout time.Duration
	// PeerRounds is the number of two-party rounds (default 4; each side
	// leads every other round).
	PeerRounds int
	// CacheMaxAge is how long [Cached] trusts a stored report (default
	// 24 h).
	CacheMaxAge time.Duration

	// step, if set, is called at every step of the probe (tests cancel
	// the context from it).
	step func(name string)
}
