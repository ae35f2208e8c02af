package sim

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestValidateNamesFieldAndValue: every configuration Validate refuses is
// refused with a message that names the field at fault and its value, so
// that `cryolock sim --error-rate 2` says which of its rates is wrong; and
// negative counts and bounds that used to be taken silently (no crashes at
// all for Crashes -1) or reported as a protocol violation (a progress
// "violation" at step 0 for MaxSteps -5) are refused.
func TestValidateNamesFieldAndValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		set  func(*Config)
		want []string
	}{
		{func(c *Config) { c.Procs = -1 }, []string{"Procs", "-1"}},
		{func(c *Config) { c.Acquisitions = -2 }, []string{"Acquisitions", "-2"}},
		{func(c *Config) { c.ReadFraction = 1.5 }, []string{"ReadFraction", "1.5"}},
		{func(c *Config) { c.LongHold = math.NaN() }, []string{"LongHold", "NaN"}},
		{func(c *Config) { c.Slots = -3 }, []string{"Slots", "-3"}},
		{func(c *Config) { c.HoldMin, c.HoldMax = 2*time.Second, time.Second }, []string{"HoldMin", "HoldMax", "2s", "1s"}},
		{func(c *Config) { c.HoldMin = -time.Second }, []string{"HoldMin", "-1s"}},
		{func(c *Config) { c.LongHoldMin, c.LongHoldMax = 30*time.Second, 20*time.Second }, []string{"LongHoldMin", "LongHoldMax", "30s", "20s"}},
		{func(c *Config) { c.Step = -time.Second }, []string{"Step", "-1s"}},
		{func(c *Config) { c.TryLock = 2 }, []string{"TryLock", "2"}},
		{func(c *Config) { c.MaxSteps = -5 }, []string{"MaxSteps", "-5"}},
		{func(c *Config) { c.MaxTime = -time.Second }, []string{"MaxTime", "-1s"}},
		{func(c *Config) { c.Faults.LatencyMin = -time.Millisecond }, []string{"LatencyMin", "-1ms"}},
		{func(c *Config) { c.Faults.LatencyMin, c.Faults.LatencyMax = 3*time.Millisecond, time.Millisecond }, []string{"LatencyMin", "LatencyMax", "3ms", "1ms"}},
		{func(c *Config) { c.Faults.PauseMin, c.Faults.PauseMax = 3*time.Second, time.Second }, []string{"PauseMin", "PauseMax", "3s", "1s"}},
		{func(c *Config) { c.Faults.ClockDrift = math.Inf(1) }, []string{"ClockDrift", "+Inf"}},
		{func(c *Config) { c.Faults.ErrorRate = 2 }, []string{"ErrorRate", "2"}},
		{func(c *Config) { c.Faults.CrashRate = -0.5 }, []string{"CrashRate", "-0.5"}},
		{func(c *Config) { c.Faults.PauseRate = math.NaN() }, []string{"PauseRate", "NaN"}},
		{func(c *Config) { c.Faults.HangRate = 1.01 }, []string{"HangRate", "1.01"}},
		{func(c *Config) { c.Faults.WallStepRate = -1 }, []string{"WallStepRate", "-1"}},
		{func(c *Config) { c.Faults.OffsetNearPeriod = 3 }, []string{"OffsetNearPeriod", "3"}},
		{func(c *Config) { c.Faults.CacheDelta = -time.Second }, []string{"CacheDelta", "-1s"}},
		{func(c *Config) { c.Faults.MtimeGranularity = -time.Second }, []string{"MtimeGranularity", "-1s"}},
		{func(c *Config) { c.Faults.ClockOffset = -time.Second }, []string{"ClockOffset", "-1s"}},
		{func(c *Config) { c.Faults.HangMin, c.Faults.HangMax = 2*time.Second, time.Second }, []string{"HangMin", "HangMax", "2s", "1s"}},
		{func(c *Config) { c.Faults.Hangs = -1 }, []string{"Hangs", "-1"}},
		{func(c *Config) { c.Faults.Crashes = -1 }, []string{"Crashes", "-1"}},
		{func(c *Config) { c.Faults.Pauses = -2 }, []string{"Pauses", "-2"}},
		{func(c *Config) { c.Faults.WallSteps = -1 }, []string{"WallSteps", "-1"}},
		{func(c *Config) { c.Faults.WallStepMax = -time.Second }, []string{"WallStepMax", "-1s"}},
		{func(c *Config) { c.Faults.HeartbeatStretch = 2000 }, []string{"HeartbeatStretch", "2000"}},
		{func(c *Config) { c.Faults.Tickets = -4 }, []string{"Tickets", "-4"}},
	} {
		c := Default(RulesV1)
		tc.set(&c)
		err := c.Validate()
		if err == nil {
			t.Errorf("Validate accepts a config that should name %q", tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Validate: %q does not name %q", err, w)
			}
		}
	}
	if err := Default(RulesV1).Validate(); err != nil {
		t.Fatalf("the default config: %v", err)
	}
}

// TestRunRefusesInvalidConfig: Run of a configuration Validate refuses
// reports that, as its one violation (unexpected-error, "configuration:
// ..." naming the field), and runs nothing. It used to run it: inverted
// hold bounds panicked inside a process (reported as a protocol panic),
// negative Procs panicked in Run itself, MaxSteps -1 was a progress
// violation, a NaN clock drift ran as no drift.
func TestRunRefusesInvalidConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{HoldMin: 2 * time.Second, HoldMax: time.Second}, "HoldMax"},
		{Config{Procs: -3}, "Procs"},
		{Config{Procs: MaxProcs + 1}, "Procs"},
		{Config{MaxSteps: -1}, "MaxSteps"},
		{Config{Step: -1}, "Step"},
		{Config{Faults: Faults{ClockDrift: math.NaN()}}, "ClockDrift"},
		{Config{Faults: Faults{ClockOffset: -time.Second}}, "ClockOffset"},
		{Config{Lease: -time.Second}, "lease"},
	} {
		var r *Result
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%+v: Run panicked: %v", tc.cfg, p)
				}
			}()
			r = Run(tc.cfg, 1)
		}()
		if r == nil {
			continue
		}
		if len(r.Violations) != 1 || r.Violations[0].Kind != KindError ||
			!strings.Contains(r.Violations[0].Msg, "configuration: ") || !strings.Contains(r.Violations[0].Msg, tc.field) || r.Steps != 0 {
			t.Errorf("%s: Run gave %d steps, violations %.200v; want none run and one configuration error naming %s", tc.field, r.Steps, r.Violations, tc.field)
		}
	}
}
