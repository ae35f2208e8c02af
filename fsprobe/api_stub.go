package fsprobe

import (
	"context"
	"errors"
)

var errTODO = errors.New("fsprobe: not implemented yet")

// Probe measures dir (see the package documentation). It works inside a
// scratch subdirectory of dir that it creates and always removes, also when
// ctx is cancelled, and touches nothing else.
func Probe(ctx context.Context, dir string, opts Options) (Report, error) {
	return Report{}, errTODO
}

// Peer runs the two-party measurement against dir with a peer running Peer
// (or Probe with Options.Peer) on the same directory through another mount
// or host.
func Peer(ctx context.Context, dir string, opts Options) (PeerReport, error) {
	return PeerReport{}, errTODO
}

// Recommend derives a recommendation from the measurements in r (r's own
// Recommendation is ignored).
func Recommend(r Report) Recommendation { return Recommendation{} }

// Cached returns a report for the lock directory lockDir, from the cache in
// lockDir/.meta when fresh, else by probing.
func Cached(ctx context.Context, lockDir string, opts Options) (Report, error) {
	return Report{}, errTODO
}
