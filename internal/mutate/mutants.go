package main

// Mutant is one planted bug: a small edit of one package's source. Find must
// occur exactly once among the package's non-test .go files; it is replaced
// by Replace. Files are not named, so that code moved verbatim between files
// of a package keeps its mutants; a Find that no longer occurs (code
// rewritten) makes the tool report the mutant as a stale definition and fail.
type Mutant struct {
	ID      string
	Pkg     string // protocol, stale or nonce
	Rule    string // rule of docs/PROTOCOL.md, or Invariant M / Lemma R of docs/PROOF.md
	What    string // the bug, in words
	Find    string
	Replace string
	// LoadBearing: the mutant breaks safety (mutual exclusion, the
	// semaphore's bound, reader–writer exclusion, or fencing tokens'
	// order) in some execution inside the fault model. Such a mutant must
	// be killed by CI's checks, unless Redundant says where docs/PROOF.md
	// shows that the proof does not use the broken rule.
	LoadBearing bool
	// Redundant points to the paragraph of docs/PROOF.md that shows the
	// rule unused by the safety proof ("" if it is not).
	Redundant string
	// Breaks says what a non-load-bearing mutant costs (liveness, an API
	// promise, efficiency), for the table.
	Breaks string
	// Note, if set, is printed under the table (what else kills it, why a
	// kill is incidental).
	Note string
}

// mutants is the list the tool runs, in a fixed order (the rotating CI
// subset is a window of it).
var mutants = []Mutant{
	{
		ID: "tie-not-blocking", Pkg: "protocol", Rule: "C4.5",
		What:        "an equal ticket no longer makes an entry withdraw (decide counts `>` instead of `>=`)",
		Find:        `if !c.shared && c.ticket >= mine {`,
		Replace:     `if !c.shared && c.ticket > mine {`,
		LoadBearing: false, Breaks: "liveness: two tied entries wait for each other forever (PROOF.md §3 Remark 2)",
	},
	{
		ID: "no-fresh-revalidation", Pkg: "protocol", Rule: "J4, T4",
		What:        "an entry is reaped on the first stale verdict, without the fresh read, stat and second verdict",
		Find:        `	for _, fresh := range [...]bool{false, true} {`,
		Replace:     `	for _, fresh := range [...]bool{false} {`,
		LoadBearing: true,
		Note: "Once TestInModel killed it first, incidentally (the configuration of issue 10's seed 10045, outside the model, stopped failing in its batch). " +
			"protocol's TestReapHeedsFreshVerdict kills it for the reason that matters, in every run: a live holder reaped on a stale verdict from a cached stat.",
	},
	{
		ID: "second-verdict-ignored", Pkg: "protocol", Rule: "T4",
		What: "the fresh sighting is taken but its verdict ignored: reaped unless gone",
		Find: `		if s, gone, err = a.sight(name, path, fresh); gone || err != nil {
			return false, err
		}
		if !a.judge.Stale(name, s) {`,
		Replace: `		if s, gone, err = a.sight(name, path, fresh); gone || err != nil {
			return false, err
		}
		if !a.judge.Stale(name, s) && !fresh {`,
		LoadBearing: true,
		Note:        "protocol's TestReapHeedsFreshVerdict kills it in every run (a holder refreshing its entry, a waiter whose stats come from a cache that never revalidates). sim's TestReapNeedsFreshVerdict, the in-model check of the same situation, killed it only in rare schedules that moved with every change to waiting (seeds 213, 2328, 11443, 1206 of successive versions), and in none of its 8000 once the first in line began keeping its crowd's listing budget.",
	},
	{
		ID: "no-watchdog", Pkg: "stale", Rule: "H1 (watchdog), A3a",
		What:        "the heartbeat's watchdog never starts: a refresh stuck in the filesystem tells nobody",
		Find:        `if !watching && k.Go != nil && k.OnLost != nil {`,
		Replace:     `if false && !watching && k.Go != nil && k.OnLost != nil {`,
		LoadBearing: true,
		Note:        "stale's TestKeeperWatchdogStarts (keeper_jump_test.go, a jumping clock) fails at once; the real-time TestKeeperWatchdog waits a minute for the report that never comes.",
	},
	{
		ID: "overdue-at-1.0", Pkg: "stale", Rule: "H1, C4.3 (Lemma R step 3)",
		What:        "stale.OverdueAfter is 1.0 × lease instead of 0.75 × lease",
		Find:        `func OverdueAfter(d time.Duration) time.Duration { return d / overdueDen * overdueNum }`,
		Replace:     `func OverdueAfter(d time.Duration) time.Duration { return d }`,
		LoadBearing: true,
	},
	{
		ID: "no-stamp", Pkg: "protocol", Rule: "C2, Invariant M",
		What:        "the stamp after create is removed: the entry keeps the file server's creation mtime",
		Find:        `err := l.cfg.FS.Chtimes(a.dir, e.name, now, now)`,
		Replace:     `err := error(nil); _ = now`,
		LoadBearing: true,
	},
	{
		ID: "trylock-no-check", Pkg: "protocol", Rule: "C4 (TryLock)",
		What: "TryLock holds right after entering, without settle and check",
		Find: `		out, err := a.check(ctx, e, try)`,
		Replace: `		out, err := held, error(nil)
		if !try {
			out, err = a.check(ctx, e, try)
		}`,
		LoadBearing: true,
	},
	{
		ID: "trylock-holds-over-lower", Pkg: "protocol", Rule: "C4.6 (TryLock)",
		What: "TryLock holds when only lower tickets are live, instead of withdrawing",
		Find: `				continue
			}
			if _, err := fail(nil); err != nil {
				return withdrawn, err
			}
			return busy, nil
		}`,
		Replace: `				continue
			}
			return held, nil
		}`,
		LoadBearing: true,
	},
	{
		ID: "rw-reader-look-ignores-writer", Pkg: "protocol", Rule: "§7 RW (C1)",
		What:        "readers enter while a writer waits (rule C1's look ignores writers)",
		Find:        `return n > 0 // a writer holds or waits: readers keep out`,
		Replace:     `return false // a writer holds or waits: readers keep out`,
		LoadBearing: false, Breaks: "liveness: a stream of readers can starve a writer (C1 is not a safety step, PROOF.md §3 Remark 1)",
		Note: "protocol's TestReaderKeepsOutBesideWriter (deterministic_rules_test.go) counts the entries a reader makes beside a live writer's.",
	},
	{
		ID: "rw-reader-holds-beside-writer", Pkg: "protocol", Rule: "§7 RW (C4)",
		What: "a reader holds beside a live writer whose ticket is lower than its own",
		Find: `			if !c.shared {
				return withdrawn`,
		Replace: `			if !c.shared && c.ticket >= mine {
				return withdrawn`,
		LoadBearing: true,
	},
	{
		ID: "rw-writers-look-shared", Pkg: "nonce", Rule: "F2, §7 RW",
		What:        "nonce.IsShared calls every owner made by NewOwner a reader, so readers ignore writers",
		Find:        `return ok && info.Shared`,
		Replace:     `return ok || info.Shared`,
		LoadBearing: true,
	},
	{
		ID: "sem-off-by-one", Pkg: "protocol", Rule: "§7 semaphore (C4.4)",
		What:        "a semaphore contender (n > 1) holds beside n live others",
		Find:        `if len(live) < l.slots {`,
		Replace:     `if len(live) < l.slots || (l.slots > 1 && len(live) == l.slots) {`,
		LoadBearing: true,
	},
	{
		ID: "sem-look-off-by-one", Pkg: "protocol", Rule: "§7 semaphore (C1)",
		What:        "rule C1 backs off only when more than n entries are live",
		Find:        `return n >= l.slots`,
		Replace:     `return n > l.slots`,
		LoadBearing: false, Breaks: "efficiency only: pointless entries under contention (C1 is not a safety step, PROOF.md §3 Remark 1)",
		Note: "For a mutex (n = 1) too, so every contender enters beside a holder. Once only a hang killed it (the exhaustive search of sim's TestExhaustive grew past its time limit: 19 minutes); " +
			"protocol's TestWaiterBesideHigherTicket and TestSemaphoreWaiterKeepsOut (deterministic_rules_test.go) count the entries a waiter makes beside live ones.",
	},
	{
		ID: "withdraw-on-greater", Pkg: "protocol", Rule: "C4.5",
		What:        "an entry withdraws only when more than n (not at least n) entries with tickets ≥ its own are live",
		Find:        `if higher >= l.slots {`,
		Replace:     `if higher > l.slots {`,
		LoadBearing: false, Breaks: "liveness: two contenders wait for each other (tickets only break symmetry, PROOF.md §3 Remark 2)",
		Note: "Once killed only by a hang (the real-process test's contenders waited for each other until go test's time limit: 12 minutes); " +
			"protocol's TestWaiterBesideHigherTicket (deterministic_rules_test.go) sees the entry stay beside a higher ticket at its first sleep.",
	},
	{
		ID: "keeper-stat-off", Pkg: "protocol", Rule: "H1, Invariant M",
		What:        "a refresh counts without the keeper's stat showing the mtime advanced",
		Find:        `	k.Stat = func() (time.Time, error) {`,
		Replace:     `	_ = func() (time.Time, error) {`,
		LoadBearing: true,
		Note:        "protocol's TestInvisibleHeartbeatToldFast runs the keeper in jumping time: with no refresh ever visible it must report the loss within 20 leases of virtual time (the real-time TestInvisibleHeartbeatIsLost waits up to 2 minutes for it).",
	},
	{
		ID: "keeper-equal-mtime-counts", Pkg: "stale", Rule: "H1, Invariant M",
		What:        "a refresh after which the mtime is unchanged (equal) still counts",
		Find:        `if !m.After(mtime) {`,
		Replace:     `if m.Before(mtime) {`,
		LoadBearing: true,
		Note:        "stale's TestKeeperUnchangedMtimeToldFast (keeper_jump_test.go) stops the keeper after 50 touches that never changed the mtime; stale's TestKeeperUnchangedMtimeDoesNotCount, unbounded, spins until go test's time limit. protocol's TestInvisibleHeartbeatToldFast kills it too.",
	},
	{
		ID: "fence-confirm-skipped", Pkg: "protocol", Rule: "T (fencing confirm)",
		What: "the fencing token is handed out without listing again and checking the hold after writing it",
		Find: `	if _, err := a.scan(ctx, e.name); errors.Is(err, errOwnGone) {
		e.stop()
		l.cfg.Logger.Warn("cryolock: own entry was removed before its fencing token was confirmed; starting over", "path", e.path)
		return withdrawn, nil
	} else if err != nil {
		if werr := a.withdraw(e); werr != nil {
			err = errors.Join(err, werr)
		}
		return withdrawn, err
	}
	if e.lostErr() != nil || a.overdue(e) {`,
		Replace:     `	if false {`,
		LoadBearing: true,
		Note:        "Only the fencing unit tests see it: the simulator does not issue fencing tokens.",
	},
	{
		ID: "confirm-ignores-lost", Pkg: "protocol", Rule: "T (no success for a lost hold)",
		What: "without fencing, Lock returns success for a hold already known lost",
		Find: `	if !l.fences() {
		if e.lostErr() != nil || a.overdue(e) {`,
		Replace: `	if !l.fences() {
		if false {`,
		LoadBearing: false, Breaks: "API promise: Lock returns nil with Held() false and Lost() closed (the holder is told, so no overlap)",
		Note: "The simulator's workload checks Lost() and so sees no overlap; protocol's TestConfirmRefusesLostHold (confirm_lost_test.go) makes the hold overdue inside the confirmation's Verify " +
			"(a monotonic clock moved on by a lease) and requires Lock to start over rather than return nil with Held() false.",
	},
	{
		ID: "tickets-random", Pkg: "protocol", Rule: "F2 (ticket order), PROOF.md §4",
		What: "every contender draws a uniformly random ticket (cryolock 1.x), so entering from a listing no longer queues a waiter",
		Find: `	if !a.queue {
		return nonce.Ticket(env)`,
		Replace: `	if true {
		return nonce.Ticket(env)`,
		LoadBearing: false, Breaks: "order: a newcomer's blind entry can displace a waiter that entered from a listing (tickets only break symmetry; safety never rests on them)",
		Note: "The ticket-order check (sim/order.go) runs in every v1 mutex and RW simulation, so the first simulator test to run kills it (TestCrashedHolderReapedInTime's seed 48): " +
			"a waiter's entry made from a listing withdraws before a blind entry (KindOrder). sim's TestTicketOrder is the test written for it.",
	},
	{
		ID: "no-yield-to-older", Pkg: "protocol", Rule: "Y, PROOF.md §4",
		What:        "on an unwatched directory a contender that finds the lock free enters at once, even while a waiter that came first polls",
		Find:        "\tn := a.patientOlder(now)\n\tif n == 0 {",
		Replace:     "\tn := a.patientOlder(now)\n\tif true {",
		LoadBearing: false, Breaks: "order: the waiter whose backoff has grown looks least often and is overtaken most (rule Y is liveness only; no rule judges a mark)",
		Note: "protocol's TestUnwatchedReleaserStandsAside kills it first (after standing aside, a contender still lets the waiter it listed go first); TestYieldToOlder is the unit test written for it, and sim's TestLockBypass checks the bound it keeps (procs + 2 acquisitions of others per Lock call on the order workload).",
	},
	{
		ID: "marks-no-ticket-order", Pkg: "protocol", Rule: "Y, F7 (marks' tickets)",
		What:        "the tickets in waiters' marks are ignored: every waiter that lists no one ahead of it takes itself for the first in line",
		Find:        "\tif ticket < a.markTicket || ticket == a.markTicket && id < a.markID {",
		Replace:     "\tif false && (ticket < a.markTicket || ticket == a.markTicket && id < a.markID) {",
		LoadBearing: false, Breaks: "efficiency: waiters that began together each look eight times as often (200 at once: 1.6–2.0 listings a second each instead of 1.4)",
		Note: "protocol's TestFirstInLineLooksOften kills it (a rival ahead in line, listed only after the waiter's own first mark).",
	},
	{
		ID: "head-ignores-crowd-budget", Pkg: "protocol", Rule: "Y (the first in line's ceiling)",
		What:        "the first waiter in line on an unwatched directory looks eight times as often whatever the crowd behind it, instead of as far as two listings a second per waiter allow (where its ceiling keeps each waiter within two)",
		Find:        "\tif r := 1 / (0.75 * ceil.Seconds()); r <= crowdBudget {",
		Replace:     "\tif r := 1 / (0.75 * ceil.Seconds()); false && r <= crowdBudget {",
		LoadBearing: false, Breaks: "efficiency: a crowd of 3–15 waiters on a network filesystem lists 2.0–4.2 times a second per waiter instead of at most 2",
		Note: "sim's TestCrowdListingRate kills it (listings per second per waiter of crowds of 2 to 32 processes, in virtual time).",
	},
	{
		ID: "writer-kept-out-by-readers", Pkg: "protocol", Rule: "C1 (writers, §7)",
		What:        "a writer in Lock keeps out while any entry is live, readers included, instead of entering beside readers and waiting there",
		Find:        "\treturn n >= l.slots\n",
		Replace:     "\treturn len(live) >= l.slots\n",
		LoadBearing: false, Breaks: "liveness of writers: a writer that another writer's entry kept out waits, on a directory it cannot watch, for as long as overlapping reads go on (132 s against a bound of 96 s in sim's TestHPCWritersNotStarved)",
		Note: "protocol's TestWriterEntersBesideReaders kills it (one entry instead of two, none left beside the reader); sim's TestHPCWritersNotStarved too.",
	},
	{
		ID: "waiters-watch-directory", Pkg: "protocol", Rule: "B (the watch; an implementation cost, no rule)",
		What:        "a reader or semaphore contender that waits for given entries arms the directory's own inotify watch (every entry made or removed there wakes its process) instead of watches of those entries",
		Find:        "\t} else if entries && len(a.wake) > 0 {\n",
		Replace:     "\t} else if false && entries && len(a.wake) > 0 {\n",
		LoadBearing: false, Breaks: "efficiency: 100 processes on a reader–writer lock spend 14 CPU-s per 1000 acquisitions instead of 2.2 (`go run ./internal/bench -only hpc -kinds cryolock`)",
		Note: "protocol's TestWaitersWatchEntriesNotDirectory kills it (the directory's watch is on at the waiter's sleeps).",
	},
	{
		ID: "first-look-stats-trylock", Pkg: "protocol", Rule: "J0 (TryLock reads at once)",
		What:        "TryLock too only stats an entry at its first sighting, as Lock does, instead of reading it",
		Find:        "\treturn !rec.lastSet && !a.try && a.l.cfg.Stale == stale.Observed\n",
		Replace:     "\treturn !rec.lastSet && a.l.cfg.Stale == stale.Observed\n",
		LoadBearing: false, Breaks: "bad input: TryLock beside an entry of junk content says \"busy\" (a fresh attempt's every look is a first sighting) instead of failing with ErrForeign",
		Note: "protocol's TestFirstLookStats kills it (TryLock's first look is a stat; junk gives no ErrForeign).",
	},
	{
		ID: "first-look-stats-always", Pkg: "protocol", Rule: "J0 (the first sighting only)",
		What:        "a Lock stats an entry whose lease it does not know at every judging, not only the first, so it reads the lease only at the fresh revalidation of a stale verdict",
		Find:        "\treturn !rec.lastSet && !a.try && a.l.cfg.Stale == stale.Observed\n",
		Replace:     "\treturn !a.try && a.l.cfg.Stale == stale.Observed\n",
		LoadBearing: false, Breaks: "bad input and reaping: junk content is ErrForeign only after a whole lease of watching, and an entry with a longer lease than the observer's is re-read at every judging once the observer's lease has run (J4 still reads before a removal, so no live entry is reaped)",
		Note: "protocol's TestFirstLookStats kills it (the entry is first read after 2.9 s, not within 1 s).",
	},
	{
		ID: "first-look-stats-wallclock", Pkg: "protocol", Rule: "J0 (under Observed only)",
		What:        "J0 applies under WallClock too, where a first sighting can be stale: the first verdict uses the observer's lease, and only J4's fresh read learns the entry's own",
		Find:        "\treturn !rec.lastSet && !a.try && a.l.cfg.Stale == stale.Observed\n",
		Replace:     "\treturn !rec.lastSet && !a.try\n",
		LoadBearing: false, Breaks: "depth: under WallClock an entry with a longer lease than the observer's would then stay unreaped only through J4 (an extra read and stat on every first sighting of an old entry)",
		Note: "protocol's TestFirstLookStats kills it (under WallClock the first look is a stat).",
	},
	{
		ID: "gate-wait-keeps-p", Pkg: "protocol", Rule: "B (the gate; an implementation cost, no rule)",
		What:        "the gate's waiter blocks in flock(2) as an ordinary system call, keeping its P, instead of handing it off (runtime.entersyscallblock)",
		Find:        "\tentersyscallblock()\n\t_, _, e := unix.RawSyscall6(unix.SYS_FLOCK, uintptr(fd), unix.LOCK_EX, 0, 0, 0, 0)\n\texitsyscall()\n",
		Replace:     "\t_, _, e := unix.Syscall6(unix.SYS_FLOCK, uintptr(fd), unix.LOCK_EX, 0, 0, 0, 0)\n",
		LoadBearing: false, Breaks: "efficiency: the runtime's monitor polls through the first 10 ms of every wait at the gate (about 55 wake-ups a wait: a quarter to two fifths of a contended acquisition's CPU at 4 to 64 processes, README Performance)",
		Note: "protocol's TestGateWaitLetsProcessSleep kills it: it counts a fresh process's context switches over seven waits at the gate.",
	},
	{
		ID: "own-file-check-removed", Pkg: "protocol", Rule: "C4.2",
		What:        "a scan no longer notices that the own entry was removed",
		Find:        `	if !ownSeen {`,
		Replace:     `	if false && !ownSeen {`,
		LoadBearing: true, Redundant: "PROOF.md §3, Remarks, item 4 (the own-file check is not used by the proof)",
		Note: "Killed all the same, by the fencing unit test: the confirmation of rule T lists again and relies on the same check to see that the entry was reaped.",
	},
	{
		ID: "check-overdue-skipped", Pkg: "protocol", Rule: "C4.3 (Lemma R step 4)",
		What:        "the check trusts a listing although the own heartbeat is overdue (only a reported loss counts)",
		Find:        `if a.overdue(e) || e.lostErr() != nil {`,
		Replace:     `if e.lostErr() != nil {`,
		LoadBearing: true, Redundant: "PROOF.md §3, Lemma R, steps 3–4 (step 3 has the heartbeat tell A before r₁, so step 4's lost flag suffices; the overdue computation is a second way)",
		Note: "Survives every check, the simulator's included: inside the model the watchdog or the heartbeat's overdue wake-up sets the lost flag before anyone can reap the entry (Lemma R step 3), " +
			"so C4.3's own computation never decides. It is defence in depth against a heartbeat goroutine starved beyond A3's D; PROOF.md could say so next to the own-file check's remark.",
	},
	{
		ID: "observed-never-restarts", Pkg: "stale", Rule: "T2",
		What:        "the Observed judge never restarts its clock when the mtime or size changes",
		Find:        `if !ok || !r.mtime.Equal(s.ModTime) || r.size != s.Size {`,
		Replace:     `if !ok {`,
		LoadBearing: true,
	},
	{
		ID: "observed-half-lease", Pkg: "stale", Rule: "T2 (Lemma R step 1)",
		What:        "the Observed judge calls an entry stale after half a lease unchanged",
		Find:        `return s.Mono-r.first >= s.Lease.D`,
		Replace:     `return s.Mono-r.first >= s.Lease.D/2`,
		LoadBearing: true,
	},
	{
		ID: "wallclock-half-lease", Pkg: "stale", Rule: "T3 (Lemma R step 1)",
		What:        "the WallClock judge calls an entry stale at mtime + lease/2",
		Find:        `return s.ModTime.Add(s.Lease.D).Before(s.Now)`,
		Replace:     `return s.ModTime.Add(s.Lease.D / 2).Before(s.Now)`,
		LoadBearing: true,
	},
	{
		ID: "no-settle", Pkg: "protocol", Rule: "C3 (A1)",
		What:        "the settle delay after entering is skipped",
		Find:        `if err := l.cfg.Env.Sleep(ctx, l.cfg.Settle); err != nil {`,
		Replace:     `if err := l.cfg.Env.Sleep(ctx, 0); err != nil {`,
		LoadBearing: true,
	},
	{
		ID: "alive-cache-whole-lease", Pkg: "protocol", Rule: "J1",
		What:        "an entry judged alive is not looked at again for a whole lease (instead of lease/8)",
		Find:        `l.cfg.Env.Mono()-r.alive < lease.D/8`,
		Replace:     `l.cfg.Env.Mono()-r.alive < lease.D`,
		LoadBearing: false, Breaks: "liveness only: reaping a dead entry is delayed (an alive verdict never breaks anything)",
	},
	{
		ID: "keeper-enoent-retried", Pkg: "stale", Rule: "H1 (ENOENT → lost)",
		What: "a refresh that finds the entry gone is retried like any error instead of telling the owner at once",
		Find: `		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w: %w", ErrGone, err)
`,
		Replace: `		case errors.Is(err, fs.ErrNotExist) && false:
			return fmt.Errorf("%w: %w", ErrGone, err)
`,
		LoadBearing: true,
	},
	{
		ID: "heartbeat-starts-after-stop", Pkg: "protocol", Rule: "H1 (the heartbeat ends at release)",
		What:        "a heartbeat timer that fires as the hold is released still starts the keeper",
		Find:        `if e.hbStopped {`,
		Replace:     `if false {`,
		LoadBearing: false, Breaks: "a released entry's keeper runs on: it stats the removed entry and reports the finished hold lost (a warning, no safety)",
		Note: "protocol's TestHeartbeatTimerFiringAtUnlock (heartbeat_stop_test.go) fires the heartbeat's timer after Unlock with a stop that came too late.",
	},
	{
		ID: "heartbeat-early-timer-dropped", Pkg: "protocol", Rule: "H1 (the heartbeat starts when the first refresh falls due)",
		What: "a Lock value's heartbeat timer that fires before the current hold is due (it was armed for an earlier hold) is not armed again: that hold never refreshes",
		Find: `	if h.at < h.due && !e.stopped() {
		// Armed for an earlier hold: wait for this one's due time. (One
		// that has ended already goes on below, to the stopped check.)
		h.arm(h.due)
		return
	}`,
		Replace: `	if h.at < h.due && !e.stopped() {
		h.mu.Unlock()
		return
	}`,
		LoadBearing: true,
		Note:        "protocol's TestHeartbeatOneTimerPerValue (heartbeat_stop_test.go) fires the first hold's timer during the second hold and counts the timers armed.",
	},
	{
		ID: "write-through-hard-link", Pkg: "protocol", Rule: "F8 (hostile directories: never write a file the library did not create)",
		What:    "the OS FS's WriteFile no longer refuses a file with more than one link: a hard link planted at a fencing slot's name has the slot written through it, into a file elsewhere",
		Find:    `	} else if fi.Links > 1 {`,
		Replace: `	} else if false {`,
		Breaks:  "the hostile-directory promise (README, OSFS): a file outside the lock directory is truncated and overwritten",
	},
	{
		ID: "content-quoted-through-link", Pkg: "protocol", Rule: "F8 (hostile directories)",
		What: "a foreign entry with more than one link has its content quoted in the error, like any other",
		Find: `		if fi.Links > 1 {
			// Another name of a file that may be anybody's`,
		Replace: `		if false {
			// Another name of a file that may be anybody's`,
		Breaks: "the hostile-directory promise: the first 40 bytes of a file a hard link names (someone's secret) reach status and Lock's error",
	},
	{
		ID: "gate-orphan-dropped", Pkg: "protocol", Rule: "W (the gate, a hint)",
		What:    "a gate whose watch ends while its goroutine is blocked in flock is dropped instead of kept for the directory's next watch",
		Find:    `		if w.gate.close() {`,
		Replace: `		if w.gate.close() && false {`,
		Breaks:  "resources: every wait cancelled while another process holds the gate leaves a goroutine, an OS thread and a descriptor blocked until that process lets the gate go",
	},
}
