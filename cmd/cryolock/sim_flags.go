package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/cryolock-go/cryolock/sim"
)

// simDefaults is the configuration the flags of `cryolock sim` start from:
// [sim.Default], except that the long holds follow --lease unless
// --long-hold-dur names them.
func simDefaults() sim.Config {
	c := sim.Default(sim.RulesV1)
	c.LongHoldMin, c.LongHoldMax = 0, 0 // sim.Config.WithDefaults derives them from the lease
	return c
}

// bindSimConfig defines a flag for every field of c (and of c.Faults),
// bound straight to it: parsing the flags sets the fields, and each flag's
// default is the field's value now. The same table turns a configuration
// back into flags ([simArgs]).
func bindSimConfig(fl *pflag.FlagSet, c *sim.Config) {
	f := &c.Faults
	fl.TextVar(&c.Rules, "rules", c.Rules, "protocol `rules`: v1 or legacy (cryolock 1.x)")
	fl.IntVar(&c.Procs, "procs", c.Procs, "simulated processes")
	fl.IntVar(&c.Acquisitions, "acquisitions", c.Acquisitions, "acquisitions per process")
	fl.TextVar(&c.Kind, "kind", c.Kind, "`kind` of lock the processes share: mutex, rw (a reader-writer lock; see --read-fraction) or semaphore (see --slots)")
	fl.Float64Var(&c.ReadFraction, "read-fraction", c.ReadFraction, "with --kind rw, the share of acquisitions that are reads")
	fl.IntVar(&c.Slots, "slots", c.Slots, "with --kind semaphore, how many may hold at once")
	fl.DurationVar(&c.Lease, "lease", c.Lease, "lease")
	fl.DurationVar(&c.Settle, "settle", c.Settle, "settle delay")
	fl.Var(newRange(&c.MinBackoff, &c.MaxBackoff), "backoff", "polling backoff range MIN..MAX")
	fl.TextVar(&c.Stale, "stale-rule", c.Stale, "staleness `rule`: observed or wallclock (as for cryolock run)")
	fl.TextVar(&c.Stale, "stale", c.Stale, "old name of --stale-rule")
	_ = fl.MarkDeprecated("stale", "use --stale-rule")
	fl.BoolVar(&c.NoLostCheck, "no-lost-check", c.NoLostCheck, "the workload ignores Lock.Lost (outside the fault model)")
	fl.Var(newRange(&c.HoldMin, &c.HoldMax), "hold", "short hold range MIN..MAX")
	fl.Float64Var(&c.LongHold, "long-hold", c.LongHold, "probability that a hold is long (negative: never)")
	fl.Var(rangeValue{&c.LongHoldMin, &c.LongHoldMax, true}, "long-hold-dur", "long hold range MIN..MAX (default 1.2..2 leases)")
	fl.DurationVar(&c.Think, "think", c.Think, "longest pause between two acquisitions (negative: none)")
	fl.DurationVar(&c.Step, "step", c.Step, "length of one step of the critical section (touch the data, then check Lock.Lost)")
	fl.Float64Var(&c.TryLock, "trylock", c.TryLock, "share of acquisitions made with TryLock before falling back to Lock")
	fl.IntVar(&c.MaxSteps, "max-steps", c.MaxSteps, "steps a run may take before it violates progress")
	fl.DurationVar(&c.MaxTime, "max-time", c.MaxTime, "virtual time a run may take before it violates progress (0: computed from the workload)")

	fl.Var(newRange(&f.LatencyMin, &f.LatencyMax), "latency", "filesystem latency range MIN..MAX")
	fl.DurationVar(&f.CacheDelta, "cache", f.CacheDelta, "per-client listing/attribute cache Δ")
	fl.DurationVar(&f.MtimeGranularity, "mtime-granularity", f.MtimeGranularity, "mtime granularity")
	fl.DurationVar(&f.ClockOffset, "clock-offset", f.ClockOffset, "largest wall-clock offset of a process")
	fl.Float64Var(&f.ClockDrift, "clock-drift", f.ClockDrift, "largest clock-rate error (0.1 = ±10%)")
	fl.BoolVar(&f.NonAtomicWrite, "nonatomic-write", f.NonAtomicWrite, "create+write in two visible steps")
	fl.BoolVar(&f.NulTail, "nul-tail", f.NulTail, "with --nonatomic-write, a third visible step between them: the final size, read as NUL bytes")
	fl.BoolVar(&f.OwnWriteRefreshes, "own-write-refreshes", f.OwnWriteRefreshes, "a client's own create or removal drops its cached listing (NFS, sshfs); default: it patches it (rclone)")
	fl.Float64Var(&f.ErrorRate, "error-rate", f.ErrorRate, "probability of an injected EIO/ENOSPC per primitive in --error-ops")
	fl.TextVar(&f.ErrorOps, "error-ops", f.ErrorOps, "`primitives` that may fail: comma-separated mkdirall,readdir,readfile,writefile,stat,chtimes,remove or all")
	fl.IntVar(&f.Crashes, "crashes", f.Crashes, "most crashes per run")
	fl.Float64Var(&f.CrashRate, "crash-rate", f.CrashRate, "probability that a step crashes its process")
	fl.IntVar(&f.Pauses, "pauses", f.Pauses, "most pauses per run")
	fl.Float64Var(&f.PauseRate, "pause-rate", f.PauseRate, "probability that a step pauses its process")
	fl.Var(newRange(&f.PauseMin, &f.PauseMax), "pause", "pause duration range MIN..MAX")
	fl.BoolVar(&f.SameIdentity, "same-identity", f.SameIdentity, "every process has the same owner names and tickets (outside the model)")
	fl.Float64Var(&f.HeartbeatStretch, "heartbeat-stretch", f.HeartbeatStretch, "stretch every heartbeat sleep by this factor (outside the model when the period passes the lease)")
	fl.IntVar(&f.Hangs, "hangs", f.Hangs, "most hung calls per run")
	fl.Float64Var(&f.HangRate, "hang-rate", f.HangRate, "probability that a primitive in --hang-ops hangs")
	fl.Var(newRange(&f.HangMin, &f.HangMax), "hang", "hang duration range MIN..MAX")
	fl.TextVar(&f.HangOps, "hang-ops", f.HangOps, "`primitives` that may hang (as for --error-ops)")
	fl.IntVar(&f.WallSteps, "wall-steps", f.WallSteps, "most wall-clock steps per run")
	fl.Float64Var(&f.WallStepRate, "wall-step-rate", f.WallStepRate, "probability that a step steps its process's wall clock")
	fl.DurationVar(&f.WallStepMax, "wall-step", f.WallStepMax, "largest wall-clock step, either way")
	fl.Float64Var(&f.OffsetNearPeriod, "offset-near-period", f.OffsetNearPeriod, "probability that a process's clock offset is about one heartbeat period")
	fl.IntVar(&f.Tickets, "tickets", f.Tickets, "narrow the ticket space to this many values so that ties happen (0: the full 32 bits)")
	fl.DurationVar(&f.ToldDelay, "told-delay", f.ToldDelay, "how long a holder told it lost the lock still acts (0: the largest the model allows; negative: none, outside the model)")
}

// simArgs returns the arguments of `cryolock sim` that rerun configuration
// c from seed (one schedule): every flag of [bindSimConfig] whose value for
// c differs from its default, so that the arguments, parsed back, give c
// again.
func simArgs(c sim.Config, seed uint64) []string {
	c = c.WithDefaults()
	// The long holds' default follows the lease: name them only when they
	// differ from it.
	if d := (sim.Config{Lease: c.Lease}).WithDefaults(); c.LongHoldMin == d.LongHoldMin && c.LongHoldMax == d.LongHoldMax {
		c.LongHoldMin, c.LongHoldMax = 0, 0
	}
	def := simDefaults()
	had, have := pflag.NewFlagSet("default", pflag.ContinueOnError), pflag.NewFlagSet("config", pflag.ContinueOnError)
	bindSimConfig(had, &def)
	bindSimConfig(have, &c)
	have.SortFlags = false // in the table's order: the workload, then the faults
	args := []string{"--rules", c.Rules.String(), "--seed", strconv.FormatUint(seed, 10), "--schedules", "1"}
	have.VisitAll(func(f *pflag.Flag) {
		v := f.Value.String()
		if f.Name == "rules" || f.Deprecated != "" || v == had.Lookup(f.Name).Value.String() {
			return
		}
		switch {
		case f.Value.Type() == "bool" && v == "true":
			args = append(args, "--"+f.Name)
		case strings.HasPrefix(v, "-") || v == "" || f.Value.Type() == "bool":
			args = append(args, "--"+f.Name+"="+v) // "=": a negative value is not a flag
		default:
			args = append(args, "--"+f.Name, v)
		}
	})
	return args
}

// simCommand is [simArgs] as a command line.
func simCommand(c sim.Config, seed uint64) string {
	return "cryolock sim " + strings.Join(simArgs(c, seed), " ")
}

// rangeValue is a MIN..MAX flag bound to two durations (or a single
// duration for both); each bound takes seconds or a Go duration.
type rangeValue struct {
	lo, hi *time.Duration
	// zeroUnset: 0..0 means "unset" (the usage names the default).
	zeroUnset bool
}

func newRange(lo, hi *time.Duration) rangeValue { return rangeValue{lo, hi, false} }

func (v rangeValue) String() string {
	if v.lo == nil || v.zeroUnset && *v.lo == 0 && *v.hi == 0 {
		return ""
	}
	return fmt.Sprintf("%v..%v", *v.lo, *v.hi)
}

func (v rangeValue) Set(s string) error {
	lo, hi, err := parseRange(s)
	if err != nil {
		return err
	}
	*v.lo, *v.hi = lo, hi
	return nil
}

func (v rangeValue) Type() string { return "MIN..MAX" }
