// Package sim is cryolock's deterministic simulator: it runs the unchanged
// protocol code (package protocol) in many simulated processes over a model
// filesystem with injectable faults, under a seeded scheduler, and checks
// every run for mutual exclusion, progress, deadlock and litter.
//
// # How a run works
//
// Each simulated process gets its own [protocol.FS] (a client view of one
// shared model server, with its own caches) and its own [protocol.Env] (its
// own clocks, identity and random stream), and runs a workload: think, Lock,
// hold the critical section step by step checking Lock.Lost, Unlock, repeat.
// Simulated goroutines are real goroutines passing a baton: exactly one runs
// at a time. Every filesystem primitive and every Env.Sleep is a scheduling
// point at which the goroutine runs the scheduler, which picks (with a
// seeded generator, or depth-first for Exhaustive) who runs next, and hands the baton
// straight to it. Sleepers wait
// on virtual timers; virtual time advances only when no goroutine can run.
// A sleep whose context is cancelled wakes at the next pick. A crashed process
// never runs again; its goroutines are unwound at the end of the run by making
// their pending scheduling point panic with a private sentinel, so no real
// goroutine outlives a run.
//
// The same seed and configuration give the same run, byte for byte: the
// scheduler never looks at real time, map order or global randomness.
//
// # Exploring
//
// [Explore] runs many seeds (in parallel, with a deterministic outcome),
// [Exhaustive] enumerates every schedule of a small scope depth-first, and
// [Shrink] reduces a failing configuration to a minimal one. [Audit] runs the
// assumption matrix of docs/PROOF.md.
//
// # The fault model
//
// [Config.InModel] is the one definition of "inside the fault model" of
// docs/PROOF.md: it names the assumption a configuration drops. The
// checker counts a holder told it lost the lock as holding for the told
// delay (A3b), and [Stats] counts the dangerous situations a batch reached
// (told holders, reaps of live entries, ties, failed stamps, hung calls,
// TryLock wins, wall-clock steps; see [Stats.CoverageGaps]). The simulated
// world is narrower than the proof's system model: every primitive takes
// effect at its return (latency and hangs come first), and a pause freezes
// all of a process's goroutines together (docs/PROOF.md §2, "What the
// simulator does not exercise").
package sim
