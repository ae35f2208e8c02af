// Command mutate is the repository's mutation testing: it plants one bug at
// a time (a mutant, see mutants.go) in a scratch copy of the module, runs
// CI's checks against it in a fixed order, and reports which check killed
// it first and how fast.
//
//	go run ./internal/mutate                       # every mutant, table on stdout
//	go run ./internal/mutate -o docs/MUTANTS.md    # ... and the doc regenerated
//	go run ./internal/mutate -mutants no-stamp,no-settle
//	go run ./internal/mutate -subset 3             # CI's rotating subset (day of year)
//	go run ./internal/mutate -list
//
// The checks, in order, each with a time limit (a check that runs out of
// time kills the mutant: CI would fail too). A test check's limit for a
// mutant is a budget derived from the unmutated copy's time for it
// (3 × that + 30 s; the baseline run's, times -j, if it ran first, else
// the typical time recorded in the check's definition), so a mutant that makes a test
// hang is killed by timeout in a few minutes at most, not after go test's
// default ten:
//
//  1. build  go build ./...  (a mutant that does not compile is a broken
//     definition, and the tool fails)
//  2. vet    go vet ./...
//  3. unit   go test -short ./stale ./nonce ./protocol
//  4. sim    go test ./sim (the tests CI runs under -race, here without it
//     and so with their full schedule counts, and those of
//     .ci/check-sim-coverage.sh), then the CLI's simulator tests
//  5. audit  cryolock sim audit (its exit status)
//
// The exit status is 1 when a load-bearing mutant (one that breaks safety)
// survives every check and is not marked as shown redundant by
// docs/PROOF.md, when a mutant's snippet is not found exactly once in its
// package (a stale definition), or when the unmutated copy (the baseline)
// fails a check, which would make every kill meaningless.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	ids      string
	subset   int
	day      int
	jobs     int
	baseline bool
	out      string
	list     bool
	keep     bool
	scale    float64
	logDir   string
}

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("mutate", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var o options
	fl.StringVar(&o.ids, "mutants", "", "comma-separated mutant IDs to run, or \"all\" (default: $CRYOLOCK_MUTANTS, else all)")
	fl.IntVar(&o.subset, "subset", 0, "run only this many mutants: a window of the list chosen by the day of the year (CI's rotation)")
	fl.IntVar(&o.day, "day", 0, "day of the year for -subset (default: today's)")
	fl.IntVar(&o.jobs, "j", 2, "mutants run at once")
	fl.BoolVar(&o.baseline, "baseline", true, "also run every check on the unmutated copy, and fail if it does not pass")
	fl.StringVar(&o.out, "o", "", "also write the report as markdown to this file (docs/MUTANTS.md)")
	fl.BoolVar(&o.list, "list", false, "list the mutants and check their definitions, run nothing")
	fl.BoolVar(&o.keep, "keep", false, "keep the scratch copies")
	fl.StringVar(&o.logDir, "log", "", "write each mutant's killing output (or the baseline's) to DIR/<id>.log")
	fl.Float64Var(&o.scale, "time-scale", 1, "multiply every check's time limit by this")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "mutate: unexpected arguments %q\n", fl.Args())
		return 2
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(stderr, "mutate:", err)
		return 2
	}
	sel, err := selectMutants(mutants, o)
	if err != nil {
		fmt.Fprintln(stderr, "mutate:", err)
		return 2
	}
	// Every definition is checked, not only the selected ones: a stale
	// definition fails the run whichever subset is due today.
	var bad []string
	for _, m := range mutants {
		if _, err := locate(root, m); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if o.list {
		for _, m := range mutants {
			fmt.Fprintf(stdout, "%-30s %-9s %-28s load-bearing=%-5v %s\n", m.ID, m.Pkg, m.Rule, m.LoadBearing, m.What)
		}
	}
	if len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintln(stderr, "mutate: stale definition:", b)
		}
		return 1
	}
	if o.list {
		return 0
	}
	rep, err := runAll(root, sel, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mutate:", err)
		return 1
	}
	md := rep.markdown()
	fmt.Fprint(stdout, md)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(docHeader+md), 0o666); err != nil {
			fmt.Fprintln(stderr, "mutate:", err)
			return 1
		}
	}
	if msg := rep.verdict(); msg != "" {
		fmt.Fprintln(stderr, "mutate: FAIL:", msg)
		return 1
	}
	return 0
}

// selectMutants applies -mutants (or $CRYOLOCK_MUTANTS) and -subset.
func selectMutants(all []Mutant, o options) ([]Mutant, error) {
	ids := o.ids
	if ids == "" {
		ids = os.Getenv("CRYOLOCK_MUTANTS")
	}
	sel := all
	switch {
	case ids == "" || ids == "all":
	default:
		if n, err := strconv.Atoi(ids); err == nil {
			o.subset = n // CRYOLOCK_MUTANTS=5: a rotating subset of 5
			break
		}
		byID := map[string]Mutant{}
		for _, m := range all {
			byID[m.ID] = m
		}
		sel = nil
		for _, id := range strings.Split(ids, ",") {
			m, ok := byID[strings.TrimSpace(id)]
			if !ok {
				return nil, fmt.Errorf("no mutant %q (see -list)", id)
			}
			sel = append(sel, m)
		}
		return sel, nil
	}
	if o.subset > 0 && o.subset < len(sel) {
		day := o.day
		if day == 0 {
			day = time.Now().YearDay()
		}
		sel = window(sel, o.subset, day)
	}
	return sel, nil
}

// window returns the k mutants due on day: the list is cut into consecutive
// windows of k (the last one wrapping around), one per day, so every mutant
// comes up within ceil(len/k) days.
func window(all []Mutant, k, day int) []Mutant {
	n := len(all)
	windows := (n + k - 1) / k
	start := (day % windows) * k
	out := make([]Mutant, 0, k)
	for i := range k {
		out = append(out, all[(start+i)%n])
	}
	return out
}

// moduleRoot finds the directory of the cryolock module's go.mod, from the
// working directory upwards.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/cryolock-go/cryolock\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the cryolock module (no go.mod of github.com/cryolock-go/cryolock above the working directory)")
		}
		dir = parent
	}
}

// locate returns the file of m's package (relative to root) that holds m's
// snippet, which must occur exactly once among the package's non-test .go
// files.
func locate(root string, m Mutant) (string, error) {
	dir := filepath.Join(root, m.Pkg)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", m.ID, err)
	}
	var found []string
	total := 0
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return "", fmt.Errorf("%s: %w", m.ID, err)
		}
		if c := strings.Count(string(b), m.Find); c > 0 {
			total += c
			found = append(found, filepath.Join(m.Pkg, n))
		}
	}
	switch {
	case total == 0:
		return "", fmt.Errorf("%s: its snippet is in no non-test .go file of %s/ (the code changed: update or drop the mutant):\n%s", m.ID, m.Pkg, m.Find)
	case total > 1:
		return "", fmt.Errorf("%s: its snippet occurs %d times in %s/ (%s): make it unique", m.ID, total, m.Pkg, strings.Join(found, ", "))
	}
	return found[0], nil
}

// check is one of CI's checks, run in a scratch copy.
type check struct {
	name string
	// limit caps the check's time: always for the baseline, and for the
	// build and vet checks (a mutant cannot make the compiler hang).
	limit time.Duration
	// typical is the unmutated check's time on a shared, loaded 2-core
	// machine (the baseline of docs/MUTANTS.md); for a test check (typical
	// > 0) a mutant's limit is budgetFor's multiple of it, or of the
	// baseline run's time when the baseline ran first.
	typical time.Duration
	cmds    [][]string
}

var checks = []check{
	{"build", 5 * time.Minute, 0, [][]string{{"go", "build", "./..."}}},
	{"vet", 5 * time.Minute, 0, [][]string{{"go", "vet", "./..."}}},
	{"unit", 6 * time.Minute, 20 * time.Second, [][]string{{"go", "test", "-short", "-count=1", "-failfast", "./stale", "./nonce", "./protocol"}}},
	{"sim", 14 * time.Minute, 70 * time.Second, [][]string{
		{"go", "test", "-count=1", "-failfast", "./sim"},
		{"go", "test", "-count=1", "-run", "^TestSim(V1Clean|LegacyFails|Exhaustive|Audit)$", "./cmd/cryolock"},
	}},
	{"audit", 5 * time.Minute, 25 * time.Second, [][]string{
		{"go", "build", "-o", "cryolock.mutant", "./cmd/cryolock"},
		{"./cryolock.mutant", "sim", "audit"},
	}},
}

// budgets are the time limits of the checks for one run, by check name.
type budgets map[string]time.Duration

// baselineLimits are the checks' caps: the limits of the baseline run.
func baselineLimits(scale float64) budgets {
	b := budgets{}
	for _, c := range checks {
		b[c.name] = time.Duration(float64(c.limit) * scale)
	}
	return b
}

// budgetFor is a test check's limit for a mutant, given the unmutated
// check's time: three times that and half a minute (a loaded machine runs
// the same tests at half speed or worse, two mutants at a time), never more
// than the check's cap. A mutant that makes a test hang is killed by
// timeout within it.
func budgetFor(c check, base time.Duration) time.Duration {
	return min(3*base+30*time.Second, c.limit)
}

// mutantBudgets are the checks' limits for mutants: from the baseline run's
// times when it ran (base, may be nil; it ran alone, and jobs mutants share
// the machine, so its times count jobs times), else from the typical times
// (measured two at a time).
func mutantBudgets(base map[string]time.Duration, scale float64, jobs int) budgets {
	b := budgets{}
	for _, c := range checks {
		lim := c.limit
		if c.typical > 0 {
			t := c.typical
			if bt, ok := base[c.name]; ok && bt > 0 {
				t = bt * time.Duration(max(jobs, 1))
			}
			lim = budgetFor(c, t)
		}
		b[c.name] = time.Duration(float64(lim) * scale)
	}
	return b
}

// result is what happened to one mutant (or the baseline).
type result struct {
	m        Mutant
	file     string
	killedBy string // check name, "" if it survived
	test     string // the failing test or audit row
	after    string // seed or schedules, for simulator kills
	timedOut bool
	toKill   time.Duration // from the mutant's start to its kill (or to the end)
	checks   map[string]time.Duration
	output   string   // of the killing check, trimmed
	full     string   // of the killing check
	flaky    []string // tests that failed but not alone, skipped
	defErr   error    // the mutant is broken (stale, or does not compile)
}

type report struct {
	results  []*result
	baseline *result
	budgets  budgets // the mutants' check limits
	wall     time.Duration
	jobs     int
}

// runAll runs the baseline and the mutants, at most o.jobs at a time, each
// worker in its own scratch copy (reused between its mutants, so that the
// build cache spares what a mutant does not touch).
func runAll(root string, sel []Mutant, o options, log io.Writer) (*report, error) {
	files, err := trackedFiles(root)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "cryolock-mutate-")
	if err != nil {
		return nil, err
	}
	if !o.keep {
		defer os.RemoveAll(tmp)
	} else {
		fmt.Fprintln(log, "mutate: scratch copies in", tmp)
	}
	type job struct {
		m    *Mutant // nil: the baseline
		slot int
	}
	jobs := max(o.jobs, 1)
	queue := make(chan *Mutant, len(sel)+1)
	for i := range sel {
		queue <- &sel[i]
	}
	close(queue)
	rep := &report{jobs: jobs}
	// An interrupt stops the checks (and their process groups) and still
	// removes the scratch copies.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	saveLog := func(m *Mutant, r *result) {
		if o.logDir == "" || r.full == "" {
			return
		}
		id := "baseline"
		if m != nil {
			id = m.ID
		}
		if err := os.WriteFile(filepath.Join(o.logDir, id+".log"), []byte(r.full), 0o666); err != nil {
			fmt.Fprintln(log, "mutate:", err)
		}
	}
	dirs := make([]string, jobs)
	for w := range jobs {
		dirs[w] = filepath.Join(tmp, fmt.Sprintf("copy%d", w))
		if err := copyFiles(root, dirs[w], files); err != nil {
			return nil, err
		}
	}
	// The baseline runs first, alone, with the checks' caps: its times
	// give the mutants' budgets.
	var base map[string]time.Duration
	if o.baseline {
		r := runOne(ctx, dirs[0], nil, baselineLimits(o.scale), log)
		saveLog(nil, r)
		if r.defErr != nil {
			return nil, r.defErr
		}
		rep.baseline, base = r, r.checks
	}
	rep.budgets = mutantBudgets(base, o.scale, jobs)
	for _, dir := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range queue {
				r := runOne(ctx, dir, m, rep.budgets, log)
				saveLog(m, r)
				mu.Lock()
				rep.results = append(rep.results, r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rep.wall = time.Since(start)
	if ctx.Err() != nil {
		return nil, errors.New("interrupted")
	}
	order := map[string]int{}
	for i, m := range sel {
		order[m.ID] = i
	}
	sort.Slice(rep.results, func(i, j int) bool { return order[rep.results[i].m.ID] < order[rep.results[j].m.ID] })
	return rep, nil
}

// trackedFiles lists the module's files as git knows them: tracked, plus
// untracked ones that are not ignored (a new test not yet committed).
func trackedFiles(root string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %w", root, err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

func copyFiles(root, dst string, files []string) error {
	for _, f := range files {
		src := filepath.Join(root, f)
		fi, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the work tree
		}
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(to), 0o777); err != nil {
			return err
		}
		if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// runOne applies m (nil: the baseline) to the copy in dir, runs the checks
// until one fails, and restores the copy.
//
// A failing test counts only when rerunning it alone confirms it: it fails
// twice more with the mutant and passes (once in up to three tries) on the
// unmutated copy. A test that
// passes alone with the mutant, or fails alone without it, failed for
// another reason (a timing-dependent test on a loaded machine): it is noted
// as flaky, skipped, and the check runs again without it. The baseline's
// failing tests are rerun alone up to three times: passing once, they are
// flaky and skipped; failing every time, the baseline is red.
func runOne(ctx context.Context, dir string, m *Mutant, limits budgets, log io.Writer) *result {
	r := &result{checks: map[string]time.Duration{}}
	name := "baseline"
	var path string
	var orig []byte
	mutate := func(on bool) error { return nil }
	if m != nil {
		r.m = *m
		name = m.ID
		file, err := locate(dir, *m)
		if err != nil {
			r.defErr = err
			return r
		}
		r.file = file
		path = filepath.Join(dir, file)
		if orig, err = os.ReadFile(path); err != nil {
			r.defErr = err
			return r
		}
		mutated := []byte(strings.Replace(string(orig), m.Find, m.Replace, 1))
		mutate = func(on bool) error {
			if on {
				return os.WriteFile(path, mutated, 0o666)
			}
			return os.WriteFile(path, orig, 0o666)
		}
		if err := mutate(true); err != nil {
			r.defErr = err
			return r
		}
		defer mutate(false)
	}
	start := time.Now()
	for _, c := range checks {
		t0 := time.Now()
		var skip []string
		for {
			out, timedOut, err := runCheck(ctx, dir, c, skip, limits[c.name])
			r.checks[c.name] = time.Since(t0)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				r.defErr = ctx.Err()
				return r
			}
			if c.name == "build" {
				r.toKill = time.Since(start)
				r.defErr = fmt.Errorf("%s does not compile:\n%s", name, trim(out, 20))
				fmt.Fprintf(log, "mutate: %-30s DOES NOT COMPILE\n", name)
				return r
			}
			test, after := culprit(c.name, out)
			if top := topTest(test); top != "" && !contains(skip, top) {
				withMutant, without := confirm(ctx, dir, c, test, m != nil, mutate, limits[c.name], timedOut)
				genuine := withMutant && without // fails with the mutant only
				if m == nil {
					genuine = !without // the baseline fails it alone too
				}
				if !genuine {
					fmt.Fprintf(log, "mutate: %-30s %s failed in check %s but alone it fails with the mutant: %v, without: %v: flaky, skipped\n",
						name, test, c.name, withMutant, !without)
					r.flaky = append(r.flaky, test)
					skip = append(skip, top)
					continue
				}
			}
			r.toKill = time.Since(start)
			r.killedBy, r.timedOut, r.output, r.full = c.name, timedOut, trim(out, 40), out
			r.test, r.after = test, after
			fmt.Fprintf(log, "mutate: %-30s killed by %s (%s) in %s\n", name, c.name, r.test, r.toKill.Round(time.Second))
			return r
		}
	}
	r.toKill = time.Since(start)
	fmt.Fprintf(log, "mutate: %-30s survived every check (%s)\n", name, r.toKill.Round(time.Second))
	return r
}

// topTest is the top-level test of a culprit ("" if it is not a test).
func topTest(test string) string {
	if !strings.HasPrefix(test, "Test") && !strings.HasPrefix(test, "Example") && !strings.HasPrefix(test, "Fuzz") {
		return ""
	}
	top, _, _ := strings.Cut(test, "/")
	return top
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// confirm reruns the failing test alone, twice with the mutant (if any;
// once if it failed by hanging until the check's limit) and up to three
// times without, each run within limit: it reports whether the test failed
// with the mutant (true for the baseline, which has none) and passed
// without it.
func confirm(ctx context.Context, dir string, c check, test string, isMutant bool, mutate func(bool) error, limit time.Duration, hung bool) (failsWith, passesWithout bool) {
	var pkgs []string
	for _, argv := range c.cmds {
		if len(argv) > 1 && argv[0] == "go" && argv[1] == "test" {
			for _, a := range argv[2:] {
				if strings.HasPrefix(a, "./") {
					pkgs = append(pkgs, a)
				}
			}
		}
	}
	var pat []string
	for _, part := range strings.Split(test, "/") {
		pat = append(pat, "^"+regexp.QuoteMeta(part)+"$")
	}
	alone := check{name: c.name, cmds: [][]string{append([]string{"go", "test", "-count=1", "-run", strings.Join(pat, "/")}, pkgs...)}}
	limit = min(limit, 3*time.Minute)
	failsWith = true
	if isMutant {
		// Twice: a timing-dependent test on a loaded machine can fail
		// alone once by chance. A hang is no chance failure: once.
		tries := 2
		if hung {
			tries = 1
		}
		for range tries {
			if _, _, err := runCheck(ctx, dir, alone, nil, limit); err == nil {
				return false, true
			}
		}
		if mutate(false) != nil {
			return failsWith, false
		}
		defer mutate(true)
	}
	// Up to three times: a test that passes once alone without the mutant
	// is not broken by the unmutated code.
	for range 3 {
		if _, _, err := runCheck(ctx, dir, alone, nil, limit); err == nil {
			return failsWith, true
		}
	}
	return failsWith, false
}

// runCheck runs c's commands in dir within limit, stopping at the first
// failure; go test commands skip the top-level tests named in skip, and
// are given the time left as their -timeout (less a margin, so that go
// test itself reports which test hung).
func runCheck(ctx context.Context, dir string, c check, skip []string, limit time.Duration) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var all bytes.Buffer
	for _, argv := range c.cmds {
		if len(argv) > 1 && argv[0] == "go" && argv[1] == "test" {
			flags := []string{"go", "test"}
			if len(skip) > 0 {
				q := make([]string, len(skip))
				for i, s := range skip {
					q[i] = regexp.QuoteMeta(s)
				}
				flags = append(flags, "-skip", "^("+strings.Join(q, "|")+")$")
			}
			left := time.Until(deadline) - 15*time.Second
			flags = append(flags, fmt.Sprintf("-timeout=%v", max(left, time.Second).Round(time.Second)))
			argv = append(flags, argv[2:]...)
		}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = &all, &all
		cmd.WaitDelay = 10 * time.Second
		reap := killGroup(cmd)
		err := cmd.Run()
		reap()
		if ctx.Err() != nil {
			fmt.Fprintf(&all, "\n(the check ran out of its %v)\n", limit)
			return all.String(), true, ctx.Err()
		}
		if err != nil {
			return all.String(), strings.Contains(all.String(), "panic: test timed out"), err
		}
	}
	return all.String(), false, nil
}

var (
	failRE    = regexp.MustCompile(`--- FAIL: (\S+)`)
	seedRE    = regexp.MustCompile(`\bseed (\d+)`)
	schedRE   = regexp.MustCompile(`\b(\d+) schedules\b`)
	runningRE = regexp.MustCompile(`running tests:\s+(\S+) \(`)
	rowRE     = regexp.MustCompile(`(?m)^\| (\w+) \|.*\*\*FAILED\*\*`)
)

// culprit names what failed in a check's output: the first failing test
// (and, for simulator tests, the seed of the failing schedule — schedules
// are numbered from seed 1, so it is about how many schedules it took), or
// the first audit row that did not come out as stated.
func culprit(check, out string) (what, after string) {
	if check == "audit" {
		if m := rowRE.FindStringSubmatch(out); m != nil {
			what = "row " + m[1]
			line := out[strings.Index(out, m[0]):]
			if i := strings.IndexByte(line, '\n'); i >= 0 {
				line = line[:i]
			}
			if s := seedRE.FindStringSubmatch(line); s != nil {
				after = "seed " + s[1]
			}
			return what, after
		}
		return "exit status", ""
	}
	i := 0
	if m := failRE.FindStringSubmatchIndex(out); m != nil {
		what = out[m[2]:m[3]]
		i = m[0]
	} else if strings.Contains(out, "panic: test timed out") {
		// The test that hung: go test lists the running ones.
		what = "test timed out"
		if m := runningRE.FindStringSubmatch(out); m != nil {
			what = m[1]
		}
	} else if strings.Contains(out, "ran out of its") {
		what = "time limit"
	} else {
		what = "exit status"
	}
	if check == "sim" {
		// The first seed mentioned after the failure line (the test's
		// own report precedes its --- FAIL line in go test's output, so
		// look before it as well).
		if s := seedRE.FindStringSubmatch(out[i:]); s != nil {
			after = "seed " + s[1]
		} else if s := seedRE.FindStringSubmatch(out); s != nil {
			after = "seed " + s[1]
		} else if s := schedRE.FindStringSubmatch(out); s != nil {
			after = s[1] + " schedules"
		}
	}
	return what, after
}

// trim keeps the first n lines of out.
func trim(out string, n int) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var b strings.Builder
	for i := 0; sc.Scan() && i < n; i++ {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return b.String()
}

// verdict is "" when the run passes, else why it fails.
func (r *report) verdict() string {
	var why []string
	if b := r.baseline; b != nil && b.killedBy != "" {
		why = append(why, fmt.Sprintf("the unmutated copy fails check %s (%s): every kill is meaningless until it passes\n%s", b.killedBy, b.test, b.output))
	}
	for _, x := range r.results {
		switch {
		case x.defErr != nil:
			why = append(why, x.defErr.Error())
		case x.killedBy == "" && x.m.LoadBearing && x.m.Redundant == "":
			why = append(why, fmt.Sprintf("load-bearing mutant %s (%s: %s) survived every check: add the check that kills it", x.m.ID, x.m.Rule, x.m.What))
		}
	}
	return strings.Join(why, "\n")
}

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| mutant | package | rule | load-bearing | killed by | first failing test / row | after | time to kill |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|\n")
	killed, survived := 0, 0
	for _, x := range r.results {
		lb := "no"
		switch {
		case x.m.LoadBearing && x.m.Redundant != "":
			lb = "shown redundant: " + x.m.Redundant
		case x.m.LoadBearing:
			lb = "**yes**"
		case x.m.Breaks != "":
			lb = "no — " + x.m.Breaks
		}
		by, test, after, t := "—", "—", "—", "—"
		switch {
		case x.defErr != nil:
			by = "**broken definition**"
		case x.killedBy != "":
			killed++
			by = x.killedBy
			if x.timedOut {
				by += " (time limit)"
			}
			test = "`" + x.test + "`"
			if x.after != "" {
				after = x.after
			}
			t = x.toKill.Round(time.Second).String()
		default:
			survived++
			by = "**survived**"
			if x.m.LoadBearing && x.m.Redundant == "" {
				by = "**SURVIVED (load-bearing)**"
			}
			t = "(all checks: " + x.toKill.Round(time.Second).String() + ")"
		}
		if len(x.flaky) > 0 {
			test += " (failed but not alone, skipped: " + strings.Join(x.flaky, ", ") + ")"
		}
		fmt.Fprintf(&b, "| `%s` — %s | %s | %s | %s | %s | %s | %s | %s |\n", x.m.ID, x.m.What, x.m.Pkg, x.m.Rule, lb, by, test, after, t)
	}
	notes := false
	for _, x := range r.results {
		if x.m.Note == "" {
			continue
		}
		if !notes {
			fmt.Fprintf(&b, "\nNotes:\n\n")
			notes = true
		}
		fmt.Fprintf(&b, "- `%s`: %s\n", x.m.ID, x.m.Note)
	}
	fmt.Fprintf(&b, "\n%d mutants: %d killed, %d survived; wall time %s with %d at a time",
		len(r.results), killed, survived, r.wall.Round(time.Second), r.jobs)
	if r.baseline != nil {
		fmt.Fprintf(&b, " (including the baseline run: every check on the unmutated copy, %s", r.baseline.toKill.Round(time.Second))
		var parts []string
		for _, c := range checks {
			parts = append(parts, fmt.Sprintf("%s %s", c.name, r.baseline.checks[c.name].Round(time.Second)))
		}
		fmt.Fprintf(&b, ": %s)", strings.Join(parts, ", "))
		if len(r.baseline.flaky) > 0 {
			fmt.Fprintf(&b, ".\nOn the unmutated copy these tests failed in the full run but passed alone (timing-dependent on a loaded machine), and were skipped there: %s", strings.Join(r.baseline.flaky, ", "))
		}
	}
	fmt.Fprintf(&b, ".\n")
	if len(r.budgets) > 0 {
		var parts []string
		for _, c := range checks {
			if c.typical > 0 {
				parts = append(parts, fmt.Sprintf("%s %s", c.name, r.budgets[c.name].Round(time.Second)))
			}
		}
		src := "the typical times recorded in internal/mutate, two mutants at a time"
		if r.baseline != nil {
			src = fmt.Sprintf("this run's baseline, which ran alone, × %d mutants at a time", r.jobs)
		}
		fmt.Fprintf(&b, "A mutant's test checks ran within budgets of 3 × the unmutated check's time + 30 s (%s): %s; a check that runs out of its budget kills the mutant by timeout (\"time limit\" above).\n",
			src, strings.Join(parts, ", "))
	}
	return b.String()
}
