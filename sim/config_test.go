package sim

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// TestValidateRejectsNaN: every float knob outside its range is refused,
// NaN and ±Inf included (a range check written x < 0 || x > 1 lets NaN
// through: --error-rate NaN ran with every primitive failing, --clock-drift
// NaN with no drift at all).
func TestValidateRejectsNaN(t *testing.T) {
	knobs := map[string]func(*Config, float64){
		"ReadFraction":     func(c *Config, x float64) { c.ReadFraction = x },
		"LongHold":         func(c *Config, x float64) { c.LongHold = x },
		"TryLock":          func(c *Config, x float64) { c.TryLock = x },
		"ClockDrift":       func(c *Config, x float64) { c.Faults.ClockDrift = x },
		"ErrorRate":        func(c *Config, x float64) { c.Faults.ErrorRate = x },
		"CrashRate":        func(c *Config, x float64) { c.Faults.CrashRate = x },
		"PauseRate":        func(c *Config, x float64) { c.Faults.PauseRate = x },
		"HangRate":         func(c *Config, x float64) { c.Faults.HangRate = x },
		"WallStepRate":     func(c *Config, x float64) { c.Faults.WallStepRate = x },
		"OffsetNearPeriod": func(c *Config, x float64) { c.Faults.OffsetNearPeriod = x },
		"HeartbeatStretch": func(c *Config, x float64) { c.Faults.HeartbeatStretch = x },
	}
	for name, set := range knobs {
		for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.5} {
			if x == -0.5 && name == "LongHold" {
				continue // negative: no long holds
			}
			c := Default(RulesV1)
			set(&c, x)
			if err := c.Validate(); err == nil {
				t.Errorf("%s = %v: Validate accepts it", name, x)
			}
		}
		c := Default(RulesV1)
		set(&c, 0.05)
		if err := c.Validate(); err != nil {
			t.Errorf("%s = 0.05: %v", name, err)
		}
	}
	for _, x := range []float64{1.5, 2} {
		c := Default(RulesV1)
		c.Faults.ErrorRate = x
		if c.Validate() == nil {
			t.Errorf("ErrorRate = %v: Validate accepts it", x)
		}
	}
}

// TestNegativeToldDelayOutsideA3b: a negative ToldDelay makes the checker
// count a told holder as stopping at once, D_b = 0, which the proof's A3b
// (D_b > 0) does not allow: InModel reports A3b.
func TestNegativeToldDelayOutsideA3b(t *testing.T) {
	c := Default(RulesV1)
	c.Faults.ToldDelay = -time.Millisecond
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v (a negative told delay is runnable)", err)
	}
	err := c.InModel()
	if err == nil || !strings.Contains(err.Error(), "A3b:") {
		t.Fatalf("InModel: %v, want outside A3b", err)
	}
}

// TestShrinkKeep: Shrink tries no reduction that Keep refuses (the audit
// keeps a dropped row outside its own assumption with it).
func TestShrinkKeep(t *testing.T) {
	var row Assumption
	for _, a := range Assumptions() {
		if a.ID == "A7" {
			row = a
		}
	}
	cfg := *row.Dropped
	var failed *Result
	for seed := uint64(0); seed < 2000 && failed == nil; seed++ {
		if r := Run(cfg, seed); r.Failed() {
			failed = r
		}
	}
	if failed == nil {
		t.Fatal("row A7's dropped configuration shows no violation")
	}
	asked := 0
	keep := func(c Config) bool {
		asked++
		return false
	}
	got := Shrink(context.Background(), failed, ShrinkOptions{Tries: 20, Shortest: 2, Keep: keep})
	if asked == 0 {
		t.Fatal("Keep was never asked")
	}
	if got.Config.Summary() != failed.Config.Summary() {
		t.Errorf("shrunk to %s though Keep refused every reduction", got.Config.Summary())
	}
}
