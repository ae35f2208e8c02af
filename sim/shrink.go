package sim

import (
	"context"
	"sync"
	"time"
)

// ShrinkOptions control [Shrink].
type ShrinkOptions struct {
	// Tries is how many seeds each smaller configuration gets to fail
	// (default 3000).
	Tries int
	// Shortest is how many failing seeds of the final configuration are
	// compared to pick the shortest trace (default 20).
	Shortest int
	Workers  int
	// Progress, if set, is called about every ProgressEvery (default 2 s)
	// from a separate goroutine while Shrink runs, and once at the end. It
	// only observes: the result does not depend on it.
	Progress      func(ShrinkProgress)
	ProgressEvery time.Duration
	// Keep, if set, says which smaller configurations may be tried: a
	// reduction it refuses is skipped (the audit keeps a dropped row's
	// configuration outside its own assumption, so that the minimal
	// violation it publishes is not one inside the fault model).
	Keep func(Config) bool
}

// ShrinkProgress is a snapshot of a running [Shrink].
type ShrinkProgress struct {
	Tried     int    // smaller configurations tried (or being tried)
	Schedules int    // schedules run so far, over every configuration tried
	Config    Config // the smallest failing configuration so far
	Steps     int    // steps of the shortest failing run so far
	Elapsed   time.Duration
}

// Shrink looks for a smaller failure of the same kind as failed: fewer
// processes, acquisitions and faults (each reduction is kept if some seed
// still fails), then, among failing seeds of the smallest configuration,
// the run that fails in the fewest steps. It returns that run with its
// trace recorded (failed itself, replayed, when nothing smaller fails).
func Shrink(ctx context.Context, failed *Result, o ShrinkOptions) *Result {
	if o.Tries <= 0 {
		o.Tries = 3000
	}
	if o.Shortest <= 0 {
		o.Shortest = 20
	}
	if len(failed.Violations) == 0 {
		return failed
	}
	kind := failed.Violations[0].Kind
	best := failed
	cfg := failed.Config
	// Progress reports only read this state, under mu.
	var (
		mu                sync.Mutex
		tried, ran, inTry int
		start             = time.Now()
	)
	snapshot := func() ShrinkProgress {
		mu.Lock()
		defer mu.Unlock()
		return ShrinkProgress{Tried: tried, Schedules: ran + inTry, Config: cfg, Steps: best.Steps, Elapsed: time.Since(start)}
	}
	set := func(f func()) {
		mu.Lock()
		f()
		mu.Unlock()
	}
	var eo ExploreOptions
	if o.Progress != nil {
		eo.Progress = func(p Progress) { set(func() { inTry = p.Done }) }
		if o.ProgressEvery <= 0 {
			o.ProgressEvery = 2 * time.Second
		}
		stop := every(o.ProgressEvery, func() { o.Progress(snapshot()) })
		defer func() {
			stop()
			o.Progress(snapshot())
		}()
	}
	try := func(c Config, n int) []*Result {
		if c.Validate() != nil || o.Keep != nil && !o.Keep(c) {
			return nil
		}
		set(func() { tried++ })
		r := Explore(ctx, c, ExploreOptions{Schedules: o.Tries, Workers: o.Workers, MaxFailures: n, Progress: eo.Progress})
		set(func() { ran, inTry = ran+r.Schedules, 0 })
		var out []*Result
		for _, f := range r.Failures {
			if f.Violations[0].Kind == kind {
				out = append(out, f)
			}
		}
		return out
	}
	for changed := true; changed && ctx.Err() == nil; {
		changed = false
		for _, m := range reductions(cfg) {
			if fs := try(m, 1); len(fs) > 0 {
				set(func() { cfg, best = m, fs[0] })
				changed = true
				break
			}
		}
	}
	for _, f := range try(cfg, o.Shortest) {
		if f.Steps < best.Steps {
			set(func() { best = f })
		}
	}
	return Replay(best)
}

// reductions lists configurations one step smaller than c.
func reductions(c Config) []Config {
	var out []Config
	add := func(f func(*Config)) {
		m := c
		f(&m)
		out = append(out, m)
	}
	if c.Procs > 2 {
		add(func(m *Config) { m.Procs-- })
	}
	if c.Acquisitions > 1 {
		add(func(m *Config) { m.Acquisitions-- })
	}
	f := c.Faults
	if f.Crashes > 0 && f.CrashRate > 0 {
		add(func(m *Config) { m.Faults.Crashes-- })
	}
	if f.Pauses > 0 && f.PauseRate > 0 {
		add(func(m *Config) { m.Faults.Pauses-- })
	}
	if f.ErrorRate > 0 {
		add(func(m *Config) { m.Faults.ErrorRate = 0 })
	}
	if f.NulTail {
		add(func(m *Config) { m.Faults.NulTail = false })
	}
	if f.NonAtomicWrite {
		add(func(m *Config) { m.Faults.NonAtomicWrite = false; m.Faults.NulTail = false })
	}
	if f.CacheDelta > 0 {
		add(func(m *Config) { m.Faults.CacheDelta = 0 })
	}
	if f.MtimeGranularity > 0 {
		add(func(m *Config) { m.Faults.MtimeGranularity = 0 })
	}
	if f.ClockDrift > 0 {
		add(func(m *Config) { m.Faults.ClockDrift = 0 })
	}
	if f.ClockOffset > 0 {
		add(func(m *Config) { m.Faults.ClockOffset = 0 })
	}
	if f.LatencyMax > 0 {
		add(func(m *Config) { m.Faults.LatencyMin, m.Faults.LatencyMax = 0, 0 })
	}
	return out
}
