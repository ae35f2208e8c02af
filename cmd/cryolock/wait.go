package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cryolock-go/cryolock/nonce"
	"github.com/cryolock-go/cryolock/protocol"
)

// Timing of the "waiting for ..." line of `cryolock run`.
const (
	waitQuiet  = 2 * time.Second // on a terminal without --verbose: say nothing before this
	waitPeriod = time.Second     // how often the line is refreshed
)

// waitReporter tells a waiting person who holds the lock: one line, updated
// in place on a terminal, or written to a log only when the holder changes.
type waitReporter struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startWaitReporter starts reporting on the holders of path, a lock of the
// given slots, to w: at once if verbose, after waitQuiet if w is a
// terminal, else never (it returns nil, whose stop does nothing).
func startWaitReporter(path string, slots int, w io.Writer, verbose bool) *waitReporter {
	tty := isTerminal(w)
	if !verbose && !tty {
		return nil
	}
	delay := time.Duration(0)
	if !verbose {
		delay = waitQuiet
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &waitReporter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.loop(ctx, path, slots, w, tty, delay)
	}()
	return r
}

// stop ends the reports and, on a terminal, clears the line. It returns
// once nothing more will be written.
func (r *waitReporter) stop() {
	if r == nil {
		return
	}
	r.cancel()
	<-r.done
}

func (r *waitReporter) loop(ctx context.Context, path string, slots int, w io.Writer, tty bool, delay time.Duration) {
	start := time.Now()
	t := time.NewTimer(delay)
	defer t.Stop()
	var (
		seen    = map[string]time.Time{} // holder description -> first seen
		last    string
		printed bool
	)
	for {
		select {
		case <-ctx.Done():
			if tty && printed {
				fmt.Fprint(w, "\r\033[K")
			}
			return
		case <-t.C:
		}
		who, key := holderOf(ctx, path, slots)
		if ctx.Err() != nil {
			continue // stopped while looking: the select above returns
		}
		now := time.Now()
		if _, ok := seen[key]; !ok {
			seen[key] = now
		}
		var line string
		if key == "" {
			line = fmt.Sprintf("waiting for %s (%s), for %s so far", quote(path), who, roundSeconds(now.Sub(start)))
		} else {
			line = fmt.Sprintf("waiting for %s, held by %s for %s", quote(path), who, roundSeconds(now.Sub(seen[key])))
		}
		switch {
		case tty:
			fmt.Fprintf(w, "\r\033[Kcryolock: %s", line)
			printed = true
		case key != last || !printed:
			fmt.Fprintf(w, "cryolock: %s\n", line)
			printed = true
		}
		last = key
		t.Reset(waitPeriod)
	}
}

// roundSeconds renders d to whole seconds ("12s").
func roundSeconds(d time.Duration) string { return d.Round(time.Second).String() }

// heldBy describes who holds path, a lock of the given slots, in one
// phrase: "app.cryolock is held by host/pid 1234", for --nonblock and
// --timeout failures.
func heldBy(ctx context.Context, path string, slots int) string {
	who, key := holderOf(ctx, path, slots)
	if key == "" {
		return fmt.Sprintf("%s is busy (%s)", quote(path), who)
	}
	return fmt.Sprintf("%s is held by %s", quote(path), who)
}

// holderOf looks at path, a lock of the given slots, once and describes its
// likely holders as the status command (with --slots) judges them, leaving
// out this process's own entry; key identifies them ("" when there is none
// to name, and who then says why).
func holderOf(ctx context.Context, path string, slots int) (who, key string) {
	snap, err := protocol.Inspect(ctx, path)
	if err != nil {
		// The line names path already: say only what went wrong there.
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Path == path {
			err = pe.Err
		}
		return "cannot look: " + printable(err.Error()), ""
	}
	snap.Entries = slices.DeleteFunc(snap.Entries, isOwn)
	r := report(snap, slots)
	switch {
	case len(r.Holders) == 0 && len(r.Foreign) > 0:
		return "blocked by a foreign entry", ""
	case len(r.Holders) == 0:
		return "no live holder seen; contenders are entering or leaving", ""
	}
	names := make([]string, 0, len(r.Holders))
	whos := make([]string, 0, len(r.Holders))
	for _, h := range r.Holders {
		names = append(names, h.Name)
		whos = append(whos, holderName(h))
	}
	who = whos[0]
	if len(whos) > 1 {
		kind := "readers"
		if !r.Holders[0].Shared {
			kind = "holders"
		}
		who = fmt.Sprintf("%d %s (%s)", len(whos), kind, strings.Join(whos, ", "))
	}
	return who, strings.Join(names, "\x00")
}

// holderName names an entry's owner: "host/pid 1234", or the owner as
// written by another implementation.
func holderName(e statusEntry) string {
	if e.Host != nil && e.Pid != nil {
		return fmt.Sprintf("%s/pid %d", quote(*e.Host), *e.Pid)
	}
	return "owner " + quote(e.Owner)
}

// ownHost is this machine's name as owners carry it.
var ownHost = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	info, _ := nonce.ParseOwner(nonce.NewOwner(nonce.NewCrypto(), h, os.Getpid()))
	return info.Host
})

// isOwn reports whether e is an entry of this process.
func isOwn(e protocol.Entry) bool {
	return e.Pid == os.Getpid() && e.Host == ownHost()
}
