package sim

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
	"github.com/cryolock-go/cryolock/stale"
)

// Config is one simulated world: the protocol's settings, the workload every
// process runs, and the faults. The zero value of a field means its default
// (see [Default]); a Config is plain data and can be copied freely.
type Config struct {
	// Rules selects the protocol rules under test.
	Rules Rules
	// Procs is the number of simulated processes (default 4, at most
	// MaxProcs).
	Procs int
	// Acquisitions is how many times each process takes the lock (default 2).
	Acquisitions int
	// Kind is what the processes share: KindMutexLock (the default),
	// KindRWLock (a protocol.RWLock: each acquisition is a read with
	// probability ReadFraction, else a write) or KindSemaphore (a
	// protocol.Semaphore of Slots). The checker follows: readers may
	// overlap readers, and at most Slots holders may overlap.
	Kind LockKind
	// ReadFraction is the share of reads under KindRWLock (default 0.7).
	ReadFraction float64
	// Slots is the semaphore's size under KindSemaphore (default 2).
	Slots int

	// Lease, Settle, MinBackoff, MaxBackoff and Stale are passed to every
	// process's protocol.Lock (defaults 10 s, 0, 100 ms, 1 s, stale.Observed).
	Lease, Settle          time.Duration
	MinBackoff, MaxBackoff time.Duration
	Stale                  stale.Rule

	// HoldMin and HoldMax bound a short hold of the critical section
	// (defaults 0.5 s and 5 s). With probability LongHold a hold is long
	// instead: between LongHoldMin and LongHoldMax (defaults 0.2, 1.2 and 2
	// leases: longer than the lease).
	HoldMin, HoldMax         time.Duration
	LongHold                 float64
	LongHoldMin, LongHoldMax time.Duration
	// Think is the longest pause between two acquisitions (default 2 s;
	// negative: none).
	Think time.Duration
	// Step is the length of one step of the critical section (default
	// 1 s): the workload touches the protected data, sleeps Step, then
	// checks Lock.Lost.
	Step time.Duration
	// NoLostCheck makes the workload ignore Lock.Lost: it keeps touching the
	// data until it calls Unlock. This is outside the fault model.
	NoLostCheck bool
	// TryLock is the share of acquisitions made with TryLock (retried after
	// MaxBackoff until it wins) instead of Lock (default 0).
	TryLock float64

	// Faults are the injected faults (all off by default).
	Faults Faults

	// MaxSteps bounds a run's steps (default 200000); MaxTime bounds its
	// virtual time (default: computed from the workload). A run that hits
	// either before every live process finished violates progress.
	MaxSteps int
	MaxTime  time.Duration
}

// MaxProcs is the most simulated processes a Config may have (the HPC
// workload of [HPC] has 100).
const MaxProcs = 128

// Faults are the fault knobs of the model. Each is off at its zero value.
type Faults struct {
	// LatencyMin and LatencyMax bound the virtual time each filesystem
	// primitive takes (drawn uniformly per call).
	LatencyMin, LatencyMax time.Duration
	// CacheDelta is the per-client listing and attribute cache: a ReadDir
	// or Stat may return a view up to CacheDelta old (each fetched view is
	// kept for a time drawn uniformly in [0, CacheDelta]). A client applies
	// its own creates and removes to its cached listing without refetching
	// it, and ReadFile revalidates the file's attributes (close-to-open), as
	// NFS clients do. Rules v1 are safe when Settle, which each process
	// measures on its own clock, covers CacheDelta in real time: Settle ≥
	// CacheDelta × (1 + ClockDrift).
	CacheDelta time.Duration
	// OwnWriteRefreshes makes a client's own create or removal of an
	// entry drop its cached listing of the directory, so that its next
	// listing is fetched afresh (as on NFS, where the directory's
	// post-operation attributes invalidate its cached pages, and on
	// sshfs). Without it (rclone, and the model's default) the client
	// patches its cached listing, so a listing made right after its own
	// create may be CacheDelta old. With it, the create-then-list lag that
	// rule C4 relies on is 0 and any Settle is inside the model
	// (docs/PROOF.md, A1).
	OwnWriteRefreshes bool
	// MtimeGranularity truncates every mtime the server stores (1 s, or 2 s
	// as on FAT and SMB).
	MtimeGranularity time.Duration
	// ClockOffset is the largest wall-clock offset of a process from the
	// file server (drawn uniformly in [-ClockOffset, ClockOffset]).
	ClockOffset time.Duration
	// ClockDrift is the largest clock-rate error of a process, as a
	// fraction (0.1: each process's clocks run at a rate drawn in
	// [0.9, 1.1] of true time).
	ClockDrift float64
	// NonAtomicWrite makes WriteFile two steps: the file appears empty,
	// then its content lands.
	NonAtomicWrite bool
	// NulTail, with NonAtomicWrite, adds a step between the two: the file
	// has its final size but reads as NUL bytes (its size landed before its
	// data, as on an rclone mount).
	NulTail bool
	// ErrorRate is the probability that a primitive in ErrorOps fails with
	// EIO (or ENOSPC for writes). A failing WriteFile may have created the
	// file.
	ErrorRate float64
	ErrorOps  Ops
	// Crashes is the most processes that crash in a run; each step of a
	// process crashes it with probability CrashRate. A crashed process never
	// runs again and its files stay.
	Crashes   int
	CrashRate float64
	// Pauses is the most pauses in a run; each step of a process pauses it
	// (all its goroutines) with probability PauseRate, for a duration drawn
	// in [PauseMin, PauseMax].
	Pauses             int
	PauseRate          float64
	PauseMin, PauseMax time.Duration
	// SameIdentity gives every process the same host, pid and random
	// stream, so that owner names and tickets collide (drops the
	// unique-owner assumption).
	SameIdentity bool
	// HeartbeatStretch, when above 1, makes every sleep of a process's
	// background goroutines (the heartbeat) last that many times longer:
	// a starved heartbeat whose period exceeds the lease.
	HeartbeatStretch float64

	// Hangs is the most hung calls in a run: a primitive in HangOps
	// (default: all primitives) hangs with probability HangRate, for
	// a time drawn in [HangMin, HangMax], then takes effect — an NFS hard
	// mount during a server outage. Inside the model (A3a): the heartbeat's
	// watchdog tells a holder whose refresh hangs.
	Hangs            int
	HangRate         float64
	HangMin, HangMax time.Duration
	HangOps          Ops
	// WallSteps is the most wall-clock steps in a run: each step of a
	// process steps its wall clock (not its monotonic clock) with
	// probability WallStepRate, by a duration drawn in
	// [-WallStepMax, WallStepMax] (an NTP step, a human setting the date).
	// Inside the model under the Observed rule, outside under WallClock.
	WallSteps    int
	WallStepRate float64
	WallStepMax  time.Duration
	// OffsetNearPeriod is the probability that a process's wall-clock
	// offset is drawn within ±[0.4, 0.5] × lease (about one heartbeat
	// period, where a coarse create mtime and the first refresh can
	// collide) instead of within ±ClockOffset.
	OffsetNearPeriod float64
	// Tickets, if positive, narrows the ticket space to that many values
	// (spread over the 32-bit range), so that ties happen. Inside the
	// model: tickets are not a safety mechanism.
	Tickets int
	// ToldDelay is how long a holder told it lost the lock still acts on
	// the protected data (A3b's D): the checker counts its hold until then.
	// Zero: the largest D the model allows for this configuration (see
	// [Config.Margin]), or the configuration's own delay bound when that
	// is larger; negative: none.
	ToldDelay time.Duration
}

// Ops is a set of filesystem primitives.
type Ops uint8

// The primitives of protocol.FS.
const (
	OpMkdirAll Ops = 1 << iota
	OpReadDir
	OpReadFile
	OpWriteFile
	OpStat
	OpChtimes
	OpRemove
	// AllOps is every primitive.
	AllOps = OpMkdirAll | OpReadDir | OpReadFile | OpWriteFile | OpStat | OpChtimes | OpRemove
)

var opNames = []string{"mkdirall", "readdir", "readfile", "writefile", "stat", "chtimes", "remove"}

// String lists the set, comma-separated ("readdir,stat"), or "all"/"none".
func (o Ops) String() string {
	switch o {
	case 0:
		return "none"
	case AllOps:
		return "all"
	}
	var s []string
	for i, n := range opNames {
		if o&(1<<i) != 0 {
			s = append(s, n)
		}
	}
	return strings.Join(s, ",")
}

// MarshalText implements [encoding.TextMarshaler] with [Ops.String].
func (o Ops) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]: the inverse of
// [Ops.String] (names are case-insensitive; "all" and "none" too).
func (o *Ops) UnmarshalText(b []byte) error {
	var set Ops
	for _, f := range strings.Split(strings.ToLower(string(b)), ",") {
		f = strings.TrimSpace(f)
		switch f {
		case "", "none":
			continue
		case "all":
			set |= AllOps
			continue
		}
		found := false
		for i, n := range opNames {
			if f == n {
				set |= 1 << i
				found = true
			}
		}
		if !found {
			return fmt.Errorf("sim: unknown primitive %q (want %s or all)", f, strings.Join(opNames, ", "))
		}
	}
	*o = set
	return nil
}

// LockKind is what the simulated processes share (Config.Kind).
type LockKind string

// Lock kinds of Config.Kind.
const (
	KindMutexLock LockKind = "mutex"
	KindRWLock    LockKind = "rw"
	KindSemaphore LockKind = "semaphore"
)

// String returns "mutex", "rw" or "semaphore".
func (k LockKind) String() string { return string(k) }

// MarshalText implements [encoding.TextMarshaler].
func (k LockKind) MarshalText() ([]byte, error) { return []byte(k), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]: it accepts the
// names String returns.
func (k *LockKind) UnmarshalText(b []byte) error {
	switch v := LockKind(b); v {
	case KindMutexLock, KindRWLock, KindSemaphore:
		*k = v
		return nil
	}
	return fmt.Errorf("sim: unknown lock kind %q (want %s, %s or %s)", b, KindMutexLock, KindRWLock, KindSemaphore)
}

// Default returns the default configuration: the realistic workload of
// `cryolock sim` — 4 processes taking the lock twice each, holds sometimes
// longer than the lease, a crash in most runs (at most one), small
// filesystem latency, clocks a little off — under which the legacy rules
// fail within seconds and rules v1 must not. Pauses and injected errors
// are off (Pauses and ErrorRate are 0), with the rate and range they get
// when switched on: pauses of 100 ms..2 s at rate 0.005, errors on every
// primitive.
func Default(rules Rules) Config {
	c := Config{Rules: rules}
	c.Faults = Faults{
		LatencyMin:  200 * time.Microsecond,
		LatencyMax:  5 * time.Millisecond,
		ClockOffset: 50 * time.Millisecond,
		ClockDrift:  0.01,
		Crashes:     1,
		CrashRate:   0.004,
		ErrorOps:    AllOps,
		PauseRate:   0.005,
		PauseMin:    100 * time.Millisecond,
		PauseMax:    2 * time.Second,
	}
	return c.WithDefaults()
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	if c.Procs == 0 {
		c.Procs = 4
	}
	if c.Acquisitions == 0 {
		c.Acquisitions = 2
	}
	if c.Kind == "" {
		c.Kind = KindMutexLock
	}
	if c.ReadFraction == 0 {
		c.ReadFraction = 0.7
	}
	if c.Slots == 0 {
		c.Slots = 2
	}
	def(&c.Lease, 10*time.Second)
	def(&c.MinBackoff, 100*time.Millisecond)
	def(&c.MaxBackoff, max(time.Second, c.MinBackoff))
	def(&c.HoldMin, 500*time.Millisecond)
	def(&c.HoldMax, 5*time.Second)
	if c.LongHold == 0 {
		c.LongHold = 0.2
	}

	def(&c.LongHoldMin, c.Lease*6/5)
	def(&c.LongHoldMax, 2*c.Lease)
	def(&c.Think, 2*time.Second)
	def(&c.Step, time.Second)
	if c.MaxSteps == 0 {
		c.MaxSteps = 200000
	}
	if c.Faults.HangOps == 0 {
		c.Faults.HangOps = AllOps
	}
	return c
}

// Validate reports a configuration the simulator cannot run.
func (c Config) Validate() error {
	c = c.WithDefaults()
	f := c.Faults
	// rate is the first of the named fractions outside [0, 1] (NaN too).
	rate := func(named ...any) (string, float64, bool) {
		for i := 0; i < len(named); i += 2 {
			if x := named[i+1].(float64); !unit(x) {
				return named[i].(string), x, true
			}
		}
		return "", 0, false
	}
	// bounds is the first of the named MIN, MAX pairs that is negative or
	// inverted.
	bounds := func(named ...any) error {
		for i := 0; i < len(named); i += 4 {
			lo, hi := named[i+1].(time.Duration), named[i+3].(time.Duration)
			switch {
			case lo < 0:
				return fmt.Errorf("sim: %s %v is negative", named[i], lo)
			case hi < lo:
				return fmt.Errorf("sim: %s %v is below %s %v", named[i+2], hi, named[i], lo)
			}
		}
		return nil
	}
	// negative is the first of the named durations or counts below 0.
	negative := func(named ...any) error {
		for i := 0; i < len(named); i += 2 {
			switch x := named[i+1].(type) {
			case time.Duration:
				if x < 0 {
					return fmt.Errorf("sim: %s %v is negative", named[i], x)
				}
			case int:
				if x < 0 {
					return fmt.Errorf("sim: %s %d is negative", named[i], x)
				}
			}
		}
		return nil
	}
	switch {
	case c.Procs < 1 || c.Procs > MaxProcs:
		return fmt.Errorf("sim: Procs %d (want 1..%d processes)", c.Procs, MaxProcs)
	case c.Acquisitions < 1:
		return fmt.Errorf("sim: Acquisitions %d (want ≥ 1)", c.Acquisitions)
	case c.Kind != KindMutexLock && c.Kind != KindRWLock && c.Kind != KindSemaphore:
		return fmt.Errorf("sim: lock kind %q (want %s, %s or %s)", c.Kind, KindMutexLock, KindRWLock, KindSemaphore)
	case c.Kind != KindMutexLock && c.Rules != RulesV1:
		return fmt.Errorf("sim: the %s kind exists only under rules v1", c.Kind)
	case !unit(c.ReadFraction):
		return fmt.Errorf("sim: ReadFraction %v (want 0..1)", c.ReadFraction)
	case !(c.LongHold <= 1) || math.IsInf(c.LongHold, -1):
		return fmt.Errorf("sim: LongHold %v (want ≤ 1; negative: none)", c.LongHold)
	case c.Slots < 1:
		return fmt.Errorf("sim: Slots %d (want ≥ 1)", c.Slots)
	case c.Step <= 0:
		return fmt.Errorf("sim: Step %v (want a positive duration)", c.Step)
	}
	// The protocol's own settings first: the long holds' defaults follow
	// the lease, so a bad lease would be reported as bad long holds.
	if _, err := protocol.New("/sim/lock"+protocol.Suffix, c.lockOptions()...); err != nil {
		return err
	}
	if err := bounds("HoldMin", c.HoldMin, "HoldMax", c.HoldMax,
		"LongHoldMin", c.LongHoldMin, "LongHoldMax", c.LongHoldMax,
		"Faults.LatencyMin", f.LatencyMin, "Faults.LatencyMax", f.LatencyMax,
		"Faults.PauseMin", f.PauseMin, "Faults.PauseMax", f.PauseMax,
		"Faults.HangMin", f.HangMin, "Faults.HangMax", f.HangMax); err != nil {
		return err
	}
	if err := negative("MaxSteps", c.MaxSteps, "MaxTime", c.MaxTime,
		"Faults.CacheDelta", f.CacheDelta, "Faults.MtimeGranularity", f.MtimeGranularity,
		"Faults.ClockOffset", f.ClockOffset, "Faults.Crashes", f.Crashes,
		"Faults.Pauses", f.Pauses, "Faults.Hangs", f.Hangs,
		"Faults.WallSteps", f.WallSteps, "Faults.WallStepMax", f.WallStepMax,
		"Faults.Tickets", f.Tickets); err != nil {
		return err
	}
	if name, x, bad := rate("TryLock", c.TryLock, "Faults.ErrorRate", f.ErrorRate,
		"Faults.CrashRate", f.CrashRate, "Faults.PauseRate", f.PauseRate,
		"Faults.HangRate", f.HangRate, "Faults.WallStepRate", f.WallStepRate,
		"Faults.OffsetNearPeriod", f.OffsetNearPeriod); bad {
		return fmt.Errorf("sim: %s %v (want a probability, 0..1)", name, x)
	}
	switch {
	case !(f.ClockDrift >= 0 && f.ClockDrift < 1):
		return fmt.Errorf("sim: Faults.ClockDrift %v (want 0 ≤ drift < 1)", f.ClockDrift)
	case !(f.HeartbeatStretch >= 0 && f.HeartbeatStretch <= maxStretch):
		return fmt.Errorf("sim: Faults.HeartbeatStretch %v (want 0..%d)", f.HeartbeatStretch, maxStretch)
	case f.NulTail && !f.NonAtomicWrite:
		return fmt.Errorf("sim: NUL tails (--nul-tail) are a step of a non-atomic write: set NonAtomicWrite (--nonatomic-write) too")
	}
	return nil
}

// unit reports whether x lies in [0, 1]; NaN does not.
func unit(x float64) bool { return x >= 0 && x <= 1 }

// maxStretch bounds Faults.HeartbeatStretch, which multiplies the run's
// time bound.
const maxStretch = 1000

func (c Config) lockOptions() []protocol.Option {
	return []protocol.Option{
		protocol.WithLease(c.Lease),
		protocol.WithSettle(c.Settle),
		protocol.WithBackoff(c.MinBackoff, c.MaxBackoff),
		protocol.WithStaleRule(c.Stale),
	}
}

// maxTime is the virtual-time bound of a run: every hold, think and pause,
// plus three leases for every acquisition and crash.
func (c Config) maxTime() time.Duration {
	if c.MaxTime > 0 {
		return c.MaxTime
	}
	per := max(c.HoldMax, c.LongHoldMax) + max(c.Think, 0) + 3*c.Lease
	t := time.Duration(c.Procs*c.Acquisitions) * per
	t += time.Duration(c.Faults.Crashes+2) * 3 * c.Lease
	t += time.Duration(c.Faults.Pauses) * c.Faults.PauseMax
	t += time.Duration(c.Faults.Hangs) * c.Faults.HangMax
	if c.Faults.HeartbeatStretch > 1 {
		t = time.Duration(float64(t) * c.Faults.HeartbeatStretch)
	}
	return t
}

// Summary is a one-line description of the non-default parts of c.
func (c Config) Summary() string {
	c = c.WithDefaults()
	d := Config{Rules: c.Rules}.WithDefaults()
	var s []string
	add := func(f string, a ...any) { s = append(s, fmt.Sprintf(f, a...)) }
	add("rules=%v procs=%d acq=%d lease=%v", c.Rules, c.Procs, c.Acquisitions, c.Lease)
	switch c.Kind {
	case KindRWLock:
		add("kind=rw reads=%v", c.ReadFraction)
	case KindSemaphore:
		add("kind=semaphore slots=%d", c.Slots)
	}
	if c.Settle != 0 {
		add("settle=%v", c.Settle)
	}
	if c.Stale != d.Stale {
		add("stale=%v", c.Stale)
	}
	if c.NoLostCheck {
		add("no-lost-check")
	}
	f := c.Faults
	if f.CacheDelta > 0 {
		add("cache=%v", f.CacheDelta)
	}
	if f.OwnWriteRefreshes {
		add("own-write-refreshes")
	}
	if f.MtimeGranularity > 0 {
		add("mtime-gran=%v", f.MtimeGranularity)
	}
	if f.ClockOffset > 0 {
		add("offset=±%v", f.ClockOffset)
	}
	if f.ClockDrift > 0 {
		add("drift=±%g%%", f.ClockDrift*100)
	}
	if f.NonAtomicWrite {
		add("nonatomic-write")
	}
	if f.NulTail {
		add("nul-tail")
	}
	if f.ErrorRate > 0 && f.ErrorOps != 0 {
		add("errors=%g on %v", f.ErrorRate, f.ErrorOps)
	}
	if f.Crashes > 0 && f.CrashRate > 0 {
		add("crashes≤%d", f.Crashes)
	}
	if f.Pauses > 0 && f.PauseRate > 0 {
		add("pauses≤%d of %v..%v", f.Pauses, f.PauseMin, f.PauseMax)
	}
	if f.SameIdentity {
		add("same-identity")
	}
	if f.HeartbeatStretch > 1 {
		add("heartbeat×%g", f.HeartbeatStretch)
	}
	if c.TryLock > 0 {
		add("trylock=%g", c.TryLock)
	}
	if f.Hangs > 0 && f.HangRate > 0 {
		add("hangs≤%d of %v..%v on %v", f.Hangs, f.HangMin, f.HangMax, f.HangOps)
	}
	if f.WallSteps > 0 && f.WallStepRate > 0 {
		add("wall-steps≤%d of ±%v", f.WallSteps, f.WallStepMax)
	}
	if f.OffsetNearPeriod > 0 {
		add("offset-near-period=%g", f.OffsetNearPeriod)
	}
	if f.Tickets > 0 {
		add("tickets=%d", f.Tickets)
	}
	if f.ToldDelay != 0 {
		add("told-delay=%v", f.ToldDelay)
	}
	return strings.Join(s, " ")
}
