package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
	"github.com/cryolock-go/cryolock/stale"
)

// Assumption is one row of the assumption matrix: a configuration where the
// assumption holds (rules v1 must show no violation) and one where it is
// dropped (the simulator must find a violation). Dropped is nil for a
// tolerance row: a fault the protocol does not need to assume away.
type Assumption struct {
	ID      string
	Name    string
	Holds   Config
	Dropped *Config
}

// Assumptions returns the assumption matrix of docs/PROOF.md, each row
// built on the default workload ([Default]) with rules v1.
func Assumptions() []Assumption {
	base := Default(protocol.RulesV1)
	with := func(f func(*Config)) Config {
		c := base
		f(&c)
		return c.WithDefaults()
	}
	ptr := func(c Config) *Config { return &c }
	return []Assumption{
		{
			ID: "A1", Name: "listing lag bounded by settle, in real time (cache Δ ≤ settle/(1+drift))",
			Holds:   with(func(c *Config) { c.Settle, c.Faults.CacheDelta = 2400*time.Millisecond, 2*time.Second }),
			Dropped: ptr(with(func(c *Config) { c.Settle, c.Faults.CacheDelta = 0, 2*time.Second })),
		},
		{
			ID: "A2", Name: "heartbeat period < lease",
			Holds:   base,
			Dropped: ptr(with(func(c *Config) { c.Faults.HeartbeatStretch = 3 })),
		},
		{
			ID: "A3", Name: "pauses bounded well below the lease, Lost checked",
			Holds: with(func(c *Config) {
				c.Faults.Pauses, c.Faults.PauseRate = 2, 0.005
				c.Faults.PauseMin, c.Faults.PauseMax = 100*time.Millisecond, c.Lease/5
			}),
			Dropped: ptr(with(func(c *Config) {
				c.NoLostCheck = true
				c.Faults.Pauses, c.Faults.PauseRate = 2, 0.005
				c.Faults.PauseMin, c.Faults.PauseMax = c.Lease*3/2, 3*c.Lease
			})),
		},
		{
			ID: "A4", Name: "clock drift within ±10% (observed rule; offsets any)",
			Holds:   with(func(c *Config) { c.Faults.ClockDrift, c.Faults.ClockOffset = 0.1, time.Hour }),
			Dropped: ptr(with(func(c *Config) { c.Faults.ClockDrift, c.Faults.ClockOffset = 0.6, time.Hour })),
		},
		{
			ID: "A5", Name: "clock skew ≪ lease (wall-clock rule)",
			Holds:   with(func(c *Config) { c.Stale, c.Faults.ClockOffset = stale.WallClock, c.Lease/10 }),
			Dropped: ptr(with(func(c *Config) { c.Stale, c.Faults.ClockOffset = stale.WallClock, 2*c.Lease })),
		},
		{
			// Under the Observed rule a coarse mtime costs only liveness: a
			// refresh that leaves the mtime unchanged does not count, so the
			// holder is told it lost before anyone may judge it stale
			// (TestOutsideModelViolates checks that no violation follows).
			ID: "A6", Name: "mtime granularity ≪ lease (wall-clock rule)",
			Holds:   with(func(c *Config) { c.Stale, c.Faults.MtimeGranularity = stale.WallClock, 2*time.Second }),
			Dropped: ptr(with(func(c *Config) { c.Stale, c.Faults.MtimeGranularity = stale.WallClock, 2*c.Lease })),
		},
		{
			ID: "A7", Name: "unique owner names",
			Holds:   base,
			Dropped: ptr(with(func(c *Config) { c.Faults.SameIdentity = true })),
		},
		{
			ID: "A8", Name: "own-file check, heartbeat and reaping while waiting (the 1.x defects)",
			Holds:   base,
			Dropped: ptr(with(func(c *Config) { c.Rules = protocol.RulesLegacy })),
		},
		{
			ID: "T1", Name: "tolerated: create+write not atomic",
			Holds: with(func(c *Config) { c.Faults.NonAtomicWrite = true }),
		},
		{
			ID: "T2", Name: "tolerated: transient EIO/ENOSPC on every primitive",
			Holds: with(func(c *Config) { c.Faults.ErrorRate, c.Faults.ErrorOps = 0.02, AllOps }),
		},
	}
}

// AuditOptions control [Audit].
type AuditOptions struct {
	// Schedules is how many seeds each "holds" row runs, and the most
	// each "dropped" row runs looking for a violation (default 2000).
	Schedules int
	// Workers as in [ExploreOptions].
	Workers int
	// Out, if set, is a directory where each dropped row's minimal trace is
	// saved as <ID>.txt and <ID>.svg.
	Out string
	// ShrinkTries is passed to [Shrink] (default 500; negative: no shrink).
	ShrinkTries int
	// Progress, if set, is told when each row starts.
	Progress func(row int, a Assumption)
}

// AuditRow is the outcome of one assumption.
type AuditRow struct {
	Assumption
	HoldsSchedules int
	HoldsFailure   *Result // the first violation where it holds (nil: none)
	DroppedRuns    int     // schedules run before the violation was found
	DroppedFailure *Result // the minimal violation where it is dropped
	TraceFile      string  // where the minimal trace was saved
}

// OK reports whether the row came out as the proof says.
func (r AuditRow) OK() bool {
	return r.HoldsFailure == nil && (r.Dropped == nil || r.DroppedFailure != nil)
}

// AuditReport is the whole matrix.
type AuditReport struct {
	Rows      []AuditRow
	Schedules int
}

// OK reports whether every row came out as the proof says.
func (a *AuditReport) OK() bool {
	for _, r := range a.Rows {
		if !r.OK() {
			return false
		}
	}
	return true
}

// Audit runs the assumption matrix. Its outcome (and [AuditReport.Markdown])
// depends only on the options, never on timing or the number of workers.
func Audit(ctx context.Context, o AuditOptions) (*AuditReport, error) {
	if o.Schedules <= 0 {
		o.Schedules = 2000
	}
	if o.ShrinkTries == 0 {
		o.ShrinkTries = 500
	}
	if o.Out != "" {
		if err := os.MkdirAll(o.Out, 0o777); err != nil {
			return nil, err
		}
	}
	rep := &AuditReport{Schedules: o.Schedules}
	for i, a := range Assumptions() {
		if o.Progress != nil {
			o.Progress(i, a)
		}
		row := AuditRow{Assumption: a}
		h := Explore(ctx, a.Holds, ExploreOptions{Schedules: o.Schedules, Workers: o.Workers})
		row.HoldsSchedules = h.Schedules
		if len(h.Failures) > 0 {
			row.HoldsFailure = Replay(h.Failures[0])
		}
		if a.Dropped != nil {
			d := Explore(ctx, *a.Dropped, ExploreOptions{Schedules: o.Schedules, Workers: o.Workers})
			row.DroppedRuns = d.Schedules
			if len(d.Failures) > 0 {
				f := d.Failures[0]
				if o.ShrinkTries > 0 {
					f = Shrink(ctx, f, ShrinkOptions{Tries: o.ShrinkTries, Workers: o.Workers})
				} else {
					f = Replay(f)
				}
				row.DroppedFailure = f
				if o.Out != "" {
					base := filepath.Join(o.Out, a.ID)
					if err := SaveTrace(f.Trace, base); err != nil {
						return nil, err
					}
					row.TraceFile = a.ID + ".txt"
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}

// SaveTrace writes t as base.txt (text) and base.svg (swimlane picture).
func SaveTrace(t *Trace, base string) error {
	if err := os.WriteFile(base+".txt", []byte(t.Text()), 0o666); err != nil {
		return err
	}
	return os.WriteFile(base+".svg", []byte(t.SVG()), 0o666)
}

// Markdown renders the matrix as a markdown table (the one docs/PROOF.md
// quotes). It contains no timings, so it is the same on every machine.
func (a *AuditReport) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| # | Assumption | Holds: configuration | Violations | Dropped: configuration | Violation found | Outcome |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|\n")
	for _, r := range a.Rows {
		holds := fmt.Sprintf("none in %d schedules", r.HoldsSchedules)
		if r.HoldsFailure != nil {
			v := r.HoldsFailure.Violations[0]
			holds = fmt.Sprintf("**%s** at seed %d", v.Kind, r.HoldsFailure.Seed)
		}
		dcfg, found := "—", "—"
		if r.Dropped != nil {
			dcfg = "`" + diffSummary(r.Holds, *r.Dropped) + "`"
			found = fmt.Sprintf("**none** in %d schedules", r.DroppedRuns)
			if f := r.DroppedFailure; f != nil {
				found = fmt.Sprintf("%s after %d schedules; minimal: seed %d, %d procs, %d steps (`%s`)",
					f.Violations[0].Kind, r.DroppedRuns, f.Seed, f.Config.Procs, f.Steps, CommandFor(f.Config, f.Seed))
			}
		}
		outcome := "as stated"
		if !r.OK() {
			outcome = "**FAILED**"
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %s | %s | %s |\n", r.ID, r.Name, r.Holds.Summary(), holds, dcfg, found, outcome)
	}
	return b.String()
}

// diffSummary names the parts of the dropped configuration that differ from
// the holding one ("-x" for a part the dropped one lacks).
func diffSummary(h, d Config) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, f := range strings.Fields(s) {
			m[f] = true
		}
		return m
	}
	hs, ds := in(h.Summary()), in(d.Summary())
	var out []string
	for _, f := range strings.Fields(h.Summary()) {
		if !ds[f] {
			out = append(out, "-"+f)
		}
	}
	for _, f := range strings.Fields(d.Summary()) {
		if !hs[f] {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return d.Summary()
	}
	return strings.Join(out, " ")
}

// CommandFor returns the `cryolock sim` command line that reruns
// configuration c from seed (one schedule, trace saved).
func CommandFor(c Config, seed uint64) string {
	c = c.WithDefaults()
	d := Config{Rules: c.Rules}.WithDefaults()
	def := Default(c.Rules)
	var a []string
	add := func(f string, v ...any) { a = append(a, fmt.Sprintf(f, v...)) }
	add("cryolock sim --rules %v --seed %d --schedules 1", c.Rules, seed)
	switch c.Kind {
	case KindRWLock:
		add("--kind rw --read-fraction %v", c.ReadFraction)
	case KindSemaphore:
		add("--kind semaphore --slots %d", c.Slots)
	}
	if c.Procs != d.Procs {
		add("--procs %d", c.Procs)
	}
	if c.Acquisitions != d.Acquisitions {
		add("--acquisitions %d", c.Acquisitions)
	}
	if c.Lease != d.Lease {
		add("--lease %v", c.Lease)
	}
	if c.Settle != 0 {
		add("--settle %v", c.Settle)
	}
	if c.MinBackoff != d.MinBackoff || c.MaxBackoff != d.MaxBackoff {
		add("--backoff %v..%v", c.MinBackoff, c.MaxBackoff)
	}
	if c.Stale != stale.Observed {
		add("--stale %v", c.Stale)
	}
	if c.NoLostCheck {
		add("--no-lost-check")
	}
	f, df := c.Faults, def.Faults
	if f.LatencyMin != df.LatencyMin || f.LatencyMax != df.LatencyMax {
		add("--latency %v..%v", f.LatencyMin, f.LatencyMax)
	}
	if f.CacheDelta != 0 {
		add("--cache %v", f.CacheDelta)
	}
	if f.MtimeGranularity != 0 {
		add("--mtime-granularity %v", f.MtimeGranularity)
	}
	if f.ClockOffset != df.ClockOffset {
		add("--clock-offset %v", f.ClockOffset)
	}
	if f.ClockDrift != df.ClockDrift {
		add("--clock-drift %g", f.ClockDrift)
	}
	if f.NonAtomicWrite {
		add("--nonatomic-write")
	}
	if f.ErrorRate != 0 {
		add("--error-rate %g --error-ops %v", f.ErrorRate, f.ErrorOps)
	}
	if f.Crashes != df.Crashes || f.CrashRate != df.CrashRate {
		add("--crashes %d --crash-rate %g", f.Crashes, f.CrashRate)
	}
	if f.Pauses != 0 {
		add("--pauses %d --pause-rate %g --pause %v..%v", f.Pauses, f.PauseRate, f.PauseMin, f.PauseMax)
	}
	if f.SameIdentity {
		add("--same-identity")
	}
	if f.HeartbeatStretch > 1 {
		add("--heartbeat-stretch %g", f.HeartbeatStretch)
	}
	return strings.Join(a, " ")
}

// Markers delimit the generated audit section of a markdown document
// (docs/PROOF.md).
const (
	AuditBegin = "<!-- BEGIN AUDIT -->"
	AuditEnd   = "<!-- END AUDIT -->"
)

// Section is the generated audit section: the command that made it and the
// table (see [AuditReport.Markdown]).
func (a *AuditReport) Section() string {
	return fmt.Sprintf("Generated by `cryolock sim audit --schedules %d`: each \"holds\" run must show no violation in %d schedules of the default workload, each \"dropped\" run must find one (shrunk to a minimal configuration; the command reruns it).\n\n%s",
		a.Schedules, a.Schedules, a.Markdown())
}

// ReplaceAuditSection returns doc with the text between [AuditBegin] and
// [AuditEnd] replaced by section.
func ReplaceAuditSection(doc, section string) (string, error) {
	i := strings.Index(doc, AuditBegin)
	j := strings.Index(doc, AuditEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("sim: no %s ... %s markers", AuditBegin, AuditEnd)
	}
	return doc[:i+len(AuditBegin)] + "\n" + strings.TrimRight(section, "\n") + "\n" + doc[j:], nil
}
