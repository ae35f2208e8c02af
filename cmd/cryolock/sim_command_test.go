package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/sim"
)

// TestSimCommandRoundTrip: the rerun command sim.CommandFor prints, parsed
// back by `cryolock sim`, runs the very same configuration: the same
// summary, steps, statistics and violations as sim.Run (issue 10: the
// workload flags --long-hold, --hold and --long-hold-dur were dropped, so
// the printed command for seed 10045 did not reproduce it). In-process:
// it builds no binary.
func TestSimCommandRoundTrip(t *testing.T) {
	seed10045 := sim.Default(sim.RulesV1)
	seed10045.Procs, seed10045.LongHold = 3, 0.8
	seed10045.Faults.ClockDrift = 0.1
	seed10045.Faults.Pauses, seed10045.Faults.PauseRate = 2, 0.01
	seed10045.Faults.PauseMin, seed10045.Faults.PauseMax = 1500*time.Millisecond, 2*time.Second
	seed10045.Faults.ErrorOps, seed10045.Faults.ErrorRate = sim.OpChtimes, 0.7
	seed10045.Faults.Crashes = 0
	workload := sim.Default(sim.RulesV1)
	workload.HoldMin, workload.HoldMax = 2*time.Second, 3*time.Second
	workload.LongHold = -1
	workload.LongHoldMin, workload.LongHoldMax = 5*time.Second, 7*time.Second
	workload.Lease = 8 * time.Second
	cfgs := []struct {
		c    sim.Config
		seed uint64
	}{{seed10045, 10045}, {workload, 3}, {sim.Default(sim.RulesLegacy), 76}}
	for _, a := range sim.Assumptions() {
		cfgs = append(cfgs, struct {
			c    sim.Config
			seed uint64
		}{a.Holds, 1})
		if a.Dropped != nil && a.ID != "T3" {
			cfgs = append(cfgs, struct {
				c    sim.Config
				seed uint64
			}{*a.Dropped, 2})
		}
	}
	for _, tc := range cfgs {
		if tc.c.TryLock != 0 || tc.c.Faults.Hangs != 0 || tc.c.Faults.Tickets != 0 {
			continue // knobs without a flag of `cryolock sim` yet
		}
		args := sim.CommandArgs(tc.c, tc.seed)
		want := sim.Run(tc.c, tc.seed)
		cmd := newSimCmd()
		var out, errOut bytes.Buffer
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(append(args, "--json", "--no-shrink"))
		err := cmd.Execute()
		var ee *exitError
		if err != nil && (!errors.As(err, &ee) || ee.code != exitFail || !want.Failed()) {
			t.Fatalf("%s: %v\n%s", sim.CommandFor(tc.c, tc.seed), err, errOut.String())
		}
		var got struct {
			Config     string
			Steps      int
			Violations int
			Stats      sim.Stats
		}
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		if got.Config != want.Config.Summary() || got.Steps != want.Steps || got.Stats != want.Stats || (got.Violations > 0) != want.Failed() {
			t.Errorf("%s\n reran %q, %d steps, %+v, %d violations\n  want %q, %d steps, %+v, %v",
				sim.CommandFor(tc.c, tc.seed), got.Config, got.Steps, got.Stats, got.Violations,
				want.Config.Summary(), want.Steps, want.Stats, want.Violations)
		}
	}
}
