package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cryolock-go/cryolock/sim"
	"github.com/cryolock-go/cryolock/stale"
)

// simFlags are the flags of `cryolock sim`.
type simFlags struct {
	rules, stale                      string
	seed                              uint64
	schedules, workers, maxFailures   int
	out                               string
	json, noShrink, quiet, trace      bool
	procs, acquisitions               int
	kind                              string
	readFraction                      float64
	slots                             int
	lease, settle                     time.Duration
	backoff                           string
	noLostCheck                       bool
	latency, pause, hold, longHoldDur string
	longHold                          float64
	cache, gran, offset               time.Duration
	drift                             float64
	nonatomic, sameIdentity           bool
	ownRefresh                        bool
	errorRate                         float64
	errorOps                          string
	crashes, pauses                   int
	crashRate, pauseRate, hbStretch   float64
	exhaustive, holdSet               bool
	depth, limit                      int
	shrinkTries                       int
}

func newSimCmd() *cobra.Command {
	var f simFlags
	cmd := &cobra.Command{
		Use:   "sim [flags]",
		Short: "Run the protocol in the deterministic simulator and check it",
		Long: `sim runs the unchanged protocol code in simulated processes over a model
filesystem with injected faults, under a seeded scheduler, and checks every
run for mutual exclusion, progress, deadlock and litter.

With no flags it runs 10000 schedules of the default workload (4 processes
taking the lock twice, holds sometimes longer than the lease, a crash in
most runs) under rules v1. --rules legacy runs cryolock 1.x's
rules, which fail within seconds. On a violation it shrinks the failure to a
minimal configuration, prints its trace, saves trace.txt and trace.svg under
--out, and exits 1.

--exhaustive runs every schedule of a small scope depth-first (for example
--procs 2 --acquisitions 1, or --procs 3 --depth 14) with no faults, no
think time and one-second holds (or --hold).

The same flags and seed always give the same runs, byte for byte.

Exit status: 0 no violation, 1 violation found, 64 bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSim(cmd, &f) },
	}
	fl := cmd.Flags()
	def := sim.Default(sim.RulesV1)
	fl.StringVar(&f.rules, "rules", "v1", "protocol rules: v1 or legacy")
	fl.Uint64Var(&f.seed, "seed", 0, "first seed (runs use seed, seed+1, ...)")
	fl.IntVar(&f.schedules, "schedules", 10000, "number of schedules (seeds) to run")
	fl.StringVar(&f.out, "out", "", "directory for the counterexample's trace.txt and trace.svg")
	fl.BoolVar(&f.json, "json", false, "print a JSON summary instead of text")
	fl.IntVar(&f.workers, "workers", 0, "parallel runs (default: number of CPUs; results do not depend on it)")
	fl.IntVar(&f.maxFailures, "max-failures", 1, "stop after this many failing schedules (negative: never)")
	fl.BoolVar(&f.noShrink, "no-shrink", false, "report the first failing schedule as found, without shrinking")
	fl.IntVar(&f.shrinkTries, "shrink-tries", 2000, "seeds each smaller configuration gets while shrinking")
	fl.BoolVar(&f.trace, "trace", false, "print the trace of the first schedule even when it passes (with --schedules 1)")
	fl.IntVar(&f.procs, "procs", def.Procs, "simulated processes")
	fl.IntVar(&f.acquisitions, "acquisitions", def.Acquisitions, "acquisitions per process")
	fl.StringVar(&f.kind, "kind", def.Kind, "what the processes share: mutex, rw (a reader-writer lock; see --read-fraction) or semaphore (see --slots)")
	fl.Float64Var(&f.readFraction, "read-fraction", def.ReadFraction, "with --kind rw, the share of acquisitions that are reads")
	fl.IntVar(&f.slots, "slots", def.Slots, "with --kind semaphore, how many may hold at once")
	fl.DurationVar(&f.lease, "lease", def.Lease, "lease")
	fl.DurationVar(&f.settle, "settle", 0, "settle delay")
	fl.StringVar(&f.backoff, "backoff", fmt.Sprintf("%v..%v", def.MinBackoff, def.MaxBackoff), "polling backoff range MIN..MAX")
	fl.StringVar(&f.stale, "stale-rule", "observed", "staleness rule: observed or wallclock (as for cryolock run)")
	fl.StringVar(&f.stale, "stale", "observed", "old name of --stale-rule")
	_ = fl.MarkDeprecated("stale", "use --stale-rule")
	fl.BoolVar(&f.noLostCheck, "no-lost-check", false, "the workload ignores Lock.Lost (outside the fault model)")
	fl.StringVar(&f.hold, "hold", fmt.Sprintf("%v..%v", def.HoldMin, def.HoldMax), "short hold range MIN..MAX")
	fl.Float64Var(&f.longHold, "long-hold", def.LongHold, "probability that a hold is long (negative: never)")
	fl.StringVar(&f.longHoldDur, "long-hold-dur", "", "long hold range MIN..MAX (default 1.2..2 leases)")
	fl.StringVar(&f.latency, "latency", fmt.Sprintf("%v..%v", def.Faults.LatencyMin, def.Faults.LatencyMax), "filesystem latency range MIN..MAX")
	fl.DurationVar(&f.cache, "cache", 0, "per-client listing/attribute cache Δ")
	fl.DurationVar(&f.gran, "mtime-granularity", 0, "mtime granularity")
	fl.DurationVar(&f.offset, "clock-offset", def.Faults.ClockOffset, "largest wall-clock offset of a process")
	fl.Float64Var(&f.drift, "clock-drift", def.Faults.ClockDrift, "largest clock-rate error (0.1 = ±10%)")
	fl.BoolVar(&f.nonatomic, "nonatomic-write", false, "create+write in two visible steps")
	fl.BoolVar(&f.ownRefresh, "own-write-refreshes", false, "a client's own create or removal drops its cached listing (NFS, sshfs); default: it patches it (rclone)")
	fl.Float64Var(&f.errorRate, "error-rate", 0, "probability of an injected EIO/ENOSPC per primitive in --error-ops")
	fl.StringVar(&f.errorOps, "error-ops", "all", "primitives that may fail: comma-separated mkdirall,readdir,readfile,writefile,stat,chtimes,remove or all")
	fl.IntVar(&f.crashes, "crashes", def.Faults.Crashes, "most crashes per run")
	fl.Float64Var(&f.crashRate, "crash-rate", def.Faults.CrashRate, "probability that a step crashes its process")
	fl.IntVar(&f.pauses, "pauses", 0, "most pauses per run")
	fl.Float64Var(&f.pauseRate, "pause-rate", 0.005, "probability that a step pauses its process")
	fl.StringVar(&f.pause, "pause", "100ms..2s", "pause duration range MIN..MAX")
	fl.BoolVar(&f.sameIdentity, "same-identity", false, "every process has the same owner names and tickets (outside the model)")
	fl.Float64Var(&f.hbStretch, "heartbeat-stretch", 0, "stretch every heartbeat sleep by this factor (outside the model when the period passes the lease)")
	fl.BoolVar(&f.exhaustive, "exhaustive", false, "run every schedule of a small scope depth-first (faults off)")
	fl.IntVar(&f.depth, "depth", 0, "exhaustive: choice points that branch (0: unbounded)")
	fl.IntVar(&f.limit, "limit", 0, "exhaustive: stop after this many schedules (0: none)")
	cmd.AddCommand(newSimAuditCmd())
	return cmd
}

func (f *simFlags) config() (sim.Config, error) {
	var r sim.Rules
	switch f.rules {
	case "v1":
		r = sim.RulesV1
	case "legacy":
		r = sim.RulesLegacy
	default:
		return sim.Config{}, fmt.Errorf("--rules %q: want v1 or legacy", f.rules)
	}
	c := sim.Default(r)
	var err error
	c.Procs, c.Acquisitions = f.procs, f.acquisitions
	c.Kind, c.ReadFraction, c.Slots = f.kind, f.readFraction, f.slots
	c.Lease, c.Settle = f.lease, f.settle
	if c.MinBackoff, c.MaxBackoff, err = parseRange(f.backoff); err != nil {
		return c, fmt.Errorf("--backoff: %w", err)
	}
	sr, err := stale.ParseRule(f.stale)
	if err != nil {
		return c, err
	}
	c.Stale = sr
	c.NoLostCheck = f.noLostCheck
	if c.HoldMin, c.HoldMax, err = parseRange(f.hold); err != nil {
		return c, fmt.Errorf("--hold: %w", err)
	}
	c.LongHold = f.longHold
	c.LongHoldMin, c.LongHoldMax = c.Lease*6/5, 2*c.Lease
	if f.longHoldDur != "" {
		if c.LongHoldMin, c.LongHoldMax, err = parseRange(f.longHoldDur); err != nil {
			return c, fmt.Errorf("--long-hold-dur: %w", err)
		}
	}
	fa := &c.Faults
	if fa.LatencyMin, fa.LatencyMax, err = parseRange(f.latency); err != nil {
		return c, fmt.Errorf("--latency: %w", err)
	}
	fa.CacheDelta, fa.MtimeGranularity, fa.ClockOffset, fa.ClockDrift = f.cache, f.gran, f.offset, f.drift
	fa.NonAtomicWrite, fa.SameIdentity, fa.HeartbeatStretch = f.nonatomic, f.sameIdentity, f.hbStretch
	fa.OwnWriteRefreshes = f.ownRefresh
	fa.ErrorRate = f.errorRate
	if fa.ErrorOps, err = sim.ParseOps(f.errorOps); err != nil {
		return c, err
	}
	fa.Crashes, fa.CrashRate = f.crashes, f.crashRate
	fa.Pauses, fa.PauseRate = f.pauses, f.pauseRate
	if fa.PauseMin, fa.PauseMax, err = parseRange(f.pause); err != nil {
		return c, fmt.Errorf("--pause: %w", err)
	}
	if f.exhaustive {
		c.Faults = sim.Faults{}
		c.Think, c.LongHold = -1, -1
		if !f.holdSet {
			c.HoldMin, c.HoldMax = time.Second, time.Second
		}
	}
	c = c.WithDefaults()
	return c, c.Validate()
}

// simSummary is the --json output of `cryolock sim`.
type simSummary struct {
	Config         string          `json:"config"`
	Rules          string          `json:"rules"`
	Mode           string          `json:"mode"`
	FirstSeed      uint64          `json:"first_seed"`
	Schedules      int             `json:"schedules"`
	Complete       *bool           `json:"complete,omitempty"`
	Steps          int64           `json:"steps"`
	Seconds        float64         `json:"seconds"`
	SchedulesPerS  float64         `json:"schedules_per_second"`
	StepsPerS      float64         `json:"steps_per_second"`
	Violations     int             `json:"violations"`
	Stats          sim.Stats       `json:"stats"`
	Counterexample *counterexample `json:"counterexample,omitempty"`
}

// counterexample is the --json description of the minimal violation.
type counterexample struct {
	Seed    uint64   `json:"seed"`
	Kind    string   `json:"kind"`
	Message string   `json:"message"`
	Config  string   `json:"config"`
	Steps   int      `json:"steps"`
	Command string   `json:"command,omitempty"`
	Files   []string `json:"files,omitempty"`
}

func runSim(cmd *cobra.Command, f *simFlags) error {
	f.holdSet = cmd.Flags().Changed("hold")
	cfg, err := f.config()
	if err != nil {
		return exitCode(exitUsage, err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	tty := isTerminal(stderr) && !f.json
	sum := simSummary{Config: cfg.Summary(), Rules: cfg.Rules.String(), FirstSeed: f.seed}
	var fail *sim.Result
	start := time.Now()
	if f.exhaustive {
		sum.Mode = "exhaustive"
		res := sim.Exhaustive(ctx, cfg, sim.ExhaustiveOptions{Seed: f.seed, Depth: f.depth, Limit: f.limit})
		if res.Err != "" {
			return exitCode(exitFail, fmt.Errorf("simulator nondeterminism: %s", res.Err))
		}
		sum.Schedules, sum.Steps, sum.Complete = res.Schedules, res.Steps, &res.Complete
		sum.Violations = len(res.Failures)
		if len(res.Failures) > 0 {
			fail = sim.Replay(res.Failures[0])
		}
		if !f.json {
			fmt.Fprintf(stdout, "cryolock sim --exhaustive: %s\n", cfg.Summary())
			fmt.Fprintf(stdout, "explored %d distinct schedules (depth bound %d, complete %v; %d runs pruned by sleep sets) in %v\n",
				res.Schedules, f.depth, res.Complete, res.Pruned, res.Elapsed.Round(time.Millisecond))
		}
	} else {
		sum.Mode = "random"
		o := sim.ExploreOptions{Seed: f.seed, Schedules: f.schedules, Workers: f.workers, MaxFailures: f.maxFailures}
		if tty {
			o.Progress = func(p sim.Progress) {
				fmt.Fprintf(stderr, "\r%d/%d schedules, %.0f/s, %d violations, ETA %v   ", p.Done, p.Total, p.Rate(), p.Failures, p.ETA().Round(time.Second))
			}
		}
		res := sim.Explore(ctx, cfg, o)
		if tty {
			fmt.Fprintln(stderr)
		}
		sum.Schedules, sum.Steps, sum.Stats = res.Schedules, res.Steps, res.Stats
		sum.Violations = len(res.Failures)
		if !f.json {
			fmt.Fprintf(stdout, "cryolock sim: %s\n", cfg.Summary())
			fmt.Fprintf(stdout, "ran %d schedules (seeds %d..%d) in %v\n", res.Schedules, f.seed, f.seed+uint64(max(res.Schedules, 1))-1, res.Elapsed.Round(time.Millisecond))
			st := res.Stats
			fmt.Fprintf(stdout, "acquisitions %d, lock errors %d, holds lost %d, crashes %d, pauses %d, max bypass while waiting %d\n",
				st.Acquired, st.LockErrs, st.Lost, st.Crashes, st.Pauses, st.MaxBypass)
		}
		if len(res.Failures) > 0 {
			fail = res.Failures[0]
			if !f.json {
				fmt.Fprintf(stdout, "violation at seed %d: %v\n", fail.Seed, fail.Violations[0])
			}
			if f.noShrink {
				fail = sim.Replay(fail)
			} else {
				so := sim.ShrinkOptions{Tries: f.shrinkTries, Workers: f.workers}
				// Shrinking can take tens of seconds: say how it goes, in
				// place on a terminal, else one line every few seconds.
				so.Progress, so.ProgressEvery = func(p sim.ShrinkProgress) { shrinkLine(stderr, p, "\n") }, 3*time.Second
				if tty {
					fmt.Fprintf(stderr, "shrinking...\n")
					so.Progress = func(p sim.ShrinkProgress) { shrinkLine(stderr, p, "   \r") }
					so.ProgressEvery = 250 * time.Millisecond
				}
				fail = sim.Shrink(ctx, fail, so)
				if tty {
					fmt.Fprintln(stderr)
				}
			}
		} else if f.trace && res.Schedules > 0 {
			r := sim.RunWith(cfg, f.seed, sim.RunOptions{Trace: true})
			if !f.json {
				_ = r.Trace.WriteText(stdout)
			}
		}
	}
	el := time.Since(start)
	sum.Seconds = el.Seconds()
	if el > 0 {
		sum.SchedulesPerS = float64(sum.Schedules) / el.Seconds()
		sum.StepsPerS = float64(sum.Steps) / el.Seconds()
	}
	if fail == nil {
		if f.json {
			return writeJSON(stdout, sum)
		}
		fmt.Fprintf(stdout, "%d steps, %.0f schedules/s, %.0f steps/s\nno violation\n", sum.Steps, sum.SchedulesPerS, sum.StepsPerS)
		return nil
	}
	v := fail.Violations[0]
	ce := &counterexample{Seed: fail.Seed, Kind: v.Kind, Message: v.Msg, Config: fail.Config.Summary(), Steps: fail.Steps}
	if !f.exhaustive {
		ce.Command = sim.CommandFor(fail.Config, fail.Seed)
	}
	if f.out != "" {
		if err := os.MkdirAll(f.out, 0o777); err != nil {
			return exitCode(exitFail, err)
		}
		base := filepath.Join(f.out, "trace")
		if err := sim.SaveTrace(fail.Trace, base); err != nil {
			return exitCode(exitFail, err)
		}
		ce.Files = []string{base + ".txt", base + ".svg"}
	}
	sum.Counterexample = ce
	if f.json {
		if err := writeJSON(stdout, sum); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "\nminimal counterexample (%s, seed %d, %d steps):\n", fail.Config.Summary(), fail.Seed, fail.Steps)
		_ = fail.Trace.WriteText(stdout)
		if ce.Command != "" {
			fmt.Fprintf(stdout, "rerun: %s\n", ce.Command)
		}
		for _, p := range ce.Files {
			fmt.Fprintf(stdout, "saved %s\n", p)
		}
	}
	return exitCode(exitFail, fmt.Errorf("sim: %s violation found (seed %d)", v.Kind, fail.Seed))
}

// shrinkLine prints one progress report of sim.Shrink, ended by end.
func shrinkLine(w io.Writer, p sim.ShrinkProgress, end string) {
	fmt.Fprintf(w, "shrinking: %d configurations tried (%d schedules, %v), now %d procs, %d acquisitions, shortest failure %d steps%s",
		p.Tried, p.Schedules, p.Elapsed.Round(time.Second), p.Config.Procs, p.Config.Acquisitions, p.Steps, end)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newSimAuditCmd() *cobra.Command {
	var (
		schedules, workers, shrinkTries int
		out, update                     string
		jsonOut                         bool
	)
	cmd := &cobra.Command{
		Use:   "audit [flags]",
		Short: "Run the assumption matrix of docs/PROOF.md",
		Long: `audit runs, for each assumption of the protocol's correctness argument, the
default workload under rules v1 once where the assumption holds (no
violation allowed in --schedules schedules) and once where it is dropped (a
violation must be found; its minimal trace is saved under --out). It prints
the markdown table docs/PROOF.md quotes (--update docs/PROOF.md writes it
there). The guarantee and its bounds (settle, drift, lease margin) are
stated once, in docs/PROOF.md §0; every "holds" configuration is inside the
fault model that enforces them (sim.Config.InModel).

Exit status: 0 when every "holds" run is clean and every "dropped" run found
a violation, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			stderr := cmd.ErrOrStderr()
			o := sim.AuditOptions{Schedules: schedules, Workers: workers, Out: out, ShrinkTries: shrinkTries}
			if isTerminal(stderr) {
				o.Progress = func(i int, a sim.Assumption) { fmt.Fprintf(stderr, "%s %s...\n", a.ID, a.Name) }
			}
			rep, err := sim.Audit(ctx, o)
			if err != nil {
				return exitCode(exitFail, err)
			}
			if jsonOut {
				type row struct {
					ID, Name         string
					Holds, Dropped   string
					HoldsSchedules   int
					HoldsViolation   string `json:",omitempty"`
					DroppedSchedules int    `json:",omitempty"`
					DroppedViolation string `json:",omitempty"`
					DroppedCommand   string `json:",omitempty"`
					OK               bool
				}
				var rows []row
				for _, r := range rep.Rows {
					x := row{ID: r.ID, Name: r.Name, Holds: r.Holds.Summary(), HoldsSchedules: r.HoldsSchedules, OK: r.OK()}
					if r.HoldsFailure != nil {
						x.HoldsViolation = r.HoldsFailure.Violations[0].String()
					}
					if r.Dropped != nil {
						x.Dropped, x.DroppedSchedules = r.Dropped.Summary(), r.DroppedRuns
					}
					if f := r.DroppedFailure; f != nil {
						x.DroppedViolation = f.Violations[0].String()
						x.DroppedCommand = sim.CommandFor(f.Config, f.Seed)
					}
					rows = append(rows, x)
				}
				if err := writeJSON(cmd.OutOrStdout(), map[string]any{"ok": rep.OK(), "rows": rows}); err != nil {
					return err
				}
			} else {
				fmt.Fprint(cmd.OutOrStdout(), rep.Markdown())
			}
			if update != "" {
				doc, err := os.ReadFile(update)
				if err != nil {
					return exitCode(exitFail, err)
				}
				s, err := sim.ReplaceAuditSection(string(doc), rep.Section())
				if err != nil {
					return exitCode(exitFail, fmt.Errorf("%s: %w", update, err))
				}
				if err := os.WriteFile(update, []byte(s), 0o666); err != nil {
					return exitCode(exitFail, err)
				}
			}
			if !rep.OK() {
				return exitCode(exitFail, fmt.Errorf("sim audit: an assumption row did not come out as stated"))
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&schedules, "schedules", 2000, "schedules per row")
	cmd.Flags().IntVar(&workers, "workers", 0, "parallel runs (default: number of CPUs)")
	cmd.Flags().StringVar(&out, "out", "", "directory for the dropped rows' minimal traces (<ID>.txt, <ID>.svg)")
	cmd.Flags().IntVar(&shrinkTries, "shrink-tries", 500, "seeds each smaller configuration gets while shrinking a dropped row's violation (negative: no shrinking)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON instead of the markdown table")
	cmd.Flags().StringVar(&update, "update", "", "also write the table into this markdown file between the <!-- BEGIN AUDIT --> and <!-- END AUDIT --> markers (docs/PROOF.md)")
	return cmd
}
