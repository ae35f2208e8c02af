package sim

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ExploreOptions control [Explore].
type ExploreOptions struct {
	// Seed is the first seed; runs use Seed, Seed+1, ...
	Seed uint64
	// Schedules is how many seeds to run (default 1000).
	Schedules int
	// Workers is how many runs go in parallel (default GOMAXPROCS). The
	// outcome does not depend on it.
	Workers int
	// MaxFailures stops exploring once that many failing seeds are known
	// (default 1; negative: never stop). Failing seeds are always the
	// lowest ones, whatever the number of workers.
	MaxFailures int
	// Progress, if set, is called about every ProgressEvery (default
	// 250 ms) from a separate goroutine, and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// Progress is a snapshot of a running exploration.
type Progress struct {
	Done, Total int // schedules finished, planned
	Failures    int
	Steps       int64
	Elapsed     time.Duration
}

// Rate is schedules per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// ETA estimates the time left.
func (p Progress) ETA() time.Duration {
	r := p.Rate()
	if r <= 0 || p.Done >= p.Total {
		return 0
	}
	return time.Duration(float64(p.Total-p.Done) / r * float64(time.Second))
}

// ExploreResult is the outcome of [Explore].
type ExploreResult struct {
	Config    Config
	FirstSeed uint64
	// Schedules is how many seeds were run: all of them, or (when it
	// stopped at MaxFailures) every seed up to the last failing one kept.
	Schedules int
	Steps     int64 // steps of the runs counted in Schedules
	Elapsed   time.Duration
	// Failures are the failing runs, by seed.
	Failures []*Result
	// Stats aggregates the runs counted in Schedules: sums, except
	// MaxBypass (the largest). Like Schedules and Failures, it does not
	// depend on Workers.
	Stats Stats
}

// tally is one run's contribution to an exploration's totals.
type tally struct {
	steps int64
	stats Stats
}

// Explore runs cfg from many seeds and collects the failing runs. It stops
// early when ctx is done (Schedules then counts the seeds completed in order).
func Explore(ctx context.Context, cfg Config, o ExploreOptions) *ExploreResult {
	cfg = cfg.WithDefaults()
	if o.Schedules <= 0 {
		o.Schedules = 1000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	o.Workers = min(o.Workers, o.Schedules)
	if o.MaxFailures == 0 {
		o.MaxFailures = 1
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 250 * time.Millisecond
	}
	start := time.Now()
	var (
		next  atomic.Int64 // next seed offset to hand out
		limit atomic.Int64 // seeds at offsets ≥ limit are not needed
		done  atomic.Int64
		steps atomic.Int64 // all steps simulated, for progress reports
		mu    sync.Mutex
		fails []*Result
		// The totals count exactly the seeds below the final limit, added
		// in seed order (a seed is added once every lower one finished,
		// when every failure at or below it is known), so that they do
		// not depend on the number of workers.
		pending = map[int64]tally{}
		commit  int64
		total   tally
	)
	limit.Store(int64(o.Schedules))
	completed := make([]atomic.Bool, o.Schedules)
	var wg sync.WaitGroup
	for i := 0; i < o.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				if k >= limit.Load() {
					break
				}
				r := Run(cfg, o.Seed+uint64(k))
				steps.Add(int64(r.Steps))
				mu.Lock()
				if r.Failed() {
					fails = append(fails, r)
					if o.MaxFailures > 0 && len(fails) >= o.MaxFailures {
						slices.SortFunc(fails, func(a, b *Result) int { return cmp.Compare(a.Seed, b.Seed) })
						fails = fails[:o.MaxFailures]
						lim := int64(fails[len(fails)-1].Seed-o.Seed) + 1
						if lim < limit.Load() {
							limit.Store(lim)
						}
					}
				}
				pending[k] = tally{int64(r.Steps), r.Stats}
				for {
					t, ok := pending[commit]
					if !ok {
						break
					}
					delete(pending, commit)
					if commit < limit.Load() {
						total.steps += t.steps
						total.stats.add(t.stats)
					}
					commit++
				}
				mu.Unlock()
				completed[k].Store(true)
				done.Add(1)
			}
		}()
	}
	snapshot := func() Progress {
		mu.Lock()
		nf := len(fails)
		mu.Unlock()
		return Progress{Done: int(done.Load()), Total: int(limit.Load()), Failures: nf, Steps: steps.Load(), Elapsed: time.Since(start)}
	}
	stopProgress := func() {}
	if o.Progress != nil {
		stopProgress = every(o.ProgressEvery, func() { o.Progress(snapshot()) })
	}
	wg.Wait()
	stopProgress()
	slices.SortFunc(fails, func(a, b *Result) int { return cmp.Compare(a.Seed, b.Seed) })
	n := int(limit.Load())
	// Count the seeds completed without a gap (all of them unless cancelled).
	ran := 0
	for ran < n && completed[ran].Load() {
		ran++
	}
	kept := fails[:0]
	for _, f := range fails {
		if int(f.Seed-o.Seed) < ran {
			kept = append(kept, f)
		}
	}
	res := &ExploreResult{Config: cfg, FirstSeed: o.Seed, Schedules: ran, Steps: total.steps, Elapsed: time.Since(start), Failures: kept, Stats: total.stats}
	if o.Progress != nil {
		p := snapshot()
		p.Done, p.Total, p.Failures = ran, n, len(kept)
		o.Progress(p)
	}
	return res
}

// every calls f every d from a new goroutine until the returned function
// is called; that function returns once f is no longer running.
func every(d time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

func (s *Stats) add(o Stats) {
	s.Acquired += o.Acquired
	s.LockErrs += o.LockErrs
	s.Lost += o.Lost
	s.Crashes += o.Crashes
	s.Pauses += o.Pauses
	s.MaxBypass = max(s.MaxBypass, o.MaxBypass)
	s.Reaps += o.Reaps
	s.ReapsLive += o.ReapsLive
	s.Ties += o.Ties
	s.FailedStamps += o.FailedStamps
	s.HungCalls += o.HungCalls
	s.TryLockWins += o.TryLockWins
	s.WallSteps += o.WallSteps
	s.WaitListings += o.WaitListings
}

// Replay reruns a failing result with its trace recorded: from its seed, or
// for a result of [Exhaustive], from its recorded choice sequence.
func Replay(r *Result) *Result {
	o := RunOptions{Trace: true}
	if r.choices != nil {
		o.chooser = &replayChooser{c: r.choices}
	}
	out := RunWith(r.Config, r.Seed, o)
	out.choices = r.choices
	return out
}
