//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// statusJSON runs `cryolock status --json [flags] lock` and decodes its output,
// checking that exactly the documented keys are present.
func statusJSON(t *testing.T, lock string, flags ...string) (int, statusReport) {
	t.Helper()
	code, stdout, stderr := runCLI(t, "", append(append([]string{"status", "--json"}, flags...), lock)...)
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &keys); err != nil {
		t.Fatalf("status --json: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	var got []string
	for k := range keys {
		got = append(got, k)
	}
	slices.Sort(got)
	want := []string{"contenders", "exists", "foreign", "holder", "holders", "ignored", "now", "path", "rule", "stale", "state"}
	if !slices.Equal(got, want) {
		t.Errorf("status --json keys %v, want %v", got, want)
	}
	for _, k := range []string{"holders", "contenders", "stale", "foreign", "ignored"} {
		if string(keys[k]) == "null" {
			t.Errorf("status --json: %s is null, want an array", k)
		}
	}
	var r statusReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	return code, r
}

func TestStatusFree(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)

	code, stdout, _ := runCLI(t, "", "status", lock)
	if code != statusFree || !strings.Contains(stdout, "free") || !strings.Contains(stdout, "does not exist") {
		t.Errorf("status of a missing directory: status %d, stdout %q; want 0 and free", code, stdout)
	}
	code, r := statusJSON(t, lock)
	if code != statusFree || r.Exists || r.State != "free" || r.Holder != nil {
		t.Errorf("status --json of a missing directory: status %d, %+v", code, r)
	}
	if _, err := os.Stat(lock); err == nil {
		t.Errorf("status created %s", lock)
	}

	if err := os.Mkdir(lock, 0o777); err != nil {
		t.Fatal(err)
	}
	// A stale entry (old heartbeat, 1 s lease) leaves the lock free.
	old := filepath.Join(lock, "old_1_abcdefghijkl.5")
	if err := os.WriteFile(old, []byte("1"), 0o666); err != nil {
		t.Fatal(err)
	}
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	code, r = statusJSON(t, lock)
	if code != statusFree || !r.Exists || r.State != "free" || r.Holder != nil || len(r.Stale) != 1 {
		t.Fatalf("status --json with a stale entry: status %d, %+v; want free with one stale entry", code, r)
	}
	s := r.Stale[0]
	if s.Name != "old_1_abcdefghijkl.5" || s.Live || s.Host == nil || *s.Host != "old" || s.Pid == nil || *s.Pid != 1 ||
		s.Ticket != 5 || s.Lease != "1s" || s.LeaseSeconds == nil || *s.LeaseSeconds != 1 || s.AgeSeconds < 3000 {
		t.Errorf("stale entry %+v", s)
	}
	code, stdout, _ = runCLI(t, "", "status", lock)
	if code != statusFree || !strings.Contains(stdout, "stale") || !strings.Contains(stdout, "old_1_abcdefghijkl.5") {
		t.Errorf("status text with a stale entry: status %d, stdout %q", code, stdout)
	}
	if names := entries(t, lock); !slices.Equal(names, []string{"old_1_abcdefghijkl.5"}) {
		t.Errorf("status changed the directory: %v", names)
	}
}

func TestStatusHeld(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	h := startHolder(t, lock, "--lease", "7s")

	code, r := statusJSON(t, lock)
	if code != statusHeld || r.State != "held" || r.Holder == nil || !r.Exists || r.Rule != "wallclock" {
		t.Fatalf("status --json while held: status %d, %+v", code, r)
	}
	e := r.Holder
	host, _ := os.Hostname()
	if e.Name != h.entry || !e.Live || e.Pid == nil || *e.Pid != h.cmd.Process.Pid || e.Host == nil || *e.Host == "" ||
		e.Lease != "7s" || e.LeaseSeconds == nil || *e.LeaseSeconds != 7 || !strings.HasPrefix(e.Name, e.Owner+".") {
		t.Errorf("holder %+v; want %s, live, pid %d, a host (this one is %q), lease 7s", *e, h.entry, h.cmd.Process.Pid, host)
	}
	if len(r.Contenders) != 0 || len(r.Stale) != 0 || len(r.Foreign) != 0 {
		t.Errorf("status --json while held: %+v, want only a holder", r)
	}

	// With a second live entry, the one with the lower ticket is the likely
	// holder (ties, at odds of 2^-32, go by name).
	for _, tc := range []struct {
		other      string
		otherFirst bool
	}{
		{"py-contender.2147483647", false},
		{"py-contender.-2147483648", true},
	} {
		other := filepath.Join(lock, tc.other)
		if err := os.WriteFile(other, []byte("10"), 0o666); err != nil {
			t.Fatal(err)
		}
		code, r = statusJSON(t, lock)
		if code != statusHeld || r.Holder == nil || len(r.Contenders) != 1 {
			t.Fatalf("status --json with two live entries: status %d, %+v", code, r)
		}
		want := []string{h.entry, tc.other}
		if tc.otherFirst {
			want = []string{tc.other, h.entry}
		}
		if r.Holder.Ticket == r.Contenders[0].Ticket {
			slices.Sort(want)
		}
		if got := []string{r.Holder.Name, r.Contenders[0].Name}; !slices.Equal(got, want) {
			t.Errorf("holder and contender %v, want %v", got, want)
		}
		for _, e := range append([]statusEntry{*r.Holder}, r.Contenders...) {
			if e.Name == tc.other && (e.Host != nil || e.Pid != nil || e.Owner != "py-contender") {
				t.Errorf("an owner of another shape got host/pid: %+v", e)
			}
		}
		if err := os.Remove(other); err != nil {
			t.Fatal(err)
		}
	}

	code, stdout, _ := runCLI(t, "", "status", lock)
	if code != statusHeld || !strings.Contains(stdout, "held") || !strings.Contains(stdout, "holder (likely): "+h.entry) ||
		!strings.Contains(stdout, "live") || !strings.Contains(stdout, "wall-clock rule") {
		t.Errorf("status text while held: status %d, stdout %q", code, stdout)
	}
	if code := h.release(); code != 0 {
		t.Fatalf("holder: status %d; stderr: %s", code, h.stderr)
	}
	if code, r := statusJSON(t, lock); code != statusFree || r.State != "free" || r.Holder != nil {
		t.Errorf("status --json after release: status %d, %+v", code, r)
	}
}

func TestStatusForeign(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	if err := os.MkdirAll(filepath.Join(lock, ".meta"), 0o777); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"junk.txt": "x", "bad.7": "hello"} {
		if err := os.WriteFile(filepath.Join(lock, name), []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	code, r := statusJSON(t, lock)
	if code != statusBlocked || r.State != "blocked" {
		t.Fatalf("status --json with foreign entries: status %d, %+v; want %d blocked", code, r, statusBlocked)
	}
	var names []string
	for _, f := range r.Foreign {
		names = append(names, f.Name)
		if f.Reason == "" {
			t.Errorf("foreign %s has no reason", f.Name)
		}
	}
	if !slices.Equal(names, []string{"bad.7", "junk.txt"}) || !slices.Equal(r.Ignored, []string{".meta"}) {
		t.Errorf("foreign %v, ignored %v; want [bad.7 junk.txt] and [.meta]", names, r.Ignored)
	}
	code, stdout, _ := runCLI(t, "", "status", lock)
	if code != statusBlocked || !strings.Contains(stdout, "junk.txt: the name is not <owner>.<ticket>") || !strings.Contains(stdout, "bad.7: ") {
		t.Errorf("status text with foreign entries: status %d, stdout %q", code, stdout)
	}
	if got := entries(t, lock); len(got) != 2 { // .meta is a directory, not an entry
		t.Errorf("status changed the directory: %v", got)
	}
}

func TestStatusBadInput(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file.cryolock")
	if err := os.WriteFile(file, []byte("x"), 0o666); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, "link.cryolock")
	if err := os.Symlink(tmp, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want int
		says string
	}{
		{[]string{"status", filepath.Join(tmp, "x.lock")}, exitUsage, filepath.Join(tmp, "x.lock")},
		{[]string{"status", "--json", file}, exitUsage, file},
		{[]string{"status", link}, exitUsage, link},
		{[]string{"status"}, exitUsage, "LOCKDIR"},
		{[]string{"status", "a.cryolock", "b.cryolock"}, exitUsage, "LOCKDIR"},
	} {
		code, stdout, stderr := runCLI(t, "", tc.args...)
		if code != tc.want || !strings.Contains(stderr, tc.says) || stdout != "" {
			t.Errorf("cryolock %q: status %d, stdout %q, stderr %q; want status %d and a message containing %q", tc.args, code, stdout, stderr, tc.want, tc.says)
		}
	}
}

func TestStatusHelpDocumentsExitCodes(t *testing.T) {
	t.Parallel()
	code, stdout, _ := runCLI(t, "", "status", "--help")
	if code != 0 {
		t.Fatalf("status --help: status %d", code)
	}
	for _, s := range []string{"Exit status", "free", "held", "blocked", "64", "74", "one-shot", "wall-clock", "LOWEST ticket", "age_seconds", "lease_seconds", "--slots N"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("status --help does not mention %q", s)
		}
	}
}

// plantLive makes live entries (a lease of a minute) of owners of another
// host in lock, one for each ticket, and returns their names in ticket order.
func plantLive(t *testing.T, lock string, tickets ...int) []string {
	t.Helper()
	if err := os.MkdirAll(lock, 0o777); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tk := range tickets {
		name := fmt.Sprintf("otherhost_%d_abcdefghijkl.%d", 1000+tk, tk)
		if err := os.WriteFile(filepath.Join(lock, name), []byte("60"), 0o666); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

func entryNames(es []statusEntry) []string {
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
	}
	return names
}

// A semaphore's holders: with --slots 3 the three lowest live writers'
// entries hold, and a fourth contends.
func TestStatusSlots(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	three := plantLive(t, lock, 30, 10, 20)
	slices.Sort(three) // tickets 10, 20, 30: same order by name
	code, r := statusJSON(t, lock, "--slots", "3")
	if code != statusHeld || r.State != "held" || r.Holder == nil || r.Holder.Name != three[0] ||
		!slices.Equal(entryNames(r.Holders), three) || len(r.Contenders) != 0 {
		t.Errorf("status --slots 3 with three live entries: status %d, holders %v, contenders %v; want %d, holders %v and none contending",
			code, entryNames(r.Holders), entryNames(r.Contenders), statusHeld, three)
	}
	code, stdout, stderr := runCLI(t, "", "status", "--slots", "3", lock)
	if code != statusHeld || !strings.Contains(stdout, "holders (likely, 3 writers") || strings.Contains(stdout, "contending") {
		t.Errorf("status --slots 3 text with three live entries: status %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	fourth := plantLive(t, lock, 40)
	code, r = statusJSON(t, lock, "--slots", "3")
	if code != statusHeld || !slices.Equal(entryNames(r.Holders), three) || !slices.Equal(entryNames(r.Contenders), fourth) {
		t.Errorf("status --slots 3 with four live entries: status %d, holders %v, contenders %v; want %d, holders %v, contending %v",
			code, entryNames(r.Holders), entryNames(r.Contenders), statusHeld, three, fourth)
	}
	code, stdout, _ = runCLI(t, "", "status", "--slots", "3", lock)
	if code != statusHeld || !strings.Contains(stdout, "holders (likely, 3 writers") || !strings.Contains(stdout, "contending (1)") ||
		strings.Contains(stdout, "if this is a semaphore") {
		t.Errorf("status --slots 3 text with four live entries: status %d, stdout %q", code, stdout)
	}

	for _, bad := range []string{"0", "-1"} {
		code, stdout, stderr := runCLI(t, "", "status", "--slots", bad, lock)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, "--slots "+bad+": want at least 1") {
			t.Errorf("status --slots %s: status %d, stdout %q, stderr %q; want %d", bad, code, stdout, stderr, exitUsage)
		}
	}
}

// Without --slots, status says that several live writers' entries may all
// hold if the lock is a semaphore, and names one holder as before.
func TestStatusSlotsHint(t *testing.T) {
	t.Parallel()
	lock := newLockPath(t)
	plantLive(t, lock, 10)
	const hint = "if this is a semaphore, cryolock run --slots N, up to N of these live writers' entries may hold at once"
	code, stdout, _ := runCLI(t, "", "status", lock)
	if code != statusHeld || strings.Contains(stdout, hint) {
		t.Errorf("status with one live entry: status %d, stdout %q; want %d and no semaphore hint", code, stdout, statusHeld)
	}
	plantLive(t, lock, 20, 30)
	code, stdout, _ = runCLI(t, "", "status", lock)
	if code != statusHeld || !strings.Contains(stdout, hint) || !strings.Contains(stdout, "holder (likely): ") ||
		!strings.Contains(stdout, "contending (2)") {
		t.Errorf("status with three live entries: status %d, stdout %q; want %d, one holder, two contending and the hint %q", code, stdout, statusHeld, hint)
	}
	if _, stdout, _ := runCLI(t, "", "status", "--slots", "3", lock); strings.Contains(stdout, hint) {
		t.Errorf("status --slots 3 gave the hint: %q", stdout)
	}
}
