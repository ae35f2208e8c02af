package protocol

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
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
	// FencingRename keeps the counter in one file, .meta/fence, replaced
	// atomically with github.com/google/renameio (write a temporary file,
	// rename it over). Use it only where rename over an existing file is
	// atomic — `cryolock probe` says whether it is — and only with the OS
	// filesystem (renameio bypasses [FS]). Readers take the greatest of
	// this file and the slots, so a directory can move between the modes.
	FencingRename
)

// String returns "off", "slots" or "rename".
func (f Fencing) String() string {
	switch f {
	case FencingOff:
		return "off"
	case FencingSlots:
		return "slots"
	case FencingRename:
		return "rename"
	}
	return fmt.Sprintf("Fencing(%d)", int(f))
}

// WithFencing makes the Lock issue fencing tokens (see [Fencing] and
// [Lock.Token]). Only exclusive, single-slot locks (mutexes and the writer
// side of an RWLock) issue tokens.
func WithFencing(f Fencing) Option { return func(c *Config) { c.Fencing = f } }

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
	t, _, err := readFence(fsys, filepath.Join(filepath.Clean(dir), MetaDir))
	return t, err
}

// readFence returns the greatest valid token and the index of the slot that
// holds it (-1 if neither is valid).
func readFence(fsys FS, meta string) (uint64, int, error) {
	var best uint64
	at := -1
	for i, name := range fenceSlots {
		b, err := fsys.ReadFile(filepath.Join(meta, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, -1, fmt.Errorf("cryolock: reading fencing slot %s: %w", filepath.Join(meta, name), err)
		}
		if t, ok := decodeFence(b); ok && (at < 0 || t > best) {
			best, at = t, i
		}
	}
	// The renamed file, if any, counts too; it is never a slot to write over.
	b, err := fsys.ReadFile(filepath.Join(meta, fenceRenamed))
	switch {
	case err == nil:
		if t, ok := decodeFence(b); ok && t > best {
			best = t
		}
	case !errors.Is(err, fs.ErrNotExist):
		return 0, -1, fmt.Errorf("cryolock: reading %s: %w", filepath.Join(meta, fenceRenamed), err)
	}
	return best, at, nil
}

// nextFence issues the next token: the greatest valid one plus one, written
// over the slot that does not hold the greatest. Called only by a holder.
func (l *Lock) nextFence() (uint64, error) {
	fsys := l.cfg.FS
	meta := filepath.Join(l.dir, MetaDir)
	if err := fsys.MkdirAll(meta, l.cfg.DirPerm); err != nil {
		return 0, fmt.Errorf("cryolock: creating %s: %w", meta, err)
	}
	t, at, err := readFence(fsys, meta)
	if err != nil {
		return 0, err
	}
	next := t + 1
	if l.cfg.Fencing == FencingRename {
		p := filepath.Join(meta, fenceRenamed)
		if err := renameWrite(p, encodeFence(next), l.cfg.FilePerm); err != nil {
			return 0, fmt.Errorf("cryolock: writing %s: %w", p, err)
		}
		return next, nil
	}
	slot := filepath.Join(meta, fenceSlots[(at+1+len(fenceSlots))%len(fenceSlots)])
	if at < 0 {
		slot = filepath.Join(meta, fenceSlots[0])
	}
	if err := fsys.WriteFile(slot, encodeFence(next), l.cfg.FilePerm); err != nil {
		return 0, fmt.Errorf("cryolock: writing fencing slot %s: %w", slot, err)
	}
	return next, nil
}
