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
)

// simOptions are the flags of `cryolock sim` that say how to explore; the
// simulated world's flags are bound straight to cfg ([bindSimConfig]).
type simOptions struct {
	cfg                                    sim.Config
	seed                                   uint64
	schedules, workers, maxFailures, tries int
	out                                    string
	json, noShrink, trace                  bool
	exhaustive                             bool
	depth, limit                           int
}

func newSimCmd() *cobra.Command { return newSimOptions().command() }

func newSimOptions() *simOptions { return &simOptions{cfg: simDefaults()} }

// command returns `cryolock sim` with its flags bound to o.
func (o *simOptions) command() *cobra.Command {
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
		RunE: func(cmd *cobra.Command, _ []string) error { return runSim(cmd, o) },
	}
	fl := cmd.Flags()
	fl.Uint64Var(&o.seed, "seed", 0, "first seed (runs use seed, seed+1, ...)")
	fl.IntVar(&o.schedules, "schedules", 10000, "number of schedules (seeds) to run")
	fl.StringVar(&o.out, "out", "", "directory for the counterexample's trace.txt and trace.svg")
	fl.BoolVar(&o.json, "json", false, "print a JSON summary instead of text")
	fl.IntVar(&o.workers, "workers", 0, "parallel runs (default: number of CPUs; results do not depend on it)")
	fl.IntVar(&o.maxFailures, "max-failures", 1, "stop after this many failing schedules (negative: never)")
	fl.BoolVar(&o.noShrink, "no-shrink", false, "report the first failing schedule as found, without shrinking")
	fl.IntVar(&o.tries, "shrink-tries", 2000, "seeds each smaller configuration gets while shrinking")
	fl.BoolVar(&o.trace, "trace", false, "print the trace of the first schedule even when it passes (with --schedules 1)")
	fl.BoolVar(&o.exhaustive, "exhaustive", false, "run every schedule of a small scope depth-first (faults off)")
	fl.IntVar(&o.depth, "depth", 0, "exhaustive: choice points that branch (0: unbounded)")
	fl.IntVar(&o.limit, "limit", 0, "exhaustive: stop after this many schedules (0: none)")
	bindSimConfig(fl, &o.cfg)
	cmd.AddCommand(newSimAuditCmd())
	cmd.AddCommand(newSimHPCCmd()) // sim_hpc.go
	return cmd
}

// config returns the configuration the flags describe.
func (o *simOptions) config(changed func(name string) bool) (sim.Config, error) {
	if o.schedules < 1 {
		return sim.Config{}, fmt.Errorf("sim: --schedules %d: want at least 1", o.schedules)
	}
	if err := zeroMeansDefault(o.cfg, changed); err != nil {
		return sim.Config{}, err
	}
	c := o.cfg
	if o.exhaustive {
		c.Faults = sim.Faults{}
		c.Think, c.LongHold = -1, -1
		if !changed("hold") {
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
	Seed    uint64            `json:"seed"`
	Kind    sim.ViolationKind `json:"kind"`
	Message string            `json:"message"`
	Config  string            `json:"config"`
	Steps   int               `json:"steps"`
	Command string            `json:"command,omitempty"`
	Files   []string          `json:"files,omitempty"`
}

func runSim(cmd *cobra.Command, o *simOptions) error {
	cfg, err := o.config(cmd.Flags().Changed)
	if err != nil {
		return exitCode(exitUsage, err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	tty := isTerminal(stderr) && !o.json
	sum := simSummary{Config: cfg.Summary(), Rules: cfg.Rules.String(), FirstSeed: o.seed}
	var fail *sim.Result
	start := time.Now()
	if o.exhaustive {
		sum.Mode = "exhaustive"
		res := sim.Exhaustive(ctx, cfg, sim.ExhaustiveOptions{Seed: o.seed, Depth: o.depth, Limit: o.limit})
		if res.Err != "" {
			return exitCode(exitFail, fmt.Errorf("simulator nondeterminism: %s", res.Err))
		}
		sum.Schedules, sum.Steps, sum.Complete = res.Schedules, res.Steps, &res.Complete
		sum.Violations = len(res.Failures)
		if len(res.Failures) > 0 {
			fail = sim.Replay(res.Failures[0])
		}
		if !o.json {
			fmt.Fprintf(stdout, "cryolock sim --exhaustive: %s\n", cfg.Summary())
			fmt.Fprintf(stdout, "explored %d distinct schedules (depth bound %d, complete %v; %d runs pruned by sleep sets) in %v\n",
				res.Schedules, o.depth, res.Complete, res.Pruned, res.Elapsed.Round(time.Millisecond))
		}
	} else {
		sum.Mode = "random"
		eo := sim.ExploreOptions{Seed: o.seed, Schedules: o.schedules, Workers: o.workers, MaxFailures: o.maxFailures}
		if tty {
			eo.Progress = func(p sim.Progress) {
				fmt.Fprintf(stderr, "\r%d/%d schedules, %.0f/s, %d violations, ETA %v   ", p.Done, p.Total, p.Rate(), p.Failures, p.ETA().Round(time.Second))
			}
		}
		res := sim.Explore(ctx, cfg, eo)
		if tty {
			fmt.Fprintln(stderr)
		}
		sum.Schedules, sum.Steps, sum.Stats = res.Schedules, res.Steps, res.Stats
		sum.Violations = len(res.Failures)
		if !o.json {
			fmt.Fprintf(stdout, "cryolock sim: %s\n", cfg.Summary())
			fmt.Fprintf(stdout, "ran %d schedules (seeds %d..%d) in %v\n", res.Schedules, o.seed, o.seed+uint64(max(res.Schedules, 1))-1, res.Elapsed.Round(time.Millisecond))
			st := res.Stats
			fmt.Fprintf(stdout, "acquisitions %d, lock errors %d, holds lost %d, crashes %d, pauses %d, max bypass while waiting %d\n",
				st.Acquired, st.LockErrs, st.Lost, st.Crashes, st.Pauses, st.MaxBypass)
		}
		if len(res.Failures) > 0 {
			fail = res.Failures[0]
			if !o.json {
				fmt.Fprintf(stdout, "violation at seed %d: %v\n", fail.Seed, fail.Violations[0])
			}
			if o.noShrink {
				fail = sim.Replay(fail)
			} else {
				so := sim.ShrinkOptions{Tries: o.tries, Workers: o.workers}
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
		} else if o.trace && res.Schedules > 0 {
			r := sim.RunWith(cfg, o.seed, sim.RunOptions{Trace: true})
			if !o.json {
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
		if o.json {
			return writeJSON(stdout, sum)
		}
		fmt.Fprintf(stdout, "%d steps, %.0f schedules/s, %.0f steps/s\nno violation\n", sum.Steps, sum.SchedulesPerS, sum.StepsPerS)
		return nil
	}
	v := fail.Violations[0]
	ce := &counterexample{Seed: fail.Seed, Kind: v.Kind, Message: v.Msg, Config: fail.Config.Summary(), Steps: fail.Steps}
	if !o.exhaustive {
		ce.Command = simCommand(fail.Config, fail.Seed)
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o777); err != nil {
			return exitCode(exitFail, err)
		}
		base := filepath.Join(o.out, "trace")
		if err := sim.SaveTrace(fail.Trace, base); err != nil {
			return exitCode(exitFail, err)
		}
		ce.Files = []string{base + ".txt", base + ".svg"}
	}
	sum.Counterexample = ce
	if o.json {
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

// zeroMeansDefault refuses a flag given a zero that [sim.Config] reads as
// "the default" ([sim.Config.WithDefaults]): it would run the default
// silently (--read-fraction 0 ran 70% reads, --think 0 pauses of up to 2 s).
func zeroMeansDefault(c sim.Config, changed func(name string) bool) error {
	for _, z := range []struct {
		flag string
		zero bool
		want string
	}{
		{"procs", c.Procs == 0, fmt.Sprintf("1..%d", sim.MaxProcs)},
		{"acquisitions", c.Acquisitions == 0, "at least 1"},
		{"slots", c.Slots == 0, "at least 1"},
		{"read-fraction", c.ReadFraction == 0, "a share above 0 (for writes only, --kind mutex)"},
		{"lease", c.Lease == 0, "a positive duration"},
		{"long-hold", c.LongHold == 0, "a probability above 0, or a negative one for no long holds"},
		{"think", c.Think == 0, "a positive duration, or a negative one for no pause"},
		{"step", c.Step == 0, "a positive duration"},
		{"max-steps", c.MaxSteps == 0, "at least 1"},
		{"hold", c.HoldMin == 0 || c.HoldMax == 0, "bounds above 0 (1ns for holds that take no time)"},
		{"backoff", c.MinBackoff == 0 || c.MaxBackoff == 0, "bounds above 0"},
		{"hang-ops", c.Faults.HangOps == 0, "at least one primitive (for no hangs, --hangs 0)"},
	} {
		if z.zero && changed(z.flag) {
			return fmt.Errorf("sim: --%s: 0 would mean the default here; want %s", z.flag, z.want)
		}
	}
	return nil
}
