package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cryolock-go/cryolock/fsprobe"
)

const probeLong = `Measure what the filesystem under DIR really does and recommend lock settings
that are safe there.

The probe works inside a scratch directory DIR/.cryolock-probe-<random> that it
creates and always removes (also on Ctrl-C), and touches nothing else. It
reports the filesystem type (statfs and the mount table, with the cache options
that matter: NFS actimeo/noac/lookupcache, CIFS cache=, FUSE/sshfs defaults),
which primitives work (mkdir, list, create+write, read, stat, set mtime,
remove; for comparison O_EXCL, hard links, rename-over and flock), their
timings, the mtime granularity, the clock skew between this machine and the
file server, and whether this client's listings are coherent. From these it
recommends a lease, a settle delay, backoff bounds and a staleness rule, each
with its reason, and warnings.

One client cannot see the listing lag that other clients' caches add. With
--peer, run the same command on two clients (two hosts, or two mounts of the
same directory) at the same time: the two rendezvous in DIR/.cryolock-probe-peer
and measure how long each side's creates, removals and mtime changes take to
become visible to the other, and what the lock relies on: whether a listing
made right after a client's own create shows the other's earlier create (and
whether an own create refreshes the listing at all). The side that finishes
second writes a joint verdict: both sides print the same recommendation, the
settle delay derived from the create-then-list lag and the lease from the
mtime lag.

Output: a table, or with --json one object (schema in the fsprobe package
documentation; keys include "filesystem", "primitives", "mtime_granularity",
"clock_skew", "listing", "peer" and "recommendation").

Exit status:
  0   measured; the lock can work in DIR
  1   the probe failed, or a primitive the lock needs does not work in DIR
  64  bad flags or arguments`

func newProbeCmd() *cobra.Command {
	var (
		asJSON, peer         bool
		timeout, peerTimeout time.Duration
		peerMeasure          time.Duration
		samples, rounds      int
	)
	cmd := &cobra.Command{
		Use:   "probe [--json] [--peer] DIR",
		Short: "Measure DIR's filesystem and recommend safe lock settings",
		Long:  probeLong,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(fmt.Errorf("probe: want exactly one DIR, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts := fsprobe.Options{Timeout: timeout, Samples: samples, Peer: peer, PeerTimeout: peerTimeout, PeerMeasureTimeout: peerMeasure, PeerRounds: rounds}
			return probeMain(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], opts, asJSON)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&peer, "peer", false, "also measure the lag to a peer that runs the same command (probe --peer) on the same directory")
	f.Var(newSeconds(&timeout, fsprobe.DefaultTimeout), "timeout", "time budget of the single-client probe (seconds or a duration)")
	f.Var(newSeconds(&peerTimeout, fsprobe.DefaultPeerTimeout), "peer-timeout", "time budget of the two-party measurement, waiting for the peer included (seconds or a duration)")
	f.Var(newSeconds(&peerMeasure, fsprobe.DefaultPeerMeasureTimeout), "peer-measure-timeout", "bound of each mtime measurement of the two-party mode; one not seen within it is reported as such (seconds or a duration)")
	f.IntVar(&samples, "samples", fsprobe.DefaultSamples, "timed repetitions of each primitive")
	f.IntVar(&rounds, "rounds", fsprobe.DefaultPeerRounds, "two-party rounds (each side leads every other one)")
	return cmd
}

func probeMain(ctx context.Context, w, errw io.Writer, dir string, opts fsprobe.Options, asJSON bool) error {
	for _, f := range []struct {
		flag  string
		value any
		bad   bool
	}{
		{"timeout", opts.Timeout, opts.Timeout <= 0},
		{"peer-timeout", opts.PeerTimeout, opts.PeerTimeout <= 0},
		{"peer-measure-timeout", opts.PeerMeasureTimeout, opts.PeerMeasureTimeout <= 0},
		{"samples", opts.Samples, opts.Samples <= 0},
		{"rounds", opts.PeerRounds, opts.PeerRounds <= 0},
	} {
		if f.bad {
			return usageError(fmt.Errorf("probe: --%s %v: must be positive", f.flag, f.value))
		}
	}
	if opts.Peer {
		fmt.Fprintf(errw, "cryolock probe: waiting up to %v for a peer running `cryolock probe --peer` on the same directory...\n", opts.PeerTimeout)
		opts.Progress = func(msg string) { fmt.Fprintln(errw, "cryolock probe:", printable(msg)) }
	}
	r, err := fsprobe.Probe(ctx, dir, opts)
	if r.Dir != "" && r.Primitives.Mkdir.Works {
		var werr error
		if asJSON {
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			werr = enc.Encode(r)
		} else {
			werr = printReport(w, r)
		}
		if werr != nil && err == nil {
			err = fmt.Errorf("probe: writing the report: %w", werr)
		}
	}
	if err != nil {
		return exitCode(exitFail, err) // fsprobe's errors name the operation and the path
	}
	if !r.Recommendation.Usable {
		return exitCode(exitFail, fmt.Errorf("probe: the lock cannot work in %s (see the warnings)", r.Dir))
	}
	return nil
}

// printReport writes r as a table for humans.
func printReport(out io.Writer, r fsprobe.Report) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	f := r.Filesystem
	p("Directory\t%s  (host %s, %s, probe took %s)", r.Dir, r.Host, r.Started.Format(time.RFC3339), short(r.Elapsed.D()))
	kind := "local"
	if f.Remote {
		kind = "remote or FUSE: other clients see it through caches of their own"
	}
	magic := ""
	if f.Magic != "" {
		magic = fmt.Sprintf(" (statfs %s %s)", f.Magic, f.MagicName)
	}
	p("Filesystem\t%s%s, %s", f.Type, magic, kind)
	if m := f.Mount; m != nil {
		p("Mount\t%s on %s (root %s)", m.Source, m.MountPoint, m.Root)
		p("Mount options\t%s  |  %s", strings.Join(m.Options, ","), strings.Join(m.SuperOptions, ","))
	}
	cache := func(d time.Duration, src string) string {
		if d == 0 && src == "" {
			return "none declared"
		}
		return strings.TrimSpace(short(d) + "  " + src)
	}
	p("Attribute cache\t%s", cache(f.AttrCache.D(), f.AttrCacheSource))
	p("Listing cache\t%s", cache(f.DirCache.D(), f.DirCacheSource))
	p("")
	p("Primitive\tworks\tmedian\tmax\tnote")
	row := func(n fsprobe.Named) {
		note := n.Note
		if n.Error != "" {
			note = strings.TrimSpace(n.Error + "; " + note)
			note = strings.TrimSuffix(note, ";")
		}
		med, mx := "", ""
		if n.Timing.Samples > 0 {
			med, mx = short(n.Timing.Median.D()), short(n.Timing.Max.D())
		}
		p("  %s\t%s\t%s\t%s\t%s", n.Name, yesNo(n.Works), med, mx, note)
	}
	for _, n := range r.Primitives.Required() {
		row(n)
	}
	p("For comparison (not used by cryolock):")
	for _, n := range r.Primitives.Informational() {
		row(n)
	}
	p("")
	exact := "an explicit mtime reads back exactly"
	if !r.MtimeExact {
		exact = "an explicit mtime does NOT read back exactly"
	}
	p("mtime granularity\t%s\t%s", short(r.MtimeGranularity.D()), exact)
	sk := r.ClockSkew
	p("clock skew\t%s\tlargest of %d samples (median %s, each ±%s); positive: the file server's clock is ahead", short(sk.MaxAbs.D()), sk.Samples, short(sk.Median.D()), short(sk.Uncertainty.D()))
	l := r.Listing
	lag := ""
	if l.Lag.Samples > 0 {
		lag = fmt.Sprintf("; lag up to %s", short(l.Lag.Max.D()))
	}
	p("listing (this client)\tcreated listed at once: %s, removed gone at once: %s%s", yesNo(l.CreateListedAtOnce), yesNo(l.RemoveGoneAtOnce), lag)
	if pr := r.Peer; pr != nil {
		p("")
		p("Peer %s, %d rounds\tmedian\tmax (round trips through both clients)", pr.Peer, pr.Rounds)
		st := func(name string, s fsprobe.Stats) { p("  %s\t%s\t%s", name, short(s.Median.D()), short(s.Max.D())) }
		st("create seen", pr.CreateRTT)
		st("remove seen", pr.RemoveRTT)
		mt := func(name string, s fsprobe.Stats, missed int) {
			if missed == 0 {
				st(name, s)
				return
			}
			p("  %s\t%s\t%s; %d of %d not seen within %s", name, short(s.Median.D()), short(s.Max.D()), missed, missed+s.Samples, short(pr.MeasureTimeout.D()))
		}
		mt("mtime seen (stat)", pr.MtimeRTT, pr.MtimeMissed)
		mt("mtime seen (read+stat)", pr.MtimeFreshRTT, pr.MtimeFreshMissed)
		st("one way by clocks", pr.OneWay)
		st("create, then list after own create", pr.CreateListRTT)
		p("  own create refreshes the listing\t%s", refreshes(pr.OwnCreateRefreshes))
		if pr.FlockExcludes != nil {
			p("  flock excludes the peer\t%s", yesNo(*pr.FlockExcludes))
		}
		if v := pr.Verdict; v != nil {
			j := v.Peer
			by := "the peer, which finished second"
			if v.WrittenBy != pr.Peer {
				by = "this side, which finished second"
			}
			p("")
			p("Joint verdict\t(both sides; written by %s)", by)
			st("create, then list after own create", j.CreateListRTT)
			st("create seen (plain listing)", j.CreateRTT)
			if j.MtimeFreshMissed > 0 {
				p("  mtime seen (read+stat)\t%s\t%s; %d of %d not seen within %s", short(j.MtimeFreshRTT.Median.D()), short(j.MtimeFreshRTT.Max.D()), j.MtimeFreshMissed, j.MtimeFreshMissed+j.MtimeFreshRTT.Samples, short(j.MeasureTimeout.D()))
			} else {
				st("mtime seen (read+stat)", j.MtimeFreshRTT)
			}
			p("  own create refreshes the listing\t%s", refreshes(j.OwnCreateRefreshes))
			if v.Recommendation != nil {
				p("  the recommendation below is the joint one: both sides report the same")
			}
		}
	}
	p("")
	rec := r.Recommendation
	p("Recommendation\t(usable: %s)", yesNo(rec.Usable))
	for _, rs := range rec.Reasons {
		p("  %s\t%s\t%s", rs.Setting, rs.Value, rs.Why)
	}
	if !rec.NoLease {
		p("  heartbeat\t%s–%s\t0.4–0.5 × lease; a holder that cannot refresh for 0.75 × lease is told it lost", short(rec.HeartbeatMin.D()), short(rec.HeartbeatMax.D()))
	}
	if len(rec.Warnings) > 0 {
		p("")
		p("Warnings")
		for _, s := range rec.Warnings {
			p("  - %s", s)
		}
	}
	return w.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// short rounds d to three significant digits or so for reading.
func short(d time.Duration) string {
	a := d
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case a >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case a >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case a >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case a >= 10*time.Microsecond:
		return d.Round(100 * time.Nanosecond).String()
	case a >= time.Microsecond:
		return d.Round(10 * time.Nanosecond).String()
	}
	return d.String()
}

func refreshes(b *bool) string {
	if b == nil {
		return "n/a (plain listings lagged too little to tell)"
	}
	return yesNo(*b)
}
