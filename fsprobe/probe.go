package fsprobe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cryolock-go/cryolock/protocol"
)

// Defaults of [Options].
const (
	DefaultTimeout     = 5 * time.Second
	DefaultSamples     = 7
	DefaultPeerTimeout = 5 * time.Minute
	DefaultPeerRounds  = 2
	// DefaultPeerMeasureTimeout is the default of Options.PeerMeasureTimeout.
	DefaultPeerMeasureTimeout = 90 * time.Second
	DefaultCacheMaxAge        = 24 * time.Hour
)

// ScratchPrefix starts the name of the scratch directory [Probe] creates in
// the probed directory (followed by "<pid>-<unix seconds>-<16 hex
// digits>-<host>"); [PeerDirName] is the fixed scratch directory of the
// two-party mode.
const (
	ScratchPrefix = ".cryolock-probe-"
	PeerDirName   = ".cryolock-probe-peer"
)

// ErrUnusable is wrapped by errors about a directory the probe cannot work
// in at all (missing, not a directory, not writable).
var ErrUnusable = errors.New("directory unusable for probing")

// Options configure [Probe], [Peer] and [Cached]. The zero value means every
// default; a negative duration or count is an error wrapping
// [protocol.ErrConfig].
type Options struct {
	// Timeout bounds the single-client probe (default 5 s). Sampling
	// stops early when its share of the budget is used; if the budget
	// runs out altogether, Probe returns an error wrapping
	// context.DeadlineExceeded (after cleaning up).
	Timeout time.Duration
	// Samples is the number of timed repetitions of each primitive
	// (default 7).
	Samples int
	// FS performs the protocol's primitives (default protocol.OSFS()).
	// The informational checks (O_EXCL, link, rename, flock), statfs and
	// the mount table always use the operating system (the checks on Unix
	// relative to a descriptor of the scratch directory: the handle's with
	// protocol.OSFS, else one opened at its path without following a link;
	// on other systems by path).
	FS protocol.FS
	// Peer makes Probe also run the two-party measurement ([Peer]) and
	// fold it into the report and the recommendation.
	Peer bool
	// PeerTimeout bounds the two-party measurement, waiting for the peer
	// included (default 5 min: with sshfs's default 20 s caches one round
	// takes about two minutes, as every step waits out a cache twice).
	PeerTimeout time.Duration
	// PeerMeasureTimeout bounds each mtime measurement of the two-party
	// mode (default 90 s, beyond the longest attribute cache of NFS's
	// defaults): a side that does not see the other's mtime within it
	// reports so and goes on, so that the run still ends with a joint
	// verdict (see [PeerReport.MtimeMissed]).
	PeerMeasureTimeout time.Duration
	// PeerRounds is the number of two-party rounds (default 2; each side
	// leads every other round). Both sides must use the same number.
	PeerRounds int
	// Progress, if set, receives a line of text after each measurement of
	// the two-party mode (which can take minutes on cached mounts).
	Progress func(msg string)
	// CacheMaxAge is how long [Cached] trusts a stored report (default
	// 24 h).
	CacheMaxAge time.Duration

	// step, if set, is called at every step of the probe (tests cancel
	// the context from it).
	step func(name string)
	// local is the single-client report Probe hands to the two-party
	// mode, for the joint verdict.
	local *Report
	// clock times the two-party mode's measurements and paces its polls
	// (default: the real clock; tests use a virtual one).
	clock peerClock
	// osFS: FS is the default, so directories are made with os.Mkdir,
	// which never creates a missing parent (protocol.FS has only MkdirAll).
	osFS bool
}

// mkdir makes one directory (an existing one is an error unless existOK).
// With the OS filesystem it never creates a missing parent, so that a probe
// never recreates a directory removed under it.
func (o Options) mkdir(path string, existOK bool) error {
	if !o.osFS {
		if !existOK {
			if d, err := o.FS.OpenDir(nil, path, false, 0); err == nil {
				d.Close()
				return &fs.PathError{Op: "mkdir", Path: path, Err: fs.ErrExist}
			}
		}
		d, err := o.FS.OpenDir(nil, path, true, 0o777)
		if err != nil {
			return err
		}
		return d.Close()
	}
	err := os.Mkdir(path, 0o777)
	if existOK && errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
			return nil
		}
	}
	return err
}

// check reports a negative field (zero means the default) as an error
// wrapping protocol.ErrConfig.
func (o Options) check() error {
	for _, f := range []struct {
		name string
		bad  bool
		v    any
	}{
		{"Timeout", o.Timeout < 0, o.Timeout},
		{"Samples", o.Samples < 0, o.Samples},
		{"PeerTimeout", o.PeerTimeout < 0, o.PeerTimeout},
		{"PeerMeasureTimeout", o.PeerMeasureTimeout < 0, o.PeerMeasureTimeout},
		{"PeerRounds", o.PeerRounds < 0, o.PeerRounds},
		{"CacheMaxAge", o.CacheMaxAge < 0, o.CacheMaxAge},
	} {
		if f.bad {
			return fmt.Errorf("%w: Options.%s %v is negative (0 means the default)", protocol.ErrConfig, f.name, f.v)
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Samples <= 0 {
		o.Samples = DefaultSamples
	}
	if o.FS == nil {
		o.FS = protocol.OSFS()
		o.osFS = true
	}
	if o.PeerTimeout <= 0 {
		o.PeerTimeout = DefaultPeerTimeout
	}
	if o.PeerRounds <= 0 {
		o.PeerRounds = DefaultPeerRounds
	}
	if o.clock == nil {
		o.clock = realClock{}
	}
	if o.PeerMeasureTimeout <= 0 {
		o.PeerMeasureTimeout = DefaultPeerMeasureTimeout
	}
	if o.CacheMaxAge <= 0 {
		o.CacheMaxAge = DefaultCacheMaxAge
	}
	return o
}

// prober is one run of Probe.
type prober struct {
	parent  context.Context // the caller's
	ctx     context.Context // parent with the time budget
	o       Options
	fs      protocol.FS
	dir     string
	real    string // dir, symbolic links resolved
	scratch string
	pd      protocol.Dir  // real, open; the scratch directory is made and removed in it
	sd      protocol.Dir  // scratch, open; every primitive acts on names in it
	budget  time.Duration // per sampling phase
	created []string      // paths created, in order
	r       *Report
	warn    []string // for the report's warnings
}

// Probe measures dir: it identifies the filesystem, tries each primitive the
// protocol needs (and, for information, O_EXCL, hard links, rename-over and
// flock), times them, measures the mtime granularity, the clock skew against
// the file server and the listing coherence seen from this client, and
// derives a [Recommendation]. With Options.Peer it also runs [Peer].
//
// Probe works inside a scratch subdirectory of dir named [ScratchPrefix] plus
// "<pid>-<unix seconds>-<random>-<host>", which it creates and removes
// before returning, also when ctx is cancelled or the time budget runs out
// (it never creates dir itself). Every step acts on names in the scratch
// directory's handle, and the cleanup removes only the names the probe
// created there, then the directory by its name in dir if it is still the
// one the probe made; one renamed or replaced meanwhile by another user is
// left alone, with a warning (Recommendation.Warnings) naming it. A probe that was killed cannot: so, with the
// OS filesystem, Probe first removes the scratch directories of earlier
// probes that are abandoned — made on this host by a process that no longer
// exists, or older than [AbandonedAge] by both their name and their mtime —
// and hold nothing but what a probe creates (directories named with the
// older "<16 hex digits>" suffix: by mtime alone). It touches nothing else
// in dir: not a link, not a directory holding anything else, not
// [PeerDirName]. It takes at most about
// Options.Timeout, plus the duration of one system call that a slow
// filesystem will not interrupt.
//
// On error the returned report holds what was measured so far. Errors are
// [*protocol.Error] values (Op "probe" or "peer") that wrap [ErrUnusable]
// (dir empty, missing, not a directory or not writable), ctx.Err() or
// context.DeadlineExceeded.
func Probe(ctx context.Context, dir string, opts Options) (Report, error) {
	o := opts.withDefaults()
	start := time.Now()
	r := Report{Version: ReportVersion, Started: start}
	r.Host, _ = os.Hostname()
	if err := opts.check(); err != nil {
		return r, &protocol.Error{Op: "probe", Path: dir, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return r, &protocol.Error{Op: "probe", Path: dir, Err: err}
	}
	if dir == "" { // not the working directory by accident
		return r, &protocol.Error{Op: "probe", Err: fmt.Errorf("%w: empty path", ErrUnusable)}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return r, &protocol.Error{Op: "probe", Path: dir, Err: fmt.Errorf("%w: %w", ErrUnusable, err)}
	}
	r.Dir = abs
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return r, &protocol.Error{Op: "probe", Path: abs, Err: fmt.Errorf("%w: %w", ErrUnusable, err)}
	}
	if fi, err := os.Stat(real); err != nil {
		return r, &protocol.Error{Op: "probe", Path: abs, Err: fmt.Errorf("%w: %w", ErrUnusable, err)}
	} else if !fi.IsDir() {
		return r, &protocol.Error{Op: "probe", Path: abs, Err: fmt.Errorf("%w: not a directory", ErrUnusable)}
	}
	r.Filesystem = identify(real)

	pctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	p := &prober{
		parent: ctx, ctx: pctx, o: o, fs: o.FS, dir: abs, real: real, r: &r,
		scratch: filepath.Join(abs, scratchName(r.Host, os.Getpid(), start, randHex())),
		budget:  o.Timeout / 8,
	}
	if o.osFS {
		reapScratch(abs, r.Host, start)
	}
	err = p.run()
	p.cleanup()
	if err == nil && o.Peer {
		var pr PeerReport
		local := r
		o.local = &local
		pr, err = Peer(ctx, dir, o)
		if pr.Rounds > 0 {
			r.Peer = &pr // partial results still inform the recommendation
		}
	}
	r.Recommendation = Recommend(r)
	if v := r.Peer.joint(); v != nil {
		// Both sides report the one recommendation they agreed on.
		r.Recommendation = *v.Recommendation
	}
	r.Recommendation.Warnings = append(r.Recommendation.Warnings, p.warn...)
	r.Elapsed = Duration(time.Since(start))
	return r, err
}

// step marks a step of the probe: it calls the test hook and reports the
// context's error.
func (p *prober) step(name string) error {
	if p.o.step != nil {
		p.o.step(name)
	}
	if err := ctxErr(p.ctx); err != nil {
		if p.parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return &protocol.Error{Op: "probe", Path: p.dir, Err: fmt.Errorf("the time budget of %v ran out at %s (a longer Options.Timeout, or --timeout, gives a slow filesystem more time): %w", p.o.Timeout, name, err)}
		}
		return &protocol.Error{Op: "probe", Path: p.dir, Err: fmt.Errorf("interrupted at %s: %w", name, err)}
	}
	return nil
}

// ctxErr is ctx.Err(), and DeadlineExceeded as soon as the deadline has
// passed (ctx.Err() only reports it once the runtime's timer has fired).
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// cleanup removes the names the probe created in the scratch directory's
// handle, newest first, then the scratch directory, by its name in the
// parent's handle, if it is still the directory the probe made (Verify:
// the same device and inode). One renamed or replaced under the probe
// (another user can, in a world-writable parent without the sticky bit) is
// left where it is, with a warning naming the path: the probe never
// removes what it did not create. (Residual race: a directory swapped in
// between the check and the removal is removed if it is empty.) It ignores
// the context.
func (p *prober) cleanup() {
	for i := len(p.created) - 1; i >= 0; i-- {
		if c := p.created[i]; c != p.scratch && p.sd != nil {
			p.fs.Remove(p.sd, filepath.Base(c))
		}
	}
	made := slices.Contains(p.created, p.scratch)
	p.created = nil
	if p.sd != nil && p.pd != nil && made {
		if err := p.fs.Verify(p.sd); err != nil {
			p.warn = append(p.warn, fmt.Sprintf("the probe's scratch directory %s was renamed or replaced while it ran (another user can, where everyone may write and the sticky bit is off): the probe left what is at that path alone, and its own directory, emptied, wherever it is now (%v)", p.scratch, err))
		} else if err := p.fs.Remove(p.pd, filepath.Base(p.scratch)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			p.warn = append(p.warn, fmt.Sprintf("the probe could not remove its scratch directory %s: %v", p.scratch, err))
		}
	}
	if p.sd != nil {
		p.sd.Close()
		p.sd = nil
	}
	if p.pd != nil {
		p.pd.Close()
		p.pd = nil
	}
}

// more reports whether a sampling loop that started at t0 should take
// sample i.
func (p *prober) more(i int, t0 time.Time) bool {
	if i >= p.o.Samples {
		return false
	}
	return i < 2 || time.Since(t0) < p.budget
}

func (p *prober) run() error {
	r := p.r
	pr := &r.Primitives
	if err := p.step("start"); err != nil {
		return err
	}
	// mkdir: the scratch directory, then a few timed subdirectories.
	// The scratch directory is made in, and opened from, a handle on dir,
	// so that the handle is the directory made (see cleanup).
	var mk, rmDir timer
	var err error
	if p.pd, err = p.fs.OpenDir(nil, p.real, false, 0); err != nil {
		return &protocol.Error{Op: "probe", Path: p.dir, Err: fmt.Errorf("%w: %w", ErrUnusable, err)}
	}
	name := filepath.Base(p.scratch)
	t := start()
	if d, err := p.fs.OpenDir(p.pd, name, false, 0); err == nil {
		d.Close()
		err = &fs.PathError{Op: "mkdir", Path: p.scratch, Err: fs.ErrExist}
		pr.Mkdir.Error = err.Error()
		return &protocol.Error{Op: "probe", Path: p.dir, Err: fmt.Errorf("%w: cannot create a scratch directory: %w", ErrUnusable, err)}
	}
	p.sd, err = p.fs.OpenDir(p.pd, name, true, 0o777)
	mk.add(t)
	if err != nil {
		pr.Mkdir.Error = err.Error()
		return &protocol.Error{Op: "probe", Path: p.dir, Err: fmt.Errorf("%w: cannot create a scratch directory: %w", ErrUnusable, err)}
	}
	p.created = append(p.created, p.scratch)
	if err := p.step("mkdir"); err != nil {
		return err
	}
	t0 := time.Now()
	for i := 0; p.more(i+1, t0); i++ {
		d := filepath.Join(p.scratch, fmt.Sprintf("d%d", i))
		t := start()
		sub, err := p.fs.OpenDir(p.sd, filepath.Base(d), true, 0o777)
		if err == nil {
			err = sub.Close()
		}
		if err != nil {
			pr.Mkdir.Error = err.Error()
			break
		}
		mk.add(t)
		p.created = append(p.created, d)
		if err := p.step("mkdir-sample"); err != nil {
			return err
		}
		t = start()
		if err := p.fs.Remove(p.sd, filepath.Base(d)); err != nil {
			pr.Remove.Error = err.Error()
			break
		}
		rmDir.add(t)
		p.created = p.created[:len(p.created)-1]
	}
	pr.Mkdir.Works = pr.Mkdir.Error == ""
	pr.Mkdir.Timing = mk.stats()

	if err := p.files(); err != nil {
		return err
	}
	return p.extras()
}

// files measures create+write, list, stat, read, set-mtime and remove on a
// set of files, and from them the skew, the granularity and the listing
// coherence.
func (p *prober) files() error {
	r := p.r
	pr := &r.Primitives
	var create, list, st, read, chtimes, remove, lag timer
	type write struct{ mtime, before, after time.Time }
	var writes []write
	var paths []string
	listed, gone := true, true
	samples := 0
	fail := func(prim *Primitive, err error) {
		if prim.Error == "" {
			prim.Error = err.Error()
		}
	}

	t0 := time.Now()
	for i := 0; p.more(i, t0); i++ {
		name := fmt.Sprintf("f%d.%d", i, i)
		path := filepath.Join(p.scratch, name)
		before := time.Now()
		t := start()
		err := p.fs.WriteFile(p.sd, filepath.Base(path), []byte("10"), 0o666)
		create.add(t)
		after := time.Now()
		p.created = append(p.created, path)
		if err != nil {
			fail(&pr.Create, err)
			create.drop()
			break
		}
		paths = append(paths, path)
		if err := p.step("create"); err != nil {
			return err
		}
		// Listed at once?
		samples++
		t = start()
		ents, err := p.fs.ReadDir(p.sd)
		list.add(t)
		if err != nil {
			fail(&pr.List, err)
			list.drop()
		} else if !hasName(ents, name) {
			listed = false
			d, err := p.waitListing(name, true)
			if err != nil {
				return err
			}
			lag.addD(d)
		}
		if err := p.step("list"); err != nil {
			return err
		}
		t = start()
		fi, err := p.fs.Stat(p.sd, filepath.Base(path))
		st.add(t)
		if err != nil {
			fail(&pr.Stat, err)
			st.drop()
		} else {
			writes = append(writes, write{fi.ModTime, before, after})
		}
		if err := p.step("stat"); err != nil {
			return err
		}
		t = start()
		b, _, err := p.fs.ReadFile(p.sd, filepath.Base(path))
		read.add(t)
		if err != nil {
			fail(&pr.Read, err)
			read.drop()
		} else if string(b) != "10" {
			fail(&pr.Read, fmt.Errorf("read %s: got %q, wrote %q", path, b, "10"))
		}
		if err := p.step("read"); err != nil {
			return err
		}
	}
	pr.Create.Works, pr.Create.Timing = pr.Create.Error == "" && create.n > 0, create.stats()
	pr.List.Works, pr.List.Timing = pr.List.Error == "" && list.n > 0, list.stats()
	pr.Stat.Works, pr.Stat.Timing = pr.Stat.Error == "" && st.n > 0, st.stats()
	pr.Read.Works, pr.Read.Timing = pr.Read.Error == "" && read.n > 0, read.stats()

	// Set explicit mtimes with distinctive sub-second parts and read them
	// back: exactness and granularity.
	exact := true
	var gran time.Duration
	for i, path := range paths {
		want := explicitTime(i)
		t := start()
		err := p.fs.Chtimes(p.sd, filepath.Base(path), want, want)
		chtimes.add(t)
		if err != nil {
			fail(&pr.SetMtime, err)
			chtimes.drop()
			break
		}
		fi, err := p.fs.Stat(p.sd, filepath.Base(path))
		if err != nil {
			fail(&pr.Stat, err)
			break
		}
		got := fi.ModTime
		if !got.Equal(want) {
			exact = false
		}
		g, ok := granularityOf(want, got)
		if !ok {
			fail(&pr.SetMtime, fmt.Errorf("chtimes %s: set mtime %s, read back %s", path, want.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano)))
			g = absDur(got.Sub(want))
		}
		gran = max(gran, g)
		if err := p.step("set-mtime"); err != nil {
			return err
		}
	}
	pr.SetMtime.Works, pr.SetMtime.Timing = pr.SetMtime.Error == "" && chtimes.n > 0, chtimes.stats()
	if chtimes.n > 0 {
		r.MtimeExact = exact && pr.SetMtime.Works
		r.MtimeGranularity = Duration(gran)
		r.MtimeGranularitySeconds = gran.Seconds()
		if !exact && pr.SetMtime.Works {
			pr.SetMtime.Note = "mtime is stored at a granularity of " + gran.String()
		}
	}

	// Remove: gone from the listing at once?
	for _, path := range paths {
		t := start()
		err := p.fs.Remove(p.sd, filepath.Base(path))
		remove.add(t)
		if err != nil {
			fail(&pr.Remove, err)
			remove.drop()
			break
		}
		p.created = slices.DeleteFunc(p.created, func(s string) bool { return s == path })
		if err := p.step("remove"); err != nil {
			return err
		}
		ents, err := p.fs.ReadDir(p.sd)
		if err != nil {
			fail(&pr.List, err)
			continue
		}
		if hasName(ents, filepath.Base(path)) {
			gone = false
			d, err := p.waitListing(filepath.Base(path), false)
			if err != nil {
				return err
			}
			lag.addD(d)
		}
		if err := p.step("list-after-remove"); err != nil {
			return err
		}
	}
	pr.Remove.Works, pr.Remove.Timing = pr.Remove.Error == "" && remove.n > 0, remove.stats()

	r.Listing = Listing{Samples: samples, CreateListedAtOnce: listed && samples > 0, RemoveGoneAtOnce: gone && remove.n > 0, Lag: lag.stats()}
	// Skew, allowing for the granularity: an mtime stored at granularity g
	// may read up to g before the write.
	var skews []time.Duration
	var uncert time.Duration
	for _, w := range writes {
		skews = append(skews, skewOf(w.mtime, w.before.Add(-gran), w.after))
		uncert = max(uncert, w.after.Sub(w.before))
	}
	r.ClockSkew = skewStats(skews, uncert+gran)
	return nil
}

// waitListing polls the scratch directory until name is listed (present)
// or not (!present), and returns how long that took.
func (p *prober) waitListing(name string, present bool) (time.Duration, error) {
	t := start()
	err := poll(p.ctx, func() (bool, error) {
		ents, err := p.fs.ReadDir(p.sd)
		if err != nil {
			return false, err
		}
		return hasName(ents, name) == present, nil
	})
	if err != nil {
		return 0, &protocol.Error{Op: "probe", Path: p.dir, Err: fmt.Errorf("waiting for %s to be %s: %w", name, map[bool]string{true: "listed", false: "unlisted"}[present], err)}
	}
	return t.since(), nil
}

// extras tries what other lock libraries rely on. Each check acts on names
// in the scratch directory's handle (see xdir: on Windows, WASI and AIX on
// paths under it), creating only new names, never following a symbolic
// link, and reading a bounded amount.
func (p *prober) extras() error {
	pr := &p.r.Primitives
	x, err := openXdir(p.sd, p.scratch)
	if err != nil {
		err := err.Error()
		pr.Excl.Error, pr.HardLink.Error, pr.RenameOver.Error, pr.Flock.Error = err, err, err, err
		return p.step("flock")
	}
	defer x.close()
	name := func(n string) string {
		p.created = append(p.created, filepath.Join(p.scratch, n))
		return n
	}
	// O_EXCL.
	excl := name("excl")
	if err := x.createExcl(excl); err != nil {
		pr.Excl.Error = err.Error()
	} else {
		err := x.createExcl(excl)
		switch {
		case err == nil:
			pr.Excl.Note = "a second O_EXCL create of the same name succeeded: O_EXCL is not exclusive here"
		case errors.Is(err, fs.ErrExist):
			pr.Excl.Works = true
		default:
			pr.Excl.Error = err.Error()
		}
	}
	if err := p.step("o_excl"); err != nil {
		return err
	}
	// Hard link.
	l := name("link")
	if err := x.link(excl, l); err != nil {
		pr.HardLink.Error = err.Error()
	} else {
		a, err1 := x.lstat(excl)
		b, err2 := x.lstat(l)
		switch {
		case err1 != nil || err2 != nil:
			pr.HardLink.Error = errors.Join(err1, err2).Error()
		case a.same(b):
			pr.HardLink.Works = true
		case a.nlink == 2 && b.nlink == 2:
			pr.HardLink.Works = true
			pr.HardLink.Note = "the link count reads 2, but the two names show different inode numbers (the filesystem does not keep inode numbers)"
		default:
			pr.HardLink.Note = fmt.Sprintf("link() succeeded but the two names look like different files (inode numbers differ, link counts %d and %d)", a.nlink, b.nlink)
		}
	}
	if err := p.step("hard-link"); err != nil {
		return err
	}
	// Rename over an existing file.
	src, dst := name("rename-src"), name("rename-dst")
	err = errors.Join(x.writeNew(dst, []byte("old")), x.writeNew(src, []byte("new")))
	if err == nil {
		err = x.rename(src, dst)
	}
	if err != nil {
		pr.RenameOver.Error = err.Error()
	} else {
		b, err := x.readFile(dst)
		_, serr := x.lstat(src)
		switch {
		case err != nil:
			pr.RenameOver.Error = err.Error()
		case string(b) != "new":
			pr.RenameOver.Note = fmt.Sprintf("after rename the target holds %q, not the renamed file's %q", b, "new")
		case !errors.Is(serr, fs.ErrNotExist):
			pr.RenameOver.Note = "after rename the source name still exists"
		default:
			pr.RenameOver.Works = true
		}
	}
	if err := p.step("rename"); err != nil {
		return err
	}
	// flock, on a file of its own (excl has two names by now, and a file
	// with two is refused).
	fl := name("flock")
	if err := x.createExcl(fl); err != nil {
		pr.Flock = Primitive{Error: err.Error()}
	} else {
		pr.Flock = probeFlock(x, fl)
	}
	return p.step("flock")
}

func hasName(ents []protocol.DirEntry, name string) bool {
	for _, e := range ents {
		if e.Name == name {
			return true
		}
	}
	return false
}

// explicitTime returns the i-th explicit mtime the probe sets: an odd second
// (so that a 2 s granularity shows) with a distinctive sub-second part.
func explicitTime(i int) time.Time {
	frac := []int64{123456789, 987654321, 500000001, 1, 999999999, 246813579, 135792468}
	return time.Unix(1_700_000_001+2*int64(i), frac[i%len(frac)])
}

var units = []time.Duration{
	1, 10, 100, time.Microsecond, 10 * time.Microsecond, 100 * time.Microsecond,
	time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second, 2 * time.Second,
}

// granularityOf returns the finest unit u such that got is want rounded
// down or up to a multiple of u; false if there is none.
func granularityOf(want, got time.Time) (time.Duration, bool) {
	w, g := want.UnixNano(), got.UnixNano()
	for _, u := range units {
		n := int64(u)
		lo := w - w%n
		if g == lo || g == lo+n && w%n != 0 {
			return u, true
		}
	}
	return 0, false
}

// skewOf is one clock-skew sample: how far mtime lies outside the local
// interval [before, after] of the write that set it.
func skewOf(mtime, before, after time.Time) time.Duration {
	switch {
	case mtime.Before(before):
		return mtime.Sub(before.Round(0))
	case mtime.After(after):
		return mtime.Sub(after.Round(0))
	}
	return 0
}

func skewStats(s []time.Duration, uncert time.Duration) Skew {
	if len(s) == 0 {
		return Skew{}
	}
	k := Skew{Samples: len(s), Uncertainty: Duration(uncert)}
	var m time.Duration
	for _, v := range s {
		if absDur(v) > absDur(m) {
			m = v
		}
	}
	k.MaxAbs, k.MaxAbsSeconds = Duration(m), m.Seconds()
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	k.Median = Duration(sorted[len(sorted)/2])
	return k
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// poll calls cond with growing pauses (1 ms doubling to 10 ms) until it
// reports true or fails, or ctx is done.
func poll(ctx context.Context, cond func() (bool, error)) error {
	return pollSleeping(ctx, sleep, cond)
}

// pollSleeping is poll with the given sleep.
func pollSleeping(ctx context.Context, sleep func(context.Context, time.Duration) error, cond func() (bool, error)) error {
	d := time.Millisecond
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
		d = min(2*d, 10*time.Millisecond)
	}
}

// sleep pauses for d or until ctx is done (the protocol's OS environment's
// sleep: the probe measures the real OS, never a simulated one).
func sleep(ctx context.Context, d time.Duration) error {
	return protocol.OSEnv().Sleep(ctx, d)
}

func randHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mono is a monotonic instant.
type mono struct{ t time.Time }

func start() mono                   { return mono{time.Now()} }
func (m mono) since() time.Duration { return time.Since(m.t) }

// timer collects durations.
type timer struct {
	n int
	d []time.Duration
}

func (t *timer) add(m mono) { t.addD(m.since()) }

func (t *timer) addD(d time.Duration) { t.n++; t.d = append(t.d, d) }

// drop forgets the last duration added (its operation failed).
func (t *timer) drop() { t.n--; t.d = t.d[:len(t.d)-1] }

func (t *timer) stats() Stats { return statsOf(t.d) }

func statsOf(d []time.Duration) Stats {
	if len(d) == 0 {
		return Stats{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return Stats{Samples: len(s), Median: Duration(s[len(s)/2]), Max: Duration(s[len(s)-1])}
}
