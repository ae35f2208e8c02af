package sim

import (
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
