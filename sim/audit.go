package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	base := Default(RulesV1)
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
			// The create-then-list form of A1: what the settle must cover
			// is the lag of a listing made right after the client's own
			// create, 0 where that create refreshes the cached listing.
			ID: "A1c", Name: "create-then-list lag bounded by settle: 0 where a client's own create refreshes its cached listing (any settle), cache Δ where it does not",
			Holds: with(func(c *Config) { c.Settle, c.Faults.CacheDelta, c.Faults.OwnWriteRefreshes = 0, 2*time.Second, true }),
			Dropped: ptr(with(func(c *Config) {
				c.Settle, c.Faults.CacheDelta, c.Faults.OwnWriteRefreshes = time.Second, 2*time.Second, false
			})),
		},
		{
			ID: "A2", Name: "heartbeat period < lease",
			Holds:   base,
			Dropped: ptr(with(func(c *Config) { c.Faults.HeartbeatStretch = 3 })),
		},
		{
			ID: "A3", Name: "pauses within the margin (2D + 2ρL ≤ L/4, pauses chained), Lost checked",
			Holds: with(func(c *Config) {
				c.Faults.Pauses, c.Faults.PauseRate = 2, 0.005
				c.Faults.PauseMin, c.Faults.PauseMax = 100*time.Millisecond, 550*time.Millisecond
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
			ID: "A5", Name: "clock skew within the margin (wall-clock rule; no drift)",
			Holds:   with(func(c *Config) { c.Stale, c.Faults.ClockOffset, c.Faults.ClockDrift = stale.WallClock, c.Lease/10, 0 }),
			Dropped: ptr(with(func(c *Config) { c.Stale, c.Faults.ClockOffset, c.Faults.ClockDrift = stale.WallClock, 2*c.Lease, 0 })),
		},
		{
			// Under the Observed rule a coarse mtime costs only liveness: a
			// refresh that does not advance the mtime does not count, so the
			// holder is told it lost before anyone may judge it stale
			// (Invariant M; TestCoarseMtimesCostOnlyLiveness).
			ID: "A6", Name: "mtime granularity ≪ lease (wall-clock rule; no drift)",
			Holds: with(func(c *Config) {
				c.Stale, c.Faults.MtimeGranularity, c.Faults.ClockDrift = stale.WallClock, time.Second, 0
			}),
			Dropped: ptr(with(func(c *Config) {
				c.Stale, c.Faults.MtimeGranularity, c.Faults.ClockDrift = stale.WallClock, 2*c.Lease, 0
			})),
		},
		{
			ID: "A7", Name: "unique owner names",
			Holds:   base,
			Dropped: ptr(with(func(c *Config) { c.Faults.SameIdentity = true })),
		},
		{
			ID: "A8", Name: "own-file check, heartbeat and reaping while waiting (the 1.x defects)",
			Holds:   base,
			Dropped: ptr(with(func(c *Config) { c.Rules = RulesLegacy })),
		},
		{
			ID: "T1", Name: "tolerated: create+write not atomic",
			Holds: with(func(c *Config) { c.Faults.NonAtomicWrite = true }),
		},
		{
			ID: "T2", Name: "tolerated: transient EIO/ENOSPC on every primitive",
			Holds: with(func(c *Config) { c.Faults.ErrorRate, c.Faults.ErrorOps = 0.02, AllOps }),
		},
		{
			ID: "T3", Name: "tolerated: hung calls, wall-clock steps (observed rule), offsets near one period, ticket ties, TryLock",
			Holds: with(func(c *Config) { tolerated(c) }),
		},
	}
}

// tolerated switches on the faults of row T3: inside the model, though
// the proof's margin does not budget for them (the watchdog tells a holder
// whose refresh hangs; the Observed rule never compares wall clocks; ties
// and TryLock are not safety mechanisms).
func tolerated(c *Config) {
	c.TryLock = 0.3
	f := &c.Faults
	f.Hangs, f.HangRate, f.HangMin, f.HangMax = 2, 0.002, c.Lease/2, 2*c.Lease
	f.WallSteps, f.WallStepRate, f.WallStepMax = 2, 0.005, c.Lease
	f.OffsetNearPeriod = 0.5
	f.Tickets = 3
}

// minDropped is the fewest schedules a "dropped" row searches for its
// violation, whatever AuditOptions.Schedules says: the search stops at the
// first violation, so a small --schedules does not make a row fail for
// want of tries (the legacy row needs 77).
const minDropped = 2000

// AuditOptions control [Audit].
type AuditOptions struct {
	// Schedules is how many seeds each "holds" row runs, and the most
	// each "dropped" row runs looking for a violation (default 2000; at
	// least 2000 for the dropped rows).
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
	// ModelErr says what is wrong with the row's configurations: the
	// holding one outside the fault model ([Config.InModel]), or the
	// dropped one inside it or outside it for another assumption.
	ModelErr       string
	HoldsSchedules int
	HoldsFailure   *Result // the first violation where it holds (nil: none)
	DroppedRuns    int     // schedules run before the violation was found
	DroppedFailure *Result // the minimal violation where it is dropped
	TraceFile      string  // where the minimal trace was saved
}

// OK reports whether the row came out as the proof says.
func (r AuditRow) OK() bool {
	return r.ModelErr == "" && r.HoldsFailure == nil && (r.Dropped == nil || r.DroppedFailure != nil)
}

// modelErr checks a row against the fault model: the holding configuration
// inside it, the dropped one outside it for the row's own assumption.
func (a Assumption) modelErr() string {
	if err := a.Holds.InModel(); err != nil {
		return "holds: " + err.Error()
	}
	if a.Dropped == nil {
		return ""
	}
	err := a.Dropped.InModel()
	var me *ModelError
	if !errors.As(err, &me) {
		return fmt.Sprintf("dropped: inside the fault model (%v)", err)
	}
	if !strings.HasPrefix(me.Assumption, a.ID) {
		return "dropped: drops " + me.Assumption + ", not " + a.ID + ": " + me.Reason
	}
	return ""
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
		row := AuditRow{Assumption: a, ModelErr: a.modelErr()}
		h := Explore(ctx, a.Holds, ExploreOptions{Schedules: o.Schedules, Workers: o.Workers})
		row.HoldsSchedules = h.Schedules
		if len(h.Failures) > 0 {
			row.HoldsFailure = Replay(h.Failures[0])
		}
		if a.Dropped != nil {
			d := Explore(ctx, *a.Dropped, ExploreOptions{Schedules: max(o.Schedules, minDropped), Workers: o.Workers})
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
			if r.ModelErr != "" {
				outcome += ": " + r.ModelErr
			}
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
// configuration c from seed (one schedule, trace saved): every field that
// differs from the command's defaults becomes a flag, so that the command,
// parsed back, gives c again. Fields without a flag of `cryolock sim` yet
// still print (with the flag names of [CommandArgs]), so that a command
// that cannot reproduce the run fails loudly instead of running another one.
func CommandFor(c Config, seed uint64) string {
	return "cryolock sim " + strings.Join(CommandArgs(c, seed), " ")
}

// CommandArgs is [CommandFor]'s arguments after "cryolock sim".
func CommandArgs(c Config, seed uint64) []string {
	c = c.WithDefaults()
	d := Config{Rules: c.Rules}.WithDefaults()
	def := Default(c.Rules)
	var a []string
	add := func(f string, v ...any) { a = append(a, strings.Fields(fmt.Sprintf(f, v...))...) }
	add("--rules %v --seed %d --schedules 1", c.Rules, seed)
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
		add("--stale-rule %v", c.Stale)
	}
	if c.NoLostCheck {
		add("--no-lost-check")
	}
	if c.HoldMin != d.HoldMin || c.HoldMax != d.HoldMax {
		add("--hold %v..%v", c.HoldMin, c.HoldMax)
	}
	if c.LongHold != d.LongHold {
		add("--long-hold=%g", c.LongHold) // "=": the value may be negative
	}
	if c.LongHoldMin != c.Lease*6/5 || c.LongHoldMax != 2*c.Lease {
		add("--long-hold-dur %v..%v", c.LongHoldMin, c.LongHoldMax)
	}
	if c.Think != d.Think {
		add("--think=%v", c.Think)
	}
	if c.Step != d.Step {
		add("--step %v", c.Step)
	}
	if c.TryLock != 0 {
		add("--trylock %g", c.TryLock)
	}
	if c.MaxSteps != d.MaxSteps {
		add("--max-steps %d", c.MaxSteps)
	}
	if c.MaxTime != 0 {
		add("--max-time %v", c.MaxTime)
	}
	f, df := c.Faults, def.Faults
	if f.LatencyMin != df.LatencyMin || f.LatencyMax != df.LatencyMax {
		add("--latency %v..%v", f.LatencyMin, f.LatencyMax)
	}
	if f.CacheDelta != 0 {
		add("--cache %v", f.CacheDelta)
	}
	if f.OwnWriteRefreshes {
		add("--own-write-refreshes")
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
	if f.Hangs != 0 {
		add("--hangs %d --hang-rate %g --hang %v..%v --hang-ops %v", f.Hangs, f.HangRate, f.HangMin, f.HangMax, f.hangOps())
	}
	if f.WallSteps != 0 {
		add("--wall-steps %d --wall-step-rate %g --wall-step %v", f.WallSteps, f.WallStepRate, f.WallStepMax)
	}
	if f.OffsetNearPeriod != 0 {
		add("--offset-near-period %g", f.OffsetNearPeriod)
	}
	if f.Tickets != 0 {
		add("--tickets %d", f.Tickets)
	}
	if f.ToldDelay != 0 {
		add("--told-delay=%v", f.ToldDelay)
	}
	return a
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
	return fmt.Sprintf("Generated by `cryolock sim audit --schedules %d`: each \"holds\" configuration must lie inside the fault model (`sim.Config.InModel`) and show no violation in %d schedules of the default workload; each \"dropped\" configuration must lie outside it for that row's assumption and a violation must be found within %d schedules (shrunk to a minimal configuration; the command reruns it).\n\n%s",
		a.Schedules, a.Schedules, max(a.Schedules, minDropped), a.Markdown())
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
