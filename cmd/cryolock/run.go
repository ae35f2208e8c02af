package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

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

const runLong = `Run CMD while holding the lock LOCKDIR, like flock(1): acquire the lock
(creating the directory if missing), run CMD with stdin, stdout and stderr
passed through, release the lock when CMD exits, and exit with CMD's status.

LOCKDIR is a directory whose name ends in ".cryolock". Flags go before "--";
everything after it is CMD and its arguments, untouched.

Waiting. Without --timeout or --nonblock, run waits as long as it takes.
--nonblock makes one attempt and gives up if any other contender is present
(even one that is itself only trying: racing --nonblock runs may all give up).
--timeout D waits at most D; --timeout 0 is --nonblock. Giving up is silent
(like flock; add --verbose to see why) and exits with --conflict-exit-code.
SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 or SIGUSR2 while waiting abandons
the attempt cleanly, leaving no file of its own behind, and exits 128+signal.

Holding. The lock is kept alive by a heartbeat that refreshes its spec file
every 0.4-0.5 x lease; other contenders may break it if it is not refreshed
for a whole lease (for example if cryolock is SIGKILLed or suspended). The
signals above are forwarded to CMD; when cryolock is in the foreground of a
terminal, SIGINT and SIGQUIT are not forwarded because the terminal already
sent them to CMD, which shares cryolock's process group.

Losing the lock. If the spec file is removed by someone else, or cannot be
refreshed in time, another process may now hold the lock: run says so on
stderr, naming the spec file. CMD keeps running unless --kill-on-lost is
given, which sends CMD SIGTERM and, if it is still running after
--kill-grace, SIGKILL. Either way run exits 75 (not CMD's status), because
CMD's work was not protected to the end.

Sharing. --shared takes the lock as a reader: --shared runs hold it together,
a run without --shared waits for them and keeps new readers out while it
waits. --slots N makes LOCKDIR a semaphore: up to N runs that all say
--slots N hold it at once (a run without --slots counts as a semaphore of 1
and excludes everyone).

Environment of CMD. CRYOLOCK_LOCKDIR is LOCKDIR. An exclusive run (neither
--shared nor --slots) also gets CRYOLOCK_TOKEN, a fencing token: a number
strictly greater than every earlier exclusive holder's. Pass it to the
resource you protect and have it reject tokens older than the newest it has
seen; then even a run that lost the lock without noticing cannot overwrite
its successor's work. The counter lives in LOCKDIR/.meta/.

Exit status:
  CMD's status  CMD ran under the lock and the lock was held throughout
  128+N         CMD was killed by signal N; or run got signal N while waiting
  1             the lock was not acquired: --nonblock found it held or
                --timeout expired (change with --conflict-exit-code)
  64            usage: bad flags or arguments, LOCKDIR not ending in
                ".cryolock", LOCKDIR exists and is not a directory
  65            a foreign entry in LOCKDIR blocks the lock (remove it by hand)
  70            internal error
  74            the lock directory cannot be created, listed or written
  75            the lock was lost while CMD ran (see above)
  126           CMD could not be started (for example, not executable)
  127           CMD was not found
CMD's own status may coincide with these: pick a --conflict-exit-code your
command never uses if you need to tell them apart. The lock is released
however run ends, except when run itself is killed by SIGKILL: its entry
then goes stale after the lease and the next contender removes it.`

const runExample = `  cryolock run /shared/job.cryolock -- ./nightly-report.sh
  cryolock run --nonblock --conflict-exit-code 0 cron.cryolock -- backup --full
  cryolock run --timeout 30s --lease 5s --kill-on-lost db.cryolock -- migrate up`

// runOptions are the flags of `cryolock run`.
type runOptions struct {
	lease        leaseValue
	timeout      time.Duration
	nonblock     bool
	conflictCode int
	settle       time.Duration
	staleRule    string
	killOnLost   bool
	killGrace    time.Duration
	verbose      bool
	shared       bool
	slots        int
}

func init() {
	o := &runOptions{lease: leaseValue{d: protocol.DefaultLease}}
	cmd := &cobra.Command{
		Use:     "run [flags] LOCKDIR -- CMD [ARGS...]",
		Short:   "Run a command while holding the lock (like flock(1))",
		Long:    runLong,
		Example: runExample,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError(fmt.Errorf("run: %w (flags go before LOCKDIR; put CMD and its own flags after --)", err))
	})
	f := cmd.Flags()
	f.Var(&o.lease, "lease", `how long after this run's last heartbeat others may break the lock, e.g. 10s or 500ms ("none": never, so a crash leaves it held until removed by hand)`)
	f.DurationVar(&o.timeout, "timeout", 0, "give up if the lock is not acquired within this time (0: do not wait at all)")
	f.BoolVar(&o.nonblock, "nonblock", false, "give up at once if the lock is held")
	f.IntVar(&o.conflictCode, "conflict-exit-code", exitConflict, "exit status when the lock is not acquired (--nonblock, --timeout)")
	f.DurationVar(&o.settle, "settle", 0, "wait this long after entering before looking for competitors (for filesystems with listing lag; see cryolock probe)")
	f.StringVar(&o.staleRule, "stale-rule", stale.Observed.String(), `when a competitor's entry is stale: "observed" (unchanged for a whole lease on this machine's clock; immune to clock skew) or "wallclock" (mtime + lease < now; cryolock 1.x's rule)`)
	f.BoolVar(&o.killOnLost, "kill-on-lost", false, "if the lock is lost while CMD runs, send CMD SIGTERM, then SIGKILL after --kill-grace")
	f.DurationVar(&o.killGrace, "kill-grace", defaultKillGrace, "with --kill-on-lost, how long to wait between SIGTERM and SIGKILL")
	f.BoolVar(&o.verbose, "verbose", false, "log what the lock does to stderr")
	f.BoolVar(&o.shared, "shared", false, "take the lock shared (a reader of a reader–writer lock): other --shared runs may hold it too, runs without --shared exclude everyone")
	f.IntVar(&o.slots, "slots", 1, "treat the lock as a semaphore of N slots: up to N runs with the same --slots hold it at once")
	root.AddCommand(cmd)
}

// leaseValue is the --lease flag: a positive duration or "none".
type leaseValue struct {
	d    time.Duration
	none bool
}

func (v *leaseValue) String() string {
	if v.none {
		return "none"
	}
	return v.d.String()
}

func (v *leaseValue) Set(s string) error {
	if s == "none" || s == "None" {
		v.none = true
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as 10s or 500ms, or none: %w", err)
	}
	if d <= 0 {
		return fmt.Errorf("lease %v is not positive (use none for a lease that never ends)", d)
	}
	v.d, v.none = d, false
	return nil
}

func (v *leaseValue) Type() string { return "duration" }

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
	Path() string
	Name() string
}

// newLock makes the lock the flags ask for.
func (o *runOptions) newLock(path string, log *slog.Logger) (runLock, error) {
	rule, err := stale.ParseRule(o.staleRule)
	if err != nil {
		return nil, usageError(fmt.Errorf("--stale-rule: %w", err))
	}
	opts := []protocol.Option{
		o.lease.option(),
		protocol.WithSettle(o.settle),
		protocol.WithStaleRule(rule),
		protocol.WithLogger(log),
	}
	switch {
	case o.shared && o.slots != 1:
		return nil, usageError(errors.New("--shared and --slots do not go together"))
	case o.slots < 1:
		return nil, usageError(fmt.Errorf("--slots %d: want at least 1", o.slots))
	case o.shared:
		rw, err := protocol.NewRWLock(path, opts...)
		if err != nil {
			return nil, err
		}
		return rw.Reader(), nil
	case o.slots > 1:
		s, err := protocol.NewSemaphore(path, o.slots, opts...)
		if err != nil {
			return nil, err
		}
		return s.Lock(), nil
	}
	// An exclusive run hands CMD a fencing token.
	return protocol.New(path, append(opts, protocol.WithFencing(protocol.FencingSlots))...)
}

// childEnv returns the variables to add to CMD's environment while it runs
// under l: CRYOLOCK_TOKEN, the fencing token of an exclusive hold (strictly
// greater than every earlier exclusive holder's), and CRYOLOCK_LOCKDIR.
func childEnv(l runLock) []string {
	env := []string{"CRYOLOCK_LOCKDIR=" + l.Path()}
	if t, ok := l.(interface{ Token() uint64 }); ok && t.Token() > 0 {
		env = append(env, "CRYOLOCK_TOKEN="+strconv.FormatUint(t.Token(), 10))
	}
	return env
}

// usageError marks err as a usage error (exit 64).
func usageError(err error) error { return exitCode(exitUsage, err) }

// splitRunArgs splits the positional arguments into LOCKDIR and CMD.
func splitRunArgs(cmd *cobra.Command, args []string) (string, []string, error) {
	dash := cmd.ArgsLenAtDash()
	switch {
	case len(args) == 0:
		return "", nil, usageError(errors.New("run: missing LOCKDIR and CMD (usage: cryolock run [flags] LOCKDIR -- CMD [ARGS...])"))
	case dash > 1:
		return "", nil, usageError(fmt.Errorf("run: want exactly one LOCKDIR before --, got %q", args[:dash]))
	case dash == 0:
		return "", nil, usageError(errors.New("run: missing LOCKDIR before --"))
	case len(args) == 1:
		return "", nil, usageError(errors.New("run: missing CMD after LOCKDIR (usage: cryolock run [flags] LOCKDIR -- CMD [ARGS...])"))
	}
	return args[0], args[1:], nil
}

// run is `cryolock run`.
func (o *runOptions) run(cmd *cobra.Command, args []string) error {
	path, argv, err := splitRunArgs(cmd, args)
	if err != nil {
		return err
	}
	flags := cmd.Flags()
	switch {
	case o.nonblock && flags.Changed("timeout"):
		return usageError(errors.New("run: --timeout and --nonblock exclude each other"))
	case o.timeout < 0:
		return usageError(fmt.Errorf("run: --timeout %v is negative", o.timeout))
	case o.conflictCode < 0 || o.conflictCode > 255:
		return usageError(fmt.Errorf("run: --conflict-exit-code %d is not in 0..255", o.conflictCode))
	case o.killGrace < 0:
		return usageError(fmt.Errorf("run: --kill-grace %v is negative", o.killGrace))
	}
	nonblock := o.nonblock || (flags.Changed("timeout") && o.timeout == 0)

	log := slog.New(slog.DiscardHandler)
	if o.verbose {
		log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	l, err := o.newLock(path, log)
	if err != nil {
		return lockError(err)
	}
	if err := checkLockDir(l.Path()); err != nil {
		return err
	}

	// From here on, the forwarded signals are ours: while waiting they
	// abandon the attempt, while CMD runs they go to CMD.
	sigc := notifySignals()
	defer stopSignals(sigc)

	if code, err := o.acquire(l, nonblock, sigc, log); code >= 0 {
		return exitCode(code, err)
	}
	log.Info("cryolock: acquired", "path", l.Path(), "entry", l.Name())
	return o.runHeld(l, argv, sigc, cmd.ErrOrStderr(), log)
}

// checkLockDir rejects a LOCKDIR that exists and is not a directory before
// anything else happens (the lock would reject it too, as a bad path).
func checkLockDir(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case err != nil:
		return nil // missing (created by the lock) or reported by it
	case fi.Mode()&fs.ModeSymlink != 0:
		return usageError(fmt.Errorf("%s is a symbolic link; give the real directory", path))
	case !fi.IsDir():
		return usageError(fmt.Errorf("%s exists and is not a directory", path))
	}
	return nil
}

// acquire takes the lock. It returns code -1 once held; otherwise the exit
// code (and message, nil for a silent exit) to give up with, having left
// nothing behind.
func (o *runOptions) acquire(l runLock, nonblock bool, sigc <-chan os.Signal, log *slog.Logger) (int, error) {
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
	if nonblock {
		log.Info("cryolock: trying once", "path", l.Path())
	} else {
		log.Info("cryolock: waiting for the lock", "path", l.Path(), "timeout", o.timeout)
	}

	var r result
	select {
	case r = <-done:
	case s := <-sigc:
		cancel()
		r = <-done
		if r.ok {
			// Acquired just as the signal came: give it back.
			if err := l.Unlock(); err != nil {
				return exitSignalBase + signalNumber(s), fmt.Errorf("run: %v while acquiring %s; releasing: %w", s, l.Path(), trim(err))
			}
		}
		return exitSignalBase + signalNumber(s), fmt.Errorf("run: %v while waiting for %s; gave up, leaving nothing behind", s, l.Path())
	}
	switch {
	case r.ok:
		return -1, nil
	case r.err == nil: // TryLock: held by another
		log.Info("cryolock: held by another contender; giving up (--nonblock)", "path", l.Path())
		return o.conflictCode, nil
	case errors.Is(r.err, context.DeadlineExceeded):
		log.Info("cryolock: timed out; giving up", "path", l.Path(), "timeout", o.timeout)
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
	return exitCode(code, trim(err))
}

// runHeld runs CMD under the held lock l and releases it.
func (o *runOptions) runHeld(l runLock, argv []string, sigc <-chan os.Signal, stderr io.Writer, log *slog.Logger) error {
	entry := filepath.Join(l.Path(), l.Name())
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	if env := childEnv(l); len(env) > 0 {
		c.Env = append(os.Environ(), env...)
	}
	if err := c.Start(); err != nil {
		code := exitCannotExec
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			code = exitNotFound
		}
		err = fmt.Errorf("run: %w", err)
		if uerr := l.Unlock(); uerr != nil {
			err = errors.Join(err, fmt.Errorf("run: releasing the lock: %w", trim(uerr)))
		}
		return exitCode(code, err)
	}
	log.Info("cryolock: started CMD", "pid", c.Process.Pid, "argv", argv)

	waitc := make(chan error, 1)
	go func() { waitc <- c.Wait() }()
	lostc := l.Lost()
	var (
		lost    bool
		killc   <-chan time.Time
		waitErr error
	)
	tty := foregroundOfTerminal()
wait:
	for {
		select {
		case s := <-sigc:
			if tty && fromTerminal(s) {
				log.Debug("cryolock: not forwarding a terminal signal CMD got from the terminal itself", "signal", s)
				continue
			}
			log.Debug("cryolock: forwarding signal", "signal", s, "pid", c.Process.Pid)
			_ = c.Process.Signal(s)
		case <-lostc:
			lostc, lost = nil, true
			if o.killOnLost {
				fmt.Fprintf(stderr, "cryolock: lost the lock %s while CMD (pid %d) was running: its spec file was removed or could not be refreshed in time, so another process may hold the lock now; terminating CMD (SIGTERM, then SIGKILL after %v)\n", entry, c.Process.Pid, o.killGrace)
				_ = c.Process.Signal(terminateSignal)
				killc = time.After(o.killGrace)
			} else {
				fmt.Fprintf(stderr, "cryolock: lost the lock %s while CMD (pid %d) was running: its spec file was removed or could not be refreshed in time, so another process may hold the lock now; CMD keeps running (--kill-on-lost would stop it)\n", entry, c.Process.Pid)
			}
		case <-killc:
			killc = nil
			log.Info("cryolock: CMD outlived --kill-grace; killing it", "pid", c.Process.Pid)
			_ = c.Process.Kill()
		case waitErr = <-waitc:
			break wait
		}
	}
	code := childStatus(c.ProcessState)
	log.Info("cryolock: CMD exited", "pid", c.Process.Pid, "status", code)

	uerr := l.Unlock()
	switch {
	case lost:
		return exitCode(exitLost, fmt.Errorf("run: CMD exited with status %d after the lock %s was lost", code, entry))
	case errors.Is(uerr, protocol.ErrLost):
		return exitCode(exitLost, fmt.Errorf("run: CMD exited with status %d, but the lock was lost before it was released: %w", code, trim(uerr)))
	case uerr != nil:
		fmt.Fprintf(stderr, "cryolock: warning: releasing the lock: %v (it goes stale after the lease)\n", trim(uerr))
	default:
		log.Info("cryolock: released", "path", l.Path())
	}
	if code < 0 {
		// Not a normal exit nor a signal: should not happen on Unix.
		return exitCode(exitSoftware, fmt.Errorf("run: waiting for CMD: %v", waitErr))
	}
	if code == 0 {
		return nil
	}
	return exitCode(code, nil)
}

// trim drops the "cryolock: " prefix the library puts on its messages (main
// adds its own), keeping the error chain for errors.Is.
func trim(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	t := strings.TrimPrefix(msg, "cryolock: ")
	if t == msg {
		return err
	}
	return &trimmed{msg: t, err: err}
}

type trimmed struct {
	msg string
	err error
}

func (t *trimmed) Error() string { return t.msg }
func (t *trimmed) Unwrap() error { return t.err }
