package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cryolock-go/cryolock/sim"
	"github.com/cryolock-go/cryolock/stale"
)

// parseSim parses args as `cryolock sim` does and returns the
// configuration they describe.
func parseSim(t *testing.T, args []string) (sim.Config, error) {
	t.Helper()
	o := newSimOptions()
	cmd := o.command()
	if err := cmd.ParseFlags(args); err != nil {
		return sim.Config{}, err
	}
	return o.config(cmd.Flags().Changed)
}

// rerunConfigs are configurations whose rerun commands must reproduce them:
// the audit's rows and two that once did not (issue 10: the workload flags
// --long-hold, --hold and --long-hold-dur were dropped, so the printed
// command for seed 10045 did not reproduce it).
func rerunConfigs() []sim.Config {
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
	short := sim.Default(sim.RulesV1)
	short.Lease = 4 * time.Second // long holds follow the lease
	cfgs := []sim.Config{seed10045, workload, short, sim.Default(sim.RulesLegacy), {Rules: sim.RulesV1}}
	for _, a := range sim.Assumptions() {
		cfgs = append(cfgs, a.Holds)
		if a.Dropped != nil {
			cfgs = append(cfgs, *a.Dropped)
		}
	}
	return cfgs
}

// TestSimArgsRoundTrip: the rerun arguments of a configuration, parsed
// back by `cryolock sim`, give the very same configuration.
func TestSimArgsRoundTrip(t *testing.T) {
	for _, c := range rerunConfigs() {
		args := simArgs(c, 7)
		got, err := parseSim(t, args)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if want := c.WithDefaults(); got != want {
			t.Errorf("%q\n parsed %+v\n  want  %+v", args, got, want)
		}
	}
	if got := simCommand(sim.Default(sim.RulesV1), 3); got != "cryolock sim --rules v1 --seed 3 --schedules 1" {
		t.Errorf("default configuration: %q", got)
	}
}

// TestSimArgsEveryField: every exported field of sim.Config and sim.Faults
// has a flag: changing the field changes the rerun arguments, and they
// parse back to the changed configuration, so that no knob is silently
// dropped from a replay.
func TestSimArgsEveryField(t *testing.T) {
	// Knobs that depend on a count or rate are active in the base, and
	// every range leaves room to raise its minimum.
	base := sim.Default(sim.RulesV1)
	base.Faults.Pauses, base.Faults.Hangs, base.Faults.WallSteps, base.Faults.ErrorRate = 1, 1, 1, 0.1
	base.Faults.HangMin, base.Faults.HangMax = time.Second, 3*time.Second
	bump := func(v reflect.Value) {
		switch {
		case v.Type() == reflect.TypeOf(time.Duration(0)):
			v.SetInt(v.Int() + int64(time.Millisecond))
		case v.Type() == reflect.TypeOf(sim.KindMutexLock):
			v.SetString(string(sim.KindSemaphore))
		case v.Type() == reflect.TypeOf(sim.AllOps):
			v.SetUint(uint64(sim.OpReadDir | sim.OpStat))
		case v.Kind() == reflect.Int:
			v.SetInt(v.Int() + 3)
		case v.Kind() == reflect.Float64:
			v.SetFloat(v.Float()/2 + 0.25)
		case v.Kind() == reflect.Bool:
			v.SetBool(!v.Bool())
		default:
			t.Fatalf("no bump for %v", v.Type())
		}
	}
	check := func(name string, field func(*sim.Config) reflect.Value) {
		c := base
		switch name { // fields of one kind
		case "ReadFraction":
			c.Kind = sim.KindRWLock
		case "Slots":
			c.Kind = sim.KindSemaphore
		case "Faults.NulTail":
			c.Faults.NonAtomicWrite = true
		}
		ref := simCommand(c, 1)
		switch name { // two-valued enums
		case "Rules":
			c.Rules = sim.RulesLegacy
		case "Stale":
			c.Stale = stale.WallClock
		default:
			bump(field(&c))
		}
		args := simArgs(c, 1)
		if got := simCommand(c, 1); got == ref {
			t.Errorf("field %s: changing it does not change the command %q", name, ref)
		}
		got, err := parseSim(t, args)
		if err != nil {
			t.Errorf("field %s: %q: %v", name, args, err)
		} else if got != c.WithDefaults() {
			t.Errorf("field %s: %q parsed back to another configuration\n %+v\n %+v", name, args, got, c.WithDefaults())
		}
	}
	ct := reflect.TypeOf(sim.Config{})
	for i := 0; i < ct.NumField(); i++ {
		f := ct.Field(i)
		if !f.IsExported() || f.Name == "Faults" {
			continue
		}
		check(f.Name, func(c *sim.Config) reflect.Value { return reflect.ValueOf(c).Elem().Field(i) })
	}
	ft := reflect.TypeOf(sim.Faults{})
	for i := 0; i < ft.NumField(); i++ {
		check("Faults."+ft.Field(i).Name, func(c *sim.Config) reflect.Value { return reflect.ValueOf(&c.Faults).Elem().Field(i) })
	}
}

// TestSimCommandReruns: the rerun command, run by `cryolock sim`, gives
// the same summary, steps, statistics and violations as sim.Run.
// In-process: it builds no binary.
func TestSimCommandReruns(t *testing.T) {
	cfgs := rerunConfigs()
	if testing.Short() {
		cfgs = cfgs[:4]
	}
	for i, c := range cfgs {
		seed := uint64(i)
		args := simArgs(c, seed)
		want := sim.Run(c, seed)
		cmd := newSimCmd()
		var out, errOut bytes.Buffer
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(append(args, "--json", "--no-shrink"))
		err := cmd.Execute()
		var ee *exitError
		if err != nil && (!errors.As(err, &ee) || ee.code != exitFail || !want.Failed()) {
			t.Fatalf("%s: %v\n%s", simCommand(c, seed), err, errOut.String())
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
				simCommand(c, seed), got.Config, got.Steps, got.Stats, got.Violations,
				want.Config.Summary(), want.Steps, want.Stats, want.Violations)
		}
	}
}

// TestDocsSimCommandsParse: every `cryolock sim ...` command line quoted
// in README.md and docs/*.md parses (`sim audit` and `sim hpc` with their
// own flags).
func TestDocsSimCommandsParse(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../README.md")
	quoted := regexp.MustCompile("`cryolock sim( [^`]*)?`")
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range quoted.FindAllStringSubmatch(string(b), -1) {
			args := strings.Fields(m[1])
			if len(args) > 0 && (args[0] == "audit" || args[0] == "hpc") {
				cmd := newSimAuditCmd()
				if args[0] == "hpc" {
					cmd = newSimHPCCmd()
				}
				if err := cmd.ParseFlags(args[1:]); err != nil {
					t.Errorf("%s: %s: %v", f, m[0], err)
				}
				n++
				continue
			}
			if strings.ContainsAny(m[1], "|[") {
				continue // a synopsis, not a command
			}
			if _, err := parseSim(t, args); err != nil {
				t.Errorf("%s: %s: %v", f, m[0], err)
			}
			n++
		}
	}
	if n < 10 {
		t.Fatalf("only %d command lines found", n)
	}
}

func TestReplaceAuditSection(t *testing.T) {
	doc := "intro\n" + auditBegin + "\nPLACEHOLDER-XYZ\n" + auditEnd + "\nrest\n"
	got, err := replaceAuditSection(doc, "| A1 |\n")
	if err != nil || got != "intro\n"+auditBegin+"\n| A1 |\n"+auditEnd+"\nrest\n" {
		t.Fatalf("%v\n%s", err, got)
	}
	if _, err := replaceAuditSection("no markers", "x"); err == nil {
		t.Fatal("no error without markers")
	}
}

// TestREADMEInModelRunIsInModel: the run the README quotes as "inside the
// fault model" is inside it (sim.Config.InModel).
func TestREADMEInModelRunIsInModel(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("schedules inside the fault model[^`]*`cryolock sim ([^`]*)`").FindSubmatch(b)
	if m == nil {
		t.Fatal("README: no `cryolock sim …` command after \"schedules inside the fault model\"")
	}
	cfg, err := parseSim(t, strings.Fields(string(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.InModel(); err != nil {
		t.Fatalf("README's in-model run %q is outside the fault model: %v", m[1], err)
	}
}
