package sim

import (
	"context"
	"testing"
	"time"
)

func kindCfg(base Config, kind LockKind) Config {
	base.Kind = kind
	return base.WithDefaults()
}

// TestKindsNoViolationInsideFaultModel runs the reader–writer lock and the
// semaphore under the mutex's fault model: readers never overlap a writer,
// writers never overlap each other, at most Slots hold the semaphore.
func TestKindsNoViolationInsideFaultModel(t *testing.T) {
	for _, kind := range []LockKind{KindRWLock, KindSemaphore} {
		for _, base := range []Config{Default(RulesV1), inModel(RulesV1)} {
			cfg := kindCfg(base, kind)
			n := count(2000)
			res := Explore(context.Background(), cfg, ExploreOptions{Schedules: n})
			for _, f := range res.Failures {
				r := Replay(f)
				t.Fatalf("%s: seed %d: %v\n%s", cfg.Summary(), f.Seed, f.Violations[0], tail(r.Trace.Text(), 60))
			}
			if res.Schedules != n || res.Stats.Acquired < n*cfg.Procs {
				t.Fatalf("%s: %d schedules, %d acquisitions", cfg.Summary(), res.Schedules, res.Stats.Acquired)
			}
			t.Logf("%s: %d schedules, %d acquisitions, %d crashes, %d lock errors, in %v",
				cfg.Summary(), res.Schedules, res.Stats.Acquired, res.Stats.Crashes, res.Stats.LockErrs, res.Elapsed)
		}
	}
}

// TestKindsCheckersSeeSharing shows the kinds' checkers are not blind:
// readers really do hold together (so the reader–writer checker has overlaps
// to excuse), semaphore holders really do overlap, and a semaphore checked
// against a smaller bound than it enforces is caught.
func TestKindsCheckersSeeSharing(t *testing.T) {
	rw := kindCfg(Default(RulesV1), KindRWLock)
	rw.Faults.Crashes = 0
	sem := kindCfg(Default(RulesV1), KindSemaphore)
	sem.Slots = 3
	sem.Faults.Crashes = 0
	readPairs, semPairs := 0, 0
	for seed := uint64(0); seed < 50; seed++ {
		readPairs += overlaps(Run(rw, seed).Holds, func(a, b Hold) bool { return a.Shared && b.Shared })
		semPairs += overlaps(Run(sem, seed).Holds, func(a, b Hold) bool { return true })
	}
	if readPairs == 0 || semPairs == 0 {
		t.Fatalf("no sharing seen: %d overlapping read pairs, %d overlapping semaphore pairs", readPairs, semPairs)
	}
	// The same semaphore of 3, checked as if it had 2 slots: caught.
	strict := sem
	strict.Slots = 2
	found := false
	for seed := uint64(0); seed < 50 && !found; seed++ {
		w := RunWith(sem, seed, RunOptions{checkSlots: strict.Slots})
		found = w.Failed() && w.Violations[0].Kind == KindMutex
	}
	if !found {
		t.Fatal("a semaphore of 3 checked against 2 slots was never caught")
	}
}

func overlaps(hs []Hold, pick func(a, b Hold) bool) int {
	n := 0
	for i := range hs {
		for j := i + 1; j < len(hs); j++ {
			a, b := hs[i], hs[j]
			if a.Proc != b.Proc && pick(a, b) && max(a.Start, b.Start) < min(a.End, b.End) {
				n++
			}
		}
	}
	return n
}

// TestKindsOutsideModel: a listing cache longer than the settle delay
// breaks the reader–writer lock and the semaphore too.
func TestKindsOutsideModel(t *testing.T) {
	for _, kind := range []LockKind{KindRWLock, KindSemaphore} {
		cfg := kindCfg(Default(RulesV1), kind)
		cfg.Faults.CacheDelta = 3 * time.Second
		cfg.Procs = 5
		res := Explore(context.Background(), cfg, ExploreOptions{Schedules: 3000})
		if len(res.Failures) == 0 {
			t.Errorf("%s: no violation in %d schedules", cfg.Summary(), res.Schedules)
			continue
		}
		t.Logf("%s: seed %d: %v", cfg.Summary(), res.Failures[0].Seed, res.Failures[0].Violations[0])
	}
}
