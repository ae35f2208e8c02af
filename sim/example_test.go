package sim_test

import (
	"context"
	"fmt"

	"github.com/cryolock-go/cryolock/sim"
)

// Run one schedule of the legacy rules that breaks mutual exclusion: a
// contender that waited longer than the lease without a heartbeat becomes
// the holder with an entry that already looks dead, and the next
// contender reaps it and enters too.
func ExampleRun() {
	cfg := sim.Default(sim.RulesLegacy)
	cfg.Procs = 2
	cfg.Faults.Crashes = 0
	res := sim.Run(cfg, 76)
	for _, v := range res.Violations {
		fmt.Println(v.Kind, "between processes", v.Procs)
	}
	// The same seed under rules v1 is clean.
	cfg.Rules = sim.RulesV1
	fmt.Println("v1 violations:", len(sim.Run(cfg, 76).Violations))
	// Output:
	// mutual-exclusion between processes [0 1]
	// v1 violations: 0
}

// Explore many seeds in parallel; the outcome does not depend on the number
// of workers.
func ExampleExplore() {
	res := sim.Explore(context.Background(), sim.Default(sim.RulesV1), sim.ExploreOptions{Schedules: 200})
	fmt.Println(res.Schedules, "schedules,", len(res.Failures), "failures")
	// Output: 200 schedules, 0 failures
}
