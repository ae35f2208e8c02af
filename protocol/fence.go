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
// also rejects a second writer with an equal token stays safe.
type Fencing int

const (
	// FencingOff issues no tokens (the default): no extra I/O.
	FencingOff Fencing = iota
	// FencingSlots keeps the counter in two checksummed slot files,
	// .meta/fence.a and .meta/fence.b, and writes the newer value over the
	// older slot with a plain create+write. A write torn by a crash leaves a
	// slot whose checksum fails; readers ignore it and the other slot still
	// holds the last good value, so a token never goes backwards. It needs
	// no rename and works on every filesystem the lock works on.
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

var fenceSlots = [2]string{"fence.a", "fence.b"}

const fenceRenamed = "fence"

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
func ReadFence(fsys FS, dir string) (uint64, error) {
	if fsys == nil {
		fsys = OSFS()
	}
	d, err := fsys.OpenDir(nil, filepath.Clean(dir), false, 0)
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

// readFence returns the greatest valid token and the index of the slot that
// holds it (-1 if neither is valid). A slot that is not a regular file (a
// FIFO planted there, say) is an error: it is never opened for blocking
// I/O, never read past MaxRead bytes and never written over.
func readFence(fsys FS, meta Dir) (uint64, int, error) {
	var best uint64
	at := -1
	for i, name := range fenceSlots {
		b, _, err := fsys.ReadFile(meta, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, -1, err
		}
		if t, ok := decodeFence(b); ok && (at < 0 || t > best) {
			best, at = t, i
		}
	}
	// .meta/fence, written by the removed rename mode of earlier versions,
	// still counts, so that tokens never go backwards on a directory that
	// used it; it is never written.
	b, _, err := fsys.ReadFile(meta, fenceRenamed)
	switch {
	case err == nil:
		if t, ok := decodeFence(b); ok && t > best {
			best = t
		}
	case !errors.Is(err, fs.ErrNotExist):
		return 0, -1, err
	}
	return best, at, nil
}

// nextFence issues the next token: the greatest valid one plus one, written
// over the slot that does not hold the greatest. Called only by a holder,
// with its open lock directory; .meta is opened relative to it without
// following a symbolic link.
func (l *Lock) nextFence(d Dir) (uint64, error) {
	fsys := l.cfg.FS
	meta, err := fsys.OpenDir(d, MetaDir, true, l.cfg.DirPerm)
	if err != nil {
		return 0, &Error{Op: "fence", Path: filepath.Join(l.dir, MetaDir), Err: err}
	}
	defer meta.Close()
	t, at, err := readFence(fsys, meta)
	if err != nil {
		return 0, &Error{Op: "fence", Path: filepath.Join(l.dir, MetaDir), Err: err}
	}
	if t == math.MaxUint64 {
		return 0, &Error{Op: "fence", Path: l.dir, Err: fmt.Errorf("the fencing counter is exhausted (%d)", t)}
	}
	next := t + 1
	slot := fenceSlots[(at+1+len(fenceSlots))%len(fenceSlots)]
	if at < 0 {
		slot = fenceSlots[0]
	}
	if err := fsys.WriteFile(meta, slot, encodeFence(next), l.cfg.FilePerm); err != nil {
		return 0, &Error{Op: "fence", Path: filepath.Join(l.dir, MetaDir, slot), Err: err}
	}
	return next, nil
}
