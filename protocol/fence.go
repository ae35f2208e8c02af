package protocol

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"
	"strings"
)

// Fencing selects whether and how a Lock issues fencing tokens.
//
// A fencing token is a number handed to each holder that is strictly greater
// than every earlier holder's, as long as mutual exclusion held. Give it to
// the resource the lock protects with every write; the resource remembers the
// greatest token it has seen and rejects writes that carry a smaller one.
// Then a holder that lost its lock without noticing (suspended past its
// lease, say) cannot overwrite the work of the holder that followed it: its
// token is older. If the lease assumption itself was broken and two
// contenders held at once, they may get the same token; a resource that
// also rejects a second writer with an equal token stays safe. The token
// files are not fsynced: a crash of the operating system holding them can
// lose the newest one before it reaches the disk, and its token may then
// be handed out again (docs/PROTOCOL.md §7).
type Fencing int

const (
	// FencingOff issues no tokens (the default): no extra I/O.
	FencingOff Fencing = iota
	// FencingSlots keeps the counter in .meta as one file per token issued,
	// .meta/fence.<n>, each made by a plain create+write and never
	// overwritten with another value: the next token is one more than the
	// greatest n listed, and a holder removes the files below its own once
	// its own is written. A contender paused between reading the counter and
	// writing its token (and reaped meanwhile) can only add a file below the
	// greatest, never overwrite it, so a token never goes backwards
	// (TestFencingPausedWriter). Files of the two-slot layout of earlier
	// versions (.meta/fence.a, fence.b and fence) still count, and are never
	// written. It needs no rename and works on every filesystem the lock
	// works on. (The name is the earlier layout's; the mode is the same.)
	FencingSlots
)

// String returns "off" or "slots".
func (f Fencing) String() string {
	switch f {
	case FencingOff:
		return "off"
	case FencingSlots:
		return "slots"
	}
	return fmt.Sprintf("Fencing(%d)", int(f))
}

// WithFencing makes the Lock issue fencing tokens (see [Fencing] and
// [Lock.Token]). Only exclusive, single-slot locks (mutexes and the writer
// side of an RWLock) issue tokens.
func WithFencing(f Fencing) Option { return func(c *config) { c.Fencing = f } }

// MetaDir is the name of the subdirectory of a lock directory that holds
// metadata (fencing tokens, cached probe reports). The protocol ignores
// subdirectories, so cryolock 1.x contenders ignore it too.
const MetaDir = ".meta"

// fenceSlots and fenceRenamed are the files of earlier versions' layouts:
// read, never written.
var fenceSlots = [2]string{"fence.a", "fence.b"}

const fenceRenamed = "fence"

// fencePrefix begins the name of a token's file: fence.<n>, n in decimal
// without leading zeros.
const fencePrefix = "fence."

// fenceFileToken returns the token a listed name stands for, if it is a
// token's file.
func fenceFileToken(name string) (uint64, bool) {
	num, ok := strings.CutPrefix(name, fencePrefix)
	if !ok || num == "" || num[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return 0, false
		}
	}
	t, err := strconv.ParseUint(num, 10, 64)
	return t, err == nil
}

const fenceMagic = "cryolock-fence 1"

// encodeFence renders a slot: magic, token, CRC-32 (IEEE) of the first two.
func encodeFence(token uint64) []byte {
	body := fenceMagic + " " + strconv.FormatUint(token, 10)
	return []byte(body + " " + strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 16) + "\n")
}

// decodeFence parses a slot; ok is false for anything torn or foreign.
func decodeFence(b []byte) (token uint64, ok bool) {
	s, found := strings.CutSuffix(string(b), "\n")
	if !found {
		return 0, false
	}
	i := strings.LastIndexByte(s, ' ')
	if i < 0 {
		return 0, false
	}
	body, sum := s[:i], s[i+1:]
	want, err := strconv.ParseUint(sum, 16, 32)
	if err != nil || uint32(want) != crc32.ChecksumIEEE([]byte(body)) {
		return 0, false
	}
	num, found := strings.CutPrefix(body, fenceMagic+" ")
	if !found {
		return 0, false
	}
	token, err = strconv.ParseUint(num, 10, 64)
	return token, err == nil
}

// ReadFence returns the greatest fencing token issued on the lock directory
// dir so far (0 if none), reading through fsys (nil: the OS filesystem).
// A path [New] would refuse is an error wrapping [ErrBadPath].
func ReadFence(fsys FS, dir string) (uint64, error) {
	if fsys == nil {
		fsys = OSFS()
	}
	clean, err := checkPath(dir)
	if err != nil {
		return 0, &Error{Op: "fence", Path: dir, Err: err}
	}
	d, err := fsys.OpenDir(nil, clean, false, 0)
	if err != nil {
		return 0, &Error{Op: "fence", Path: dir, Err: err}
	}
	defer d.Close()
	meta, err := fsys.OpenDir(d, MetaDir, false, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, &Error{Op: "fence", Path: dir, Err: err}
	}
	defer meta.Close()
	t, _, err := readFence(fsys, meta)
	if err != nil {
		return 0, &Error{Op: "fence", Path: filepath.Join(dir, MetaDir), Err: err}
	}
	return t, nil
}

// readFence returns the greatest token issued: the greatest n of the
// token files listed in meta (their names count, whatever their content: a
// file torn by a crash still names a token that may have been handed out),
// and of the valid contents of the earlier layouts' files; with the token
// files listed. A legacy slot that is not a regular file (a FIFO planted
// there, say) is an error: it is never opened for blocking I/O, never read
// past MaxRead bytes and never written over.
func readFence(fsys FS, meta Dir) (best uint64, files []uint64, err error) {
	ents, err := fsys.ReadDir(meta)
	if err != nil {
		return 0, nil, err
	}
	var legacy []string
	for _, e := range ents {
		if t, ok := fenceFileToken(e.Name); ok {
			files = append(files, t)
			best = max(best, t)
		} else if e.Name == fenceSlots[0] || e.Name == fenceSlots[1] || e.Name == fenceRenamed {
			legacy = append(legacy, e.Name)
		}
	}
	// Only the earlier layouts' files the listing shows are read: those
	// layouts are no longer written, so one that is not listed does not
	// exist (three opens fewer per token where none is left).
	for _, name := range legacy {
		b, _, err := fsys.ReadFile(meta, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, nil, err
		}
		if t, ok := decodeFence(b); ok {
			best = max(best, t)
		}
	}
	return best, files, nil
}

// nextFence issues the next token: one more than the greatest issued,
// written as a file of its own; then the files below it are removed
// (superseded: the greatest stays, so a token never goes backwards, and a
// stale writer's file, always below the greatest, goes at the next token).
// Called only by a holder, with its open lock directory; .meta is opened
// relative to it without following a symbolic link.
func (l *Lock) nextFence(d Dir) (uint64, error) {
	fsys := l.cfg.FS
	metaPath := filepath.Join(l.dir, MetaDir)
	meta, err := fsys.OpenDir(d, MetaDir, true, l.cfg.DirPerm)
	if err != nil {
		return 0, &Error{Op: "fence", Path: metaPath, Err: err}
	}
	defer meta.Close()
	t, files, err := readFence(fsys, meta)
	if err != nil {
		return 0, &Error{Op: "fence", Path: metaPath, Err: err}
	}
	if t == math.MaxUint64 {
		return 0, &Error{Op: "fence", Path: l.dir, Err: fmt.Errorf("the fencing counter is exhausted (%d)", t)}
	}
	next := t + 1
	name := fencePrefix + strconv.FormatUint(next, 10)
	if err := fsys.WriteFile(meta, name, encodeFence(next), l.cfg.FilePerm); err != nil {
		return 0, &Error{Op: "fence", Path: filepath.Join(metaPath, name), Err: err}
	}
	for _, old := range files {
		// Best effort: a file left behind costs a name in a listing.
		if err := fsys.Remove(meta, fencePrefix+strconv.FormatUint(old, 10)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.cfg.Logger.Warn("cryolock: could not remove a superseded fencing-token file", "path", filepath.Join(metaPath, fencePrefix+strconv.FormatUint(old, 10)), "err", err)
		}
	}
	return next, nil
}
