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
	// Drops, if set, is the assumption [Config.InModel] must name for
	// Dropped when it is not ID itself (row A1c drops A1 by a route of its
	// own). The match is exact: a sub-assumption (A3b) is not its parent
	// (A3).
	Drops string
}

// drops is the assumption the dropped configuration must lie outside of.
func (a Assumption) drops() string {
	if a.Drops != "" {
		return a.Drops
	}
	return a.ID
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
			// Its dropped configuration is outside A1 itself (InModel has
			// one check for both rows).
			ID: "A1c", Name: "create-then-list lag bounded by settle: 0 where a client's own create refreshes its cached listing (any settle), cache Δ where it does not",
			Drops: "A1",
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
	if msg := a.outsideOwn(*a.Dropped); msg != "" {
		return "dropped: " + msg
	}
	return ""
}

// outsideOwn returns "" if c lies outside the fault model for exactly the
// row's assumption (InModel names it, not another one, not a sub-assumption
// of it), and otherwise says where c lies.
func (a Assumption) outsideOwn(c Config) string {
	err := c.InModel()
	var me *ModelError
	if !errors.As(err, &me) {
		return fmt.Sprintf("inside the fault model (%v)", err)
	}
	if me.Assumption != a.drops() {
		return "drops " + me.Assumption + ", not " + a.drops() + ": " + me.Reason
	}
	return ""
}

// AuditReport is the whole matrix.
type AuditReport struct {
	Rows []AuditRow
	// Schedules is how many schedules each "holds" row ran;
	// DroppedSchedules the most each "dropped" row searched.
	Schedules, DroppedSchedules int
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
	rep := &AuditReport{Schedules: o.Schedules, DroppedSchedules: max(o.Schedules, minDropped)}
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
			d := Explore(ctx, *a.Dropped, ExploreOptions{Schedules: rep.DroppedSchedules, Workers: o.Workers})
			row.DroppedRuns = d.Schedules
			if len(d.Failures) > 0 {
				f := d.Failures[0]
				if o.ShrinkTries > 0 {
					// Shrinking must not remove the fault that puts the row
					// outside its assumption: the minimal violation would
					// then be one inside the model (or outside another).
					keep := func(c Config) bool { return a.outsideOwn(c) == "" }
					f = Shrink(ctx, f, ShrinkOptions{Tries: o.ShrinkTries, Workers: o.Workers, Keep: keep})
				} else {
					f = Replay(f)
				}
				row.DroppedFailure = f
				if msg := a.outsideOwn(f.Config); msg != "" && row.ModelErr == "" {
					row.ModelErr = "dropped, minimal configuration: " + msg
				}
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
// rerun, if not nil, describes how to rerun a dropped row's minimal
// violation (the CLI passes its command line).
func (a *AuditReport) Markdown(rerun func(c Config, seed uint64) string) string {
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
				found = fmt.Sprintf("%s after %d schedules; minimal: seed %d, %d procs, %d steps",
					f.Violations[0].Kind, r.DroppedRuns, f.Seed, f.Config.Procs, f.Steps)
				if rerun != nil {
					found += " (`" + rerun(f.Config, f.Seed) + "`)"
				}
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
