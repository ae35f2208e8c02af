package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cryolock-go/cryolock/protocol"
	"github.com/cryolock-go/cryolock/stale"
)

// Exit codes of `cryolock status` (besides exitUsage and exitIO).
const (
	statusFree    = 0 // no live entry (or no directory)
	statusHeld    = 1 // at least one live entry
	statusBlocked = 2 // a foreign entry blocks every contender
)

const statusLong = `Show who holds the lock LOCKDIR, who else is contending, which entries are
stale, and which entries are foreign. Nothing is created, changed or removed.

This is a one-shot view: a single listing, taken while contenders may be
entering, refreshing and leaving. Each entry "<owner>.<ticket>" is judged
live or stale by the wall-clock rule, mtime + lease < now on this machine's
clock (the only rule one look allows). Contenders using the default
"observed" rule break an entry only after watching it unchanged for a whole
lease, so an entry shown stale may still be respected for a while; one shown
stale because of clock skew between this machine and the file server may in
fact be alive. An entry whose lease is not written yet (empty or partial
content) is judged with the default lease, 10s.

Who holds it cannot be known for sure from one listing. Under the protocol's
rules a contender that sees a live entry with a ticket at least its own
withdraws at its next check, so an entry that stays while another is live
has the higher ticket: the holder is the live entry with the LOWEST ticket,
shown as "holder (likely)". When that entry is a reader's (of a
reader-writer lock, cryolock run --shared), every live reader holds with it
and all of them are shown as holders; live writers' entries are then waiting.
Entries do not record a semaphore's number of slots, so for a semaphore
(cryolock run --slots N) give the same --slots N here: the N live writers'
entries with the lowest tickets are then shown as holders and the rest as
contending. Without --slots, when more than one writer's entry is live,
status says in one line that with a semaphore several of them may hold.
It can be wrong for the few milliseconds in which a newcomer with a lower
ticket has entered and not yet withdrawn, while two contenders race for a
free lock, and with contenders following other rules (cryolock 1.x). The
other live entries are shown as contending. Each entry is labelled writer
(an exclusive entry: a mutex, a writer, a semaphore slot) or reader.

Names are printed as they are when they are plain text, and quoted with Go
escapes (%q) when they hold control characters or escape sequences.

Host and pid come from the owner "<host>_<pid>_<random>" that this program
writes; owners written by other implementations show neither.

A foreign entry (a file whose name is not "<owner>.<ticket>", an entry
name on something that is not a regular file, or content that is not a
lease) makes every contender fail until a human removes it.

JSON (--json): one object with these keys, always present:
  path        the lock directory, cleaned
  exists      whether the directory exists
  state       "free", "held" or "blocked" (as the exit status)
  rule        "wallclock": how live/stale was judged
  now         this machine's clock at the listing (RFC 3339)
  holder      the likely holder (an entry) or null; with readers holding,
              the first of them
  holders     every likely holder (one writer, up to N writers with
              --slots N, or all live readers)
  contenders  the other live entries, by ticket
  stale       the stale entries, by ticket
  foreign     [{"name", "reason"}], by name
  ignored     names the protocol skips (subdirectories such as .meta,
              .nfs* and .fuse_hidden* files)
An entry is {"name", "owner", "ticket", "host" (string or null), "pid"
(number or null), "mtime" (RFC 3339: the last heartbeat), "age_seconds"
(now - mtime; negative under clock skew), "lease" ("10s", "none" or
"unknown"), "lease_seconds" (number, or null for none or unknown), "live",
"shared" (true for a reader's entry of a reader-writer lock: readers hold
together), "role" ("reader" or "writer")}.

Exit status:
  0   free: no live entry (the directory may be missing, empty or hold only
      stale entries)
  1   held: at least one live entry
  2   blocked: a foreign entry is present (a holder may still hold it, but no
      contender can acquire it until the entry is removed)
  64  usage: bad flags or arguments, LOCKDIR not ending in ".cryolock",
      LOCKDIR or a directory above it exists and is not a directory
  74  the directory or an entry cannot be read`

const statusExample = `  cryolock status /shared/job.cryolock
  cryolock status --slots 3 /shared/gpu.cryolock
  if cryolock status job.cryolock >/dev/null; then echo free; fi
  cryolock status --json job.cryolock | jq -r '.holder.host // "nobody"'`

func newStatusCmd() *cobra.Command {
	var (
		asJSON bool
		slots  int
	)
	cmd := &cobra.Command{
		Use:     "status [--json] [--slots N] LOCKDIR",
		Short:   "Show who holds a lock, who is contending and what is foreign",
		Long:    statusLong,
		Example: statusExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(fmt.Errorf("status: want exactly one LOCKDIR, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if slots < 1 {
				return usageError(fmt.Errorf("--slots %d: want at least 1", slots))
			}
			return status(cmd.Context(), cmd.OutOrStdout(), args[0], asJSON, slots)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (keys documented above)")
	cmd.Flags().IntVar(&slots, "slots", 1, "treat the lock as a semaphore of N slots: up to N runs with the same --slots hold it at once (as cryolock run --slots N); the N lowest live writers' entries are shown as holders")
	return cmd
}

// statusReport is the JSON form of `cryolock status`; its keys are stable.
type statusReport struct {
	Path       string          `json:"path"`
	Exists     bool            `json:"exists"`
	State      string          `json:"state"`
	Rule       string          `json:"rule"`
	Now        time.Time       `json:"now"`
	Holder     *statusEntry    `json:"holder"`
	Holders    []statusEntry   `json:"holders"`
	Contenders []statusEntry   `json:"contenders"`
	Stale      []statusEntry   `json:"stale"`
	Foreign    []statusForeign `json:"foreign"`
	Ignored    []string        `json:"ignored"`

	slots int // --slots
}

type statusEntry struct {
	Name         string    `json:"name"`
	Owner        string    `json:"owner"`
	Ticket       int32     `json:"ticket"`
	Host         *string   `json:"host"`
	Pid          *int      `json:"pid"`
	ModTime      time.Time `json:"mtime"`
	AgeSeconds   float64   `json:"age_seconds"`
	Lease        string    `json:"lease"`
	LeaseSeconds *float64  `json:"lease_seconds"`
	Live         bool      `json:"live"`
	Shared       bool      `json:"shared"`
	Role         string    `json:"role"`

	age time.Duration
}

type statusForeign struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// status is `cryolock status`; slots is its --slots.
func status(ctx context.Context, w io.Writer, path string, asJSON bool, slots int) error {
	if ctx == nil {
		ctx = context.Background()
	}
	snap, err := protocol.Inspect(ctx, path)
	if err != nil {
		code := exitIO
		if errors.Is(err, protocol.ErrBadPath) {
			code = exitUsage
		}
		return exitCode(code, err)
	}
	r := report(snap, slots)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return exitCode(exitIO, fmt.Errorf("status: writing: %w", err))
		}
	} else {
		writeStatus(w, r)
	}
	switch r.State {
	case "held":
		return exitCode(statusHeld, nil)
	case "blocked":
		return exitCode(statusBlocked, nil)
	}
	return nil
}

// report judges a snapshot of a lock of the given slots (1 for a mutex or
// a reader-writer lock).
func report(snap protocol.Snapshot, slots int) statusReport {
	r := statusReport{
		Path:       snap.Path,
		Exists:     snap.Exists,
		Rule:       stale.WallClock.String(),
		Now:        snap.Now,
		Holders:    []statusEntry{},
		Contenders: []statusEntry{},
		Stale:      []statusEntry{},
		Foreign:    []statusForeign{},
		Ignored:    append([]string{}, snap.Ignored...),
		slots:      slots,
	}
	entry := func(e protocol.Entry) statusEntry {
		se := statusEntry{Name: e.Name, Owner: e.Owner, Ticket: e.Ticket, ModTime: e.ModTime,
			age: e.Age, AgeSeconds: e.Age.Seconds(), Shared: e.Shared, Live: e.Live}
		if e.Pid != 0 {
			host, pid := e.Host, e.Pid
			se.Host, se.Pid = &host, &pid
		}
		switch {
		case !e.LeaseKnown:
			se.Lease = "unknown"
		case e.Lease.Forever:
			se.Lease = "none"
		default:
			se.Lease = e.Lease.D.String()
			s := e.Lease.D.Seconds()
			se.LeaseSeconds = &s
		}
		se.Role = "writer"
		if se.Shared {
			se.Role = "reader"
		}
		return se
	}
	holders, contenders := likelyHolders(snap, slots)
	for _, e := range holders {
		r.Holders = append(r.Holders, entry(e))
	}
	for _, e := range contenders {
		r.Contenders = append(r.Contenders, entry(e))
	}
	for _, e := range snap.Stale() {
		r.Stale = append(r.Stale, entry(e))
	}
	if len(r.Holders) > 0 {
		h := r.Holders[0]
		r.Holder = &h
	}
	for _, f := range snap.Foreign {
		r.Foreign = append(r.Foreign, statusForeign{Name: f.Name, Reason: f.Reason})
	}
	switch {
	case len(r.Foreign) > 0:
		r.State = "blocked"
	case r.Holder != nil:
		r.State = "held"
	default:
		r.State = "free"
	}
	return r
}

// likelyHolders splits the live entries of snap into the likely holders of
// a lock of the given slots and the other live entries, both in ticket
// order. With slots = 1 it is protocol.Snapshot.Holders and Contenders.
//
// The protocol has no such guess for a semaphore, so it is made here from
// its rule (docs/PROTOCOL.md §7, "Semaphore of n"): an exclusive entry
// holds when fewer than n other live entries are in a listing made after
// its creation, withdraws if at least n exclusive entries have a ticket ≥
// its own, and waits otherwise. So, as for a mutex (n = 1, the lowest
// ticket), an entry that stays beside n or more others with higher tickets
// stays as a holder, and the guess is the n lowest live exclusive entries.
// When the lowest live entry is a reader's, readers hold as in Holders.
func likelyHolders(snap protocol.Snapshot, slots int) (holders, contenders []protocol.Entry) {
	holders = snap.Holders()
	if slots > 1 && len(holders) > 0 && !holders[0].Shared {
		holders = holders[:0:0]
		for _, e := range snap.Entries { // sorted by ticket
			if e.Live && !e.Shared && len(holders) < slots {
				holders = append(holders, e)
			}
		}
	}
	for _, e := range snap.Entries {
		if e.Live && !slices.ContainsFunc(holders, func(h protocol.Entry) bool { return h.Name == e.Name }) {
			contenders = append(contenders, e)
		}
	}
	return holders, contenders
}

// writeStatus prints the report for humans.
func writeStatus(w io.Writer, r statusReport) {
	switch {
	case !r.Exists:
		fmt.Fprintf(w, "%s: free (the directory does not exist; the first contender creates it)\n", quote(r.Path))
	case r.State == "blocked":
		fmt.Fprintf(w, "%s: blocked by foreign entries (no contender can acquire it until they are removed)\n", quote(r.Path))
	default:
		fmt.Fprintf(w, "%s: %s\n", quote(r.Path), r.State)
	}
	switch len(r.Holders) {
	case 0:
	case 1:
		fmt.Fprintf(w, "  holder (likely): %s\n", describe(r.Holders[0]))
	default:
		kind := "readers"
		if !r.Holders[0].Shared {
			kind = "writers, as slots of a semaphore"
		}
		fmt.Fprintf(w, "  holders (likely, %d %s):\n", len(r.Holders), kind)
		for _, e := range r.Holders {
			fmt.Fprintf(w, "    %s\n", describe(e))
		}
	}
	section := func(title string, es []statusEntry) {
		if len(es) == 0 {
			return
		}
		fmt.Fprintf(w, "  %s (%d):\n", title, len(es))
		for _, e := range es {
			fmt.Fprintf(w, "    %s\n", describe(e))
		}
	}
	section("contending", r.Contenders)
	if r.slots == 1 && writers(r) > 1 {
		fmt.Fprintln(w, "  (if this is a semaphore, cryolock run --slots N, up to N of these live writers' entries may hold at once: see status --slots N)")
	}
	section("stale, to be reaped by the next contender", r.Stale)
	if len(r.Foreign) > 0 {
		fmt.Fprintf(w, "  foreign, never removed by cryolock (%d):\n", len(r.Foreign))
		for _, f := range r.Foreign {
			fmt.Fprintf(w, "    %s: %s\n", quote(f.Name), printable(f.Reason))
		}
	}
	if r.Exists {
		fmt.Fprintf(w, "  (one listing at %s; live or stale by the wall-clock rule, mtime + lease < now on this machine's clock)\n",
			r.Now.Format(time.RFC3339))
	}
}

// writers counts the live writers' (exclusive) entries of r.
func writers(r statusReport) int {
	n := 0
	for _, e := range append(slices.Clip(r.Holders), r.Contenders...) {
		if !e.Shared {
			n++
		}
	}
	return n
}

// describe renders one entry on one line.
func describe(e statusEntry) string {
	var b strings.Builder
	b.WriteString(quote(e.Name))
	fmt.Fprintf(&b, ": %s, ", e.Role)
	if e.Host != nil {
		fmt.Fprintf(&b, "host %s, pid %d, ", quote(*e.Host), *e.Pid)
	} else {
		b.WriteString("owner of unknown shape (no host or pid), ")
	}
	fmt.Fprintf(&b, "last heartbeat %s ago, lease %s, ", e.age.Round(time.Millisecond), e.Lease)
	if e.Live {
		b.WriteString("live")
	} else {
		b.WriteString("stale")
	}
	return b.String()
}
