package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cryolock-go/cryolock/fsprobe"
	"github.com/cryolock-go/cryolock/protocol"
	"github.com/cryolock-go/cryolock/stale"
)

// Exit codes of `cryolock run` besides CMD's own (which it propagates) and
// exitUsage. They follow flock(1), the shell and sysexits.h.
const (
	exitConflict   = 1   // default for --conflict-exit-code: not acquired in time
	exitForeign    = 65  // EX_DATAERR: a foreign entry blocks the lock directory
	exitSoftware   = 70  // EX_SOFTWARE: internal error
	exitIO         = 74  // EX_IOERR: the lock directory cannot be created, listed or written
	exitLost       = 75  // EX_TEMPFAIL: the lock was lost while CMD ran
	exitCannotExec = 126 // CMD found but could not be started (as a shell)
	exitNotFound   = 127 // CMD not found (as a shell)
	exitSignalBase = 128 // + signal number: CMD, or cryolock while waiting, died of a signal
)

// defaultKillGrace is how long --kill-on-lost waits between SIGTERM and
// SIGKILL.
const defaultKillGrace = 5 * time.Second

// maxConfigSize bounds what --config reads.
const maxConfigSize = 1 << 20

const runLong = `Run CMD while holding the lock LOCKDIR, like flock(1): acquire the lock
(creating the directory if missing), run CMD with stdin, stdout and stderr
passed through, release the lock when CMD exits, and exit with CMD's status.

LOCKDIR is a directory whose name ends in ".cryolock". run's flags go
before LOCKDIR: as with flock(1), option parsing stops at LOCKDIR, and
everything after it is CMD and its arguments, untouched (even "-s" or "-n").
A "--" right after LOCKDIR is optional. Instead of CMD, -c 'SHELL COMMAND'
(before or right after LOCKDIR) runs one command line through /bin/sh -c,
as flock -c does. Any other word starting with "-" right after LOCKDIR is
refused (exit 64), not run as CMD: it is most likely a misplaced flag.

Durations (--timeout, --lease, --settle, --kill-grace, --backoff) take plain
seconds as flock(1) does (-w 5, -w 0.5) or Go durations (500ms, 1m30s).

Waiting. Without --timeout or --nonblock, run waits as long as it takes.
--nonblock makes one attempt and gives up if any other contender is present
(even one that is itself only trying: racing --nonblock runs may all give up).
--timeout D waits at most D; --timeout 0 is --nonblock. Giving up is silent
(like flock; add --verbose to see who holds it) and exits with
--conflict-exit-code. While waiting, with --verbose or when stderr is a
terminal and the wait passes 2 seconds, run says who holds the lock in one
line, "waiting for LOCKDIR, held by HOST/pid PID for 12s" (the time is how
long this run has seen that holder), updated in place on a terminal and
written again in a log only when the holder changes.
SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 or SIGUSR2 while waiting abandons
the attempt cleanly, leaving no file of its own behind, and exits 128+signal.
SIGHUP and SIGINT that were ignored when run started (nohup, a background
job of a script) stay ignored, as with flock(1): they neither abandon the
wait nor reach CMD, and CMD starts with them ignored. (Other signals ignored
at start are not kept ignored: Go cannot tell that they were.)
If the lock is found lost after acquiring it and before CMD starts, CMD is
not started (or, if the loss shows right after starting it, killed at once).

Holding. The lock is kept alive by a heartbeat that refreshes its entry
every 0.4-0.5 x lease; other contenders may break it if it is not refreshed
for a whole lease (for example if cryolock is SIGKILLed or suspended).
--lease must lie between 1s and 24h (or be "none").

CMD's process group. CMD runs in a process group of its own, and every
signal run sends goes to that whole group, so that the processes CMD starts
are stopped with it: the signals above are forwarded to the group, and
--kill-on-lost terminates the group. When run is in the foreground of a
terminal, CMD's group gets the terminal (Ctrl-C and Ctrl-\ reach CMD's group
directly; Ctrl-Z suspends CMD and run together and "fg" resumes both) —
except when run started with SIGINT ignored and stdin not a terminal, the
mark of a background job ("cryolock run ... &") of a script, whose process
group is the script's own: the terminal then stays with the script. On
Linux CMD runs under a small supervisor, a copy of cryolock in CMD's group,
that kills the whole group if run dies (even of SIGKILL), so nothing goes on
working without the lock. What remains: a process that leaves the group
(setsid, setpgid, a daemon that double-forks) escapes all of this; on other
Unix systems CMD's group is not killed when run itself is SIGKILLed, and in
the foreground of a terminal CMD stays in run's own group (signals then go
to CMD alone); on Windows only CMD itself is signalled or killed. Processes
CMD leaves behind in its group when it exits normally are not touched.

Losing the lock. If the entry is removed by someone else, or cannot be
refreshed in time, another process may now hold the lock: run says so on
stderr, naming the entry. CMD keeps running unless --kill-on-lost is
given, which sends CMD's process group SIGTERM and, after --kill-grace, SIGKILL
to whatever is left in it. Either way run exits 75 (not CMD's status),
because CMD's work was not protected to the end.

Sharing. --shared takes the lock as a reader: --shared runs hold it together,
a run without --shared waits for them and keeps new readers out while it
waits. --slots N makes LOCKDIR a semaphore: up to N runs that all say
--slots N hold it at once (a run without --slots counts as a semaphore of 1
and excludes everyone).

Settings from the probe. --config FILE reads the JSON that
"cryolock probe --json" prints (or just its "recommendation" object) and
applies its lease, settle, backoff and staleness rule; flags given
explicitly override it. A recommendation that says the lock cannot work
there is refused.

Environment of CMD. CRYOLOCK_LOCKDIR is LOCKDIR as an absolute path. An
exclusive run (neither --shared nor --slots) also gets CRYOLOCK_TOKEN, a
fencing token: a number strictly greater than every earlier exclusive
holder's. Pass it to the resource you protect and have it reject tokens
older than the newest it has seen; then even a run that lost the lock
without noticing cannot overwrite its successor's work. The counter lives in
LOCKDIR/.meta/; once it reaches 2^64-1 there is no greater token and run
fails (exit 70) instead of running CMD without one. A CRYOLOCK_LOCKDIR or
CRYOLOCK_TOKEN that run itself inherited (from an outer run) is not passed
on: CMD of a --shared or --slots run has no CRYOLOCK_TOKEN at all.

Exit status:
  CMD's status  CMD ran under the lock and the lock was held throughout
  128+N         CMD was killed by signal N; or run got signal N while waiting
  1             the lock was not acquired: --nonblock found it held or
                --timeout expired (change with --conflict-exit-code)
  64            usage: bad flags or arguments, LOCKDIR not ending in
                ".cryolock", LOCKDIR or a directory above it exists and
                is not a directory, a bad --config file
  65            a foreign entry in LOCKDIR blocks the lock (remove it by hand)
  70            internal error; the fencing counter is exhausted
  74            the lock directory cannot be created, listed or written
  75            the lock was lost while CMD ran (see above), or before it
                could start
  126           CMD could not be started (for example, not executable)
  127           CMD was not found
CMD's own status may coincide with these: pick a --conflict-exit-code your
command never uses if you need to tell them apart. The lock is released
however run ends, except when run itself is killed by SIGKILL: its entry
then goes stale after the lease and the next contender removes it.`

const runExample = `  cryolock run /shared/job.cryolock -- ./nightly-report.sh
  cryolock run -n -E 0 cron.cryolock -c 'backup --full && prune'
  cryolock run -w 30 --lease 5s --kill-on-lost db.cryolock -- migrate up
  cryolock probe --json /shared/db.cryolock > db.json
  cryolock run --config db.json /shared/db.cryolock -- migrate up`

// ignoredAtStart are the forwardedSignals this process inherited ignored
// and still has ignored, taken when the package is initialised, before
// anything calls signal.Notify (which would un-ignore them for good). The Go
// runtime keeps an inherited SIG_IGN only for SIGHUP and SIGINT (for the
// others it installs its own handler at start and cannot tell), so under
// nohup, or in a background job of a shell without job control, these are
// SIGHUP and SIGINT.
var ignoredAtStart = func() []os.Signal {
	var ign []os.Signal
	for _, s := range forwardedSignals {
		if signal.Ignored(s) {
			ign = append(ign, s)
		}
	}
	return ign
}()

// caughtSignals are the forwardedSignals run (and on Linux CMD's
// supervisor) catches: all but those ignored at start, which stay ignored
// as flock(1) leaves them, so that CMD inherits them ignored and a SIGHUP
// to a nohup'ed run does not end CMD.
func caughtSignals() []os.Signal {
	var c []os.Signal
	for _, s := range forwardedSignals {
		if !slices.Contains(ignoredAtStart, s) {
			c = append(c, s)
		}
	}
	return c
}

// runOptions are the flags of `cryolock run`.
type runOptions struct {
	lease        leaseValue
	timeout      time.Duration
	nonblock     bool
	conflictCode int
	settle       time.Duration
	backoff      backoffValue
	staleRule    stale.Rule
	config       string
	killOnLost   bool
	killGrace    time.Duration
	verbose      bool
	shared       bool
	slots        int
	command      string

	changed func(name string) bool
}

func newRunCmd() *cobra.Command {
	o := &runOptions{lease: leaseValue{d: protocol.DefaultLease}}
	cmd := &cobra.Command{
		Use:     "run [flags] LOCKDIR ([--] CMD [ARGS...] | -c 'SHELL COMMAND')",
		Short:   "Run a command while holding the lock (like flock(1))",
		Long:    runLong,
		Example: runExample,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		if strings.HasPrefix(err.Error(), "unknown ") {
			return usageError(fmt.Errorf("run: %w (see cryolock run --help)", err))
		}
		return usageError(fmt.Errorf("run: %w", err))
	})
	f := cmd.Flags()
	// Flags end at LOCKDIR, as with flock(1): what follows is CMD's,
	// even when it looks like one of run's flags.
	f.SetInterspersed(false)
	f.Var(&o.lease, "lease", `how long after this run's last heartbeat others may break the lock, 1s..24h, e.g. 10s or 30 ("none": never, so a crash leaves it held until removed by hand)`)
	f.VarP(newSeconds(&o.timeout, 0), "timeout", "w", "give up if the lock is not acquired within this time, in seconds or as a duration (0: do not wait at all)")
	f.BoolVarP(&o.nonblock, "nonblock", "n", false, "give up at once if the lock is held")
	f.IntVarP(&o.conflictCode, "conflict-exit-code", "E", exitConflict, "exit status when the lock is not acquired (--nonblock, --timeout)")
	f.Var(newSeconds(&o.settle, 0), "settle", "wait this long after entering before looking for competitors (for filesystems with listing lag; see cryolock probe)")
	f.Var(&o.backoff, "backoff", "bounds of the randomised backoff between looks while waiting, MIN..MAX (default 1ms..10ms, and up to 1s where the lock directory cannot be watched; see cryolock probe)")
	f.TextVar(&o.staleRule, "stale-rule", stale.Observed, `when a competitor's entry is stale: "observed" (unchanged for a whole lease on this machine's clock; immune to clock skew) or "wallclock" (mtime + lease < now; cryolock 1.x's rule)`)
	f.StringVar(&o.config, "config", "", "apply the settings recommended in this JSON file (the output of cryolock probe --json); explicit flags override it")
	f.BoolVar(&o.killOnLost, "kill-on-lost", false, "if the lock is lost while CMD runs, send CMD's process group SIGTERM, then SIGKILL after --kill-grace")
	f.Var(newSeconds(&o.killGrace, defaultKillGrace), "kill-grace", "with --kill-on-lost, how long to wait between SIGTERM and SIGKILL")
	f.BoolVar(&o.verbose, "verbose", false, "log what the lock does to stderr, and who holds the lock while waiting")
	f.BoolVarP(&o.shared, "shared", "s", false, "take the lock shared (a reader of a reader–writer lock): other --shared runs may hold it too, runs without --shared exclude everyone")
	f.IntVar(&o.slots, "slots", 1, "treat the lock as a semaphore of N slots: up to N runs with the same --slots hold it at once")
	f.StringVarP(&o.command, "command", "c", "", "run this command line through /bin/sh -c instead of CMD after --")
	return cmd
}

// option returns the protocol option the lease stands for.
func (v *leaseValue) option() protocol.Option {
	if v.none {
		return protocol.WithoutLease()
	}
	return protocol.WithLease(v.d)
}

// runLock is what `cryolock run` needs of a lock: a *protocol.Lock, which is
// also what the reader side of a protocol.RWLock (--shared) and a
// protocol.Semaphore (--slots) are made of.
type runLock interface {
	Lock(ctx context.Context) error
	TryLock(ctx context.Context) (bool, error)
	Unlock() error
	Lost() <-chan struct{}
	Held() bool
	Path() string
	Name() string
	Token() uint64
}

// exclusive reports whether the run takes the lock exclusively (and so with
// a fencing token).
func (o *runOptions) exclusive() bool { return !o.shared && o.slots == 1 }

// applyConfig reads --config and sets every setting it recommends that was
// not given as a flag.
func (o *runOptions) applyConfig() error {
	if o.config == "" {
		return nil
	}
	rec, err := readRecommendation(o.config)
	if err != nil {
		return usageError(fmt.Errorf("--config: %w", err))
	}
	if !rec.Usable {
		return usageError(fmt.Errorf("--config %s: the probe found that the lock cannot work there (%s)", quote(o.config), strings.Join(rec.Warnings, "; ")))
	}
	if !o.changed("lease") {
		if rec.NoLease {
			o.lease = leaseValue{none: true}
		} else {
			d, _, err := parseLease(rec.Lease.String())
			if err != nil {
				return usageError(fmt.Errorf("--config %s: lease: %w", quote(o.config), err))
			}
			o.lease = leaseValue{d: d}
		}
	}
	if !o.changed("settle") {
		if rec.Settle < 0 {
			return usageError(fmt.Errorf("--config %s: negative settle %v", quote(o.config), rec.Settle))
		}
		o.settle = rec.Settle.D()
	}
	if !o.changed("backoff") && (rec.MinBackoff < 0 || rec.MaxBackoff < 0) {
		return usageError(fmt.Errorf("--config %s: negative backoff %v..%v", quote(o.config), rec.MinBackoff, rec.MaxBackoff))
	}
	if !o.changed("backoff") && rec.MinBackoff > 0 {
		if rec.MaxBackoff < rec.MinBackoff {
			return usageError(fmt.Errorf("--config %s: backoff %v..%v: max below min", quote(o.config), rec.MinBackoff, rec.MaxBackoff))
		}
		o.backoff = backoffValue{min: rec.MinBackoff.D(), max: rec.MaxBackoff.D(), set: true}
	}
	if !o.changed("stale-rule") && rec.StaleRule != "" {
		if err := o.staleRule.UnmarshalText([]byte(rec.StaleRule)); err != nil {
			return usageError(fmt.Errorf("--config %s: %w", quote(o.config), err))
		}
	}
	return nil
}

// readRecommendation reads a probe's recommendation from file: a whole
// report (cryolock probe --json) or just its "recommendation" object.
func readRecommendation(file string) (fsprobe.Recommendation, error) {
	var rec fsprobe.Recommendation
	b, err := readSmallFile(file, maxConfigSize)
	if err != nil {
		return rec, err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return rec, fmt.Errorf("%s: %w", quote(file), err)
	}
	if r, ok := keys["recommendation"]; ok {
		b = r
	} else if _, ok := keys["usable"]; !ok {
		return rec, fmt.Errorf("%s: neither a probe report nor a recommendation (no \"recommendation\" or \"usable\" key)", quote(file))
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("%s: %w", quote(file), err)
	}
	return rec, nil
}

// readSmallFile reads a regular file of at most limit bytes. It opens file
// without blocking (openNonblock), so that a named pipe is refused at once
// instead of waiting for a writer.
func readSmallFile(file string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(file, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", quote(file))
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", quote(file), limit)
	}
	return b, nil
}

// newLock makes the lock the flags ask for.
func (o *runOptions) newLock(path string, log *slog.Logger) (runLock, error) {
	opts := []protocol.Option{
		o.lease.option(),
		protocol.WithSettle(o.settle),
		protocol.WithStaleRule(o.staleRule),
		protocol.WithLogger(log),
	}
	if o.backoff.set {
		opts = append(opts, protocol.WithBackoff(o.backoff.min, o.backoff.max))
	}
	switch {
	case o.shared && o.slots != 1:
		return nil, usageError(fmt.Errorf("--shared and --slots %d do not go together: a semaphore has no readers", o.slots))
	case o.slots < 1:
		return nil, usageError(fmt.Errorf("--slots %d: want at least 1", o.slots))
	case o.shared:
		return protocol.New(path, append(opts, protocol.WithShared())...)
	case o.slots > 1:
		return protocol.New(path, append(opts, protocol.WithSlots(o.slots))...)
	}
	// An exclusive run hands CMD a fencing token.
	return protocol.New(path, append(opts, protocol.WithFencing(protocol.FencingSlots))...)
}

// childEnv returns the variables to add to CMD's environment while it runs
// under l: CRYOLOCK_LOCKDIR, the lock directory as an absolute path, and for
// an exclusive hold CRYOLOCK_TOKEN, its fencing token (strictly greater than
// every earlier exclusive holder's). It fails if an exclusive hold has no
// token: the counter is exhausted.
func childEnv(l runLock, exclusive bool) ([]string, error) {
	dir, err := filepath.Abs(l.Path())
	if err != nil {
		return nil, exitCode(exitSoftware, fmt.Errorf("run: %w", err))
	}
	env := []string{"CRYOLOCK_LOCKDIR=" + dir}
	if exclusive {
		t := l.Token()
		if t == 0 {
			return nil, exitCode(exitSoftware, fmt.Errorf("run: the fencing counter in %s is exhausted (it reached 2^64-1, so no token can be greater than every earlier one); CMD not started", quote(filepath.Join(dir, protocol.MetaDir))))
		}
		env = append(env, "CRYOLOCK_TOKEN="+strconv.FormatUint(t, 10))
	}
	return env, nil
}

// childVars are the variables childEnv sets.
var childVars = []string{"CRYOLOCK_LOCKDIR", "CRYOLOCK_TOKEN"}

// childEnviron returns CMD's whole environment: base (run's own) without
// any of childVars, which an outer run may have set (a --shared run inside
// an exclusive one's CMD must not pass on the outer token next to its own
// lock directory), then add.
func childEnviron(base, add []string) []string {
	env := make([]string, 0, len(base)+len(add))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(childVars, func(v string) bool {
			return name == v || (runtime.GOOS == "windows" && strings.EqualFold(name, v))
		}) {
			env = append(env, kv)
		}
	}
	return append(env, add...)
}

// usageError marks err as a usage error (exit 64).
func usageError(err error) error { return exitCode(exitUsage, err) }

// splitRunArgs splits the positional arguments into LOCKDIR and CMD; with
// -c the command is the shell's. Flag parsing stops at LOCKDIR (the run
// command is not interspersed, like flock(1)'s getopt "+"), so args[1:] are
// exactly what followed LOCKDIR: "-- CMD [ARGS...]", "CMD [ARGS...]",
// or flock's "-c 'SHELL COMMAND'". A flag of run's after LOCKDIR is refused
// rather than run as CMD.
func (o *runOptions) splitRunArgs(cmd *cobra.Command, args []string) (string, []string, error) {
	if cmd.ArgsLenAtDash() == 0 {
		return "", nil, usageError(errors.New("run: missing LOCKDIR before --"))
	}
	if o.changed("command") {
		switch {
		case len(args) == 0:
			return "", nil, usageError(errors.New("run: missing LOCKDIR (usage: cryolock run [flags] LOCKDIR -c 'SHELL COMMAND')"))
		case len(args) > 1:
			return "", nil, usageError(fmt.Errorf("run: -c takes the whole command; want only LOCKDIR besides it, got %q", args))
		}
		return args[0], shellCommand(o.command), nil
	}
	switch {
	case len(args) == 0:
		return "", nil, usageError(errors.New("run: missing LOCKDIR and CMD (usage: cryolock run [flags] LOCKDIR [--] CMD [ARGS...])"))
	case len(args) == 1:
		return "", nil, usageError(errors.New("run: missing CMD after LOCKDIR (usage: cryolock run [flags] LOCKDIR [--] CMD [ARGS...], or -c 'SHELL COMMAND')"))
	}
	lockdir, rest := args[0], args[1:]
	switch first := rest[0]; {
	case first == "--":
		if len(rest) == 1 {
			return "", nil, usageError(errors.New("run: missing CMD after -- (usage: cryolock run [flags] LOCKDIR -- CMD [ARGS...])"))
		}
		return lockdir, rest[1:], nil
	case first == "-c" || first == "--command":
		if len(rest) != 2 {
			return "", nil, usageError(fmt.Errorf("run: %s after LOCKDIR takes exactly one argument, the shell command line, got %q", first, rest[1:]))
		}
		return lockdir, shellCommand(rest[1]), nil
	case len(first) > 1 && first[0] == '-':
		return "", nil, usageError(fmt.Errorf("run: %q after LOCKDIR: run's flags go before LOCKDIR (everything after LOCKDIR is CMD and its arguments, untouched)", first))
	}
	return lockdir, rest, nil
}

// run is `cryolock run`.
func (o *runOptions) run(cmd *cobra.Command, args []string) error {
	o.changed = cmd.Flags().Changed
	path, argv, err := o.splitRunArgs(cmd, args)
	if err != nil {
		return err
	}
	switch {
	case o.nonblock && o.changed("timeout"):
		return usageError(errors.New("run: --timeout and --nonblock exclude each other"))
	case o.conflictCode < 0 || o.conflictCode > 255:
		return usageError(fmt.Errorf("run: --conflict-exit-code %d is not in 0..255", o.conflictCode))
	}
	if err := o.applyConfig(); err != nil {
		return err
	}
	nonblock := o.nonblock || (o.changed("timeout") && o.timeout == 0)

	stderr := cmd.ErrOrStderr()
	log := slog.New(slog.DiscardHandler)
	if o.verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	l, err := o.newLock(path, log)
	if err != nil {
		return lockError(err)
	}

	// From here on, the forwarded signals are ours: while waiting they
	// abandon the attempt, while CMD runs they go to CMD's group.
	sigc := notifySignals()
	defer stopSignals(sigc)

	if code, err := o.acquire(l, nonblock, sigc, stderr, log); code >= 0 {
		return exitCode(code, err)
	}
	log.Info("cryolock: acquired", "path", l.Path(), "entry", l.Name())
	return o.runHeld(l, argv, sigc, stdio{cmd.InOrStdin(), cmd.OutOrStdout(), stderr}, log)
}

// acquire takes the lock. It returns code -1 once held; otherwise the exit
// code (and message, nil for a silent exit) to give up with, having left
// nothing behind.
func (o *runOptions) acquire(l runLock, nonblock bool, sigc <-chan os.Signal, stderr io.Writer, log *slog.Logger) (int, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if o.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		if nonblock {
			ok, err := l.TryLock(ctx)
			done <- result{ok, err}
			return
		}
		err := l.Lock(ctx)
		done <- result{err == nil, err}
	}()
	var rep *waitReporter
	if nonblock {
		log.Info("cryolock: trying once", "path", l.Path())
	} else {
		log.Info("cryolock: waiting for the lock", "path", l.Path(), "timeout", o.timeout)
		rep = startWaitReporter(l.Path(), o.slots, stderr, o.verbose)
	}

	var r result
	select {
	case r = <-done:
		rep.stop()
	case s := <-sigc:
		rep.stop()
		cancel()
		r = <-done
		if r.ok {
			// Acquired just as the signal came: give it back.
			if err := l.Unlock(); err != nil {
				return exitSignalBase + signalNumber(s), errors.Join(fmt.Errorf("run: %v while acquiring %s; it was acquired just then, and releasing it failed:", s, quote(l.Path())), err)
			}
		}
		return exitSignalBase + signalNumber(s), fmt.Errorf("run: %v while waiting for %s; gave up, leaving nothing behind", s, quote(l.Path()))
	}
	switch {
	case r.ok:
		return -1, nil
	case r.err == nil: // TryLock: held by another
		if o.verbose {
			fmt.Fprintf(stderr, "cryolock: %s; giving up (--nonblock)\n", heldBy(context.Background(), l.Path(), o.slots))
		}
		return o.conflictCode, nil
	case errors.Is(r.err, context.DeadlineExceeded):
		if o.verbose {
			fmt.Fprintf(stderr, "cryolock: %s; timed out after %v\n", heldBy(context.Background(), l.Path(), o.slots), o.timeout)
		}
		return o.conflictCode, nil
	}
	var ee *exitError
	if errors.As(lockError(r.err), &ee) {
		return ee.code, ee.err
	}
	return exitSoftware, r.err
}

// lockError maps an error of the lock to run's exit codes.
func lockError(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	code := exitIO
	switch {
	case errors.Is(err, protocol.ErrBadPath), errors.Is(err, protocol.ErrConfig):
		code = exitUsage
	case errors.Is(err, protocol.ErrForeign):
		code = exitForeign
	case errors.Is(err, protocol.ErrAlreadyHeld), errors.Is(err, protocol.ErrNotHeld):
		code = exitSoftware
	}
	return exitCode(code, err)
}

// stdio are CMD's standard streams.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// releaseAfter releases l after a failure err that ended the run before
// CMD ran to its end, keeping err's exit code.
func releaseAfter(l runLock, code int, err error) error {
	if uerr := l.Unlock(); uerr != nil && !errors.Is(uerr, protocol.ErrLost) {
		err = errors.Join(err, uerr)
	}
	return exitCode(code, err)
}

// runHeld runs CMD under the held lock l and releases it.
func (o *runOptions) runHeld(l runLock, argv []string, sigc <-chan os.Signal, io stdio, log *slog.Logger) error {
	entry := filepath.Join(l.Path(), l.Name())
	env, err := childEnv(l, o.exclusive())
	if err != nil {
		var ee *exitError
		errors.As(err, &ee)
		return releaseAfter(l, ee.code, ee.err)
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		code := exitCannotExec
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			code = exitNotFound
		}
		return releaseAfter(l, code, fmt.Errorf("run: %w", err))
	}
	// The hold may have been lost while acquiring finished (a loaded
	// machine, a short lease): then CMD must not start at all.
	if !l.Held() {
		return releaseAfter(l, exitLost, fmt.Errorf("run: lost the lock %s before CMD could start; CMD not started", quote(entry)))
	}
	p, err := startProc(argv, childEnviron(os.Environ(), env), io)
	if err != nil {
		code := exitCannotExec
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			code = exitNotFound
		}
		return releaseAfter(l, code, fmt.Errorf("run: %w", err))
	}
	if !l.Held() {
		// Lost between the look above and the start: stop it at once.
		_ = p.signal(killSignal)
		<-p.done
		p.finish()
		return releaseAfter(l, exitLost, fmt.Errorf("run: lost the lock %s just as CMD started; killed %v", quote(entry), p))
	}
	// Logged after the check above: from here on a loss is one while CMD
	// runs (the tests wait for this line before breaking the lock).
	log.Info("cryolock: started CMD", p.logKey(), p.pid, "argv", argv)

	lostc := l.Lost()
	var (
		lost  bool
		killc <-chan time.Time
	)
	tty := foregroundOfTerminal()
wait:
	for {
		select {
		case s := <-sigc:
			if !p.ownGroup && tty && fromTerminal(s) {
				log.Debug("cryolock: not forwarding a terminal signal CMD got from the terminal itself", "signal", s)
				continue
			}
			log.Debug("cryolock: forwarding signal", "signal", s, p.logKey(), p.pid)
			_ = p.signal(s)
		case <-lostc:
			lostc, lost = nil, true
			if o.killOnLost {
				fmt.Fprintf(io.err, "cryolock: lost the lock %s while CMD was running: its entry was removed or could not be refreshed in time, so another process may hold the lock now; terminating %v (SIGTERM, then SIGKILL after %v)\n", quote(entry), p, o.killGrace)
				_ = p.signal(terminateSignal)
				killc = time.After(o.killGrace)
			} else {
				stop := "--kill-on-lost would stop it"
				if p.ownGroup {
					stop += fmt.Sprintf(`; "kill -- -%d" stops it now`, p.pid)
				}
				fmt.Fprintf(io.err, "cryolock: lost the lock %s while CMD was running: its entry was removed or could not be refreshed in time, so another process may hold the lock now; %v keeps running (%s)\n", quote(entry), p, stop)
			}
		case <-killc:
			killc = nil
			log.Info("cryolock: CMD outlived --kill-grace; killing it", p.logKey(), p.pid)
			_ = p.signal(killSignal)
		case <-p.done:
			break wait
		}
	}
	if killc != nil && p.groupAlive() {
		// CMD is gone but something it started is still in its group:
		// it gets the rest of the grace period, then SIGKILL.
		log.Info("cryolock: CMD exited; waiting out --kill-grace for the rest of its process group", p.logKey(), p.pid)
		<-killc
		_ = p.signal(killSignal)
	}
	p.finish()
	code := childStatus(p.c.ProcessState)
	log.Info("cryolock: CMD exited", p.logKey(), p.pid, "status", code)

	uerr := l.Unlock()
	switch {
	case lost:
		return exitCode(exitLost, fmt.Errorf("run: CMD exited with status %d after the lock %s was lost", code, quote(entry)))
	case errors.Is(uerr, protocol.ErrLost):
		return exitCode(exitLost, errors.Join(fmt.Errorf("run: CMD exited with status %d, but the lock was lost before it was released:", code), uerr))
	case uerr != nil:
		fmt.Fprintf(io.err, "%s (a warning: the entry goes stale after its lease)\n", message(uerr))
	default:
		log.Info("cryolock: released", "path", l.Path())
	}
	if code < 0 {
		// Not a normal exit nor a signal: should not happen on Unix.
		return exitCode(exitSoftware, fmt.Errorf("run: waiting for CMD: %v", p.waitErr))
	}
	if code == 0 {
		return nil
	}
	return exitCode(code, nil)
}
