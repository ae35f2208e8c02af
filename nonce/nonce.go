// Package nonce makes the identities a cryolock contender writes into its
// entry name: an owner (unique per attempt, filename-safe, no dots) and a
// ticket (a signed 32-bit integer used only to break symmetry).
//
// An entry is named "<owner>.<ticket>". Owners made here look like
// "<host>_<pid>_<random>" so that a human reading `cryolock status` can tell
// who holds a lock; owners written by other implementations (cryolock 1.x)
// are any string matching [A-Za-z0-9_-]{1,64}.
//
// Randomness comes from a [Source]. [NewCrypto] is a ChaCha8 generator seeded
// from crypto/rand (unpredictable and, with overwhelming probability, unique
// across processes and hosts). The simulator supplies its own deterministic
// Source (through protocol.Env), so that a run replays from its seed.
package nonce

import (
	crand "crypto/rand"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Source is a stream of random 64-bit values. Implementations must be safe
// for concurrent use.
type Source interface {
	Uint64() uint64
}

type lockedChaCha struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func (s *lockedChaCha) Uint64() uint64 {
	s.mu.Lock()
	v := s.r.Uint64()
	s.mu.Unlock()
	return v
}

// NewCrypto returns a Source backed by a ChaCha8 generator seeded with 32
// bytes from crypto/rand. It is safe for concurrent use and makes no system
// call after construction.
func NewCrypto() Source {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		// crypto/rand.Read never returns an error on supported platforms
		// (it crashes the program instead); keep the check for clarity.
		panic("nonce: crypto/rand failed: " + err.Error())
	}
	return &lockedChaCha{r: rand.NewChaCha8(seed)}
}

// MaxOwnerLen is the longest owner the on-disk format allows.
const MaxOwnerLen = 64

// ValidOwner reports whether s can be the owner part of an entry name:
// 1 to 64 characters from [A-Za-z0-9_-].
func ValidOwner(s string) bool {
	if len(s) == 0 || len(s) > MaxOwnerLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ownerByte(s[i]) {
			return false
		}
	}
	return true
}

func ownerByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

const (
	maxHostLen = 32
	randLen    = 12 // base-32 digits: 60 random bits
	alphabet   = "abcdefghijklmnopqrstuvwxyz234567"
)

// NewOwner returns a fresh owner "<host>_<pid>_<random>": host sanitised to
// [A-Za-z0-9-] (other bytes become '-', at most 32 bytes, "host" if empty),
// pid in decimal, and 60 random bits from src. The result always satisfies
// [ValidOwner].
func NewOwner(src Source, host string, pid int) string {
	var buf [maxHostLen + 1 + 20 + 1 + randLen]byte
	return string(AppendOwner(buf[:0], src, host, pid))
}

// AppendOwner appends a fresh owner, as [NewOwner] returns it, to dst and
// returns the extended slice. It draws from src exactly as NewOwner does.
func AppendOwner(dst []byte, src Source, host string, pid int) []byte {
	h := host
	if len(h) > maxHostLen {
		h = h[:maxHostLen]
	}
	if h == "" {
		h = "host"
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !ownerByte(c) || c == '_' {
			c = '-'
		}
		dst = append(dst, c)
	}
	dst = append(dst, '_')
	if pid < 0 || int64(pid) > 9_999_999_999 { // int64: int is 32 bits on 386 and arm
		pid = 0
	}
	dst = strconv.AppendInt(dst, int64(pid), 10)
	dst = append(dst, '_')
	v := src.Uint64()
	for i := 0; i < randLen; i++ {
		dst = append(dst, alphabet[v&31])
		v >>= 5
	}
	return dst
}

// SharedSuffix marks the owner of a shared (reader) entry: [NewOwner]'s
// result with this suffix. No owner made by NewOwner ends in it.
const SharedSuffix = "-r"

// SharedOwner returns the reader form of an owner made by [NewOwner].
func SharedOwner(owner string) string { return owner + SharedSuffix }

// IsShared reports whether owner is the reader form of an owner made by
// [NewOwner] (host, pid, 12 random base-32 digits, then [SharedSuffix]). Any
// other owner — including every owner written by cryolock 1.x, which has no
// readers — is exclusive.
func IsShared(owner string) bool {
	info, ok := ParseOwner(owner)
	return ok && info.Shared
}

// OwnerInfo is what an owner made by [NewOwner] says about its maker.
type OwnerInfo struct {
	Host   string // sanitised host name
	Pid    int    // process id on Host
	Shared bool   // a reader's entry (see [SharedOwner])
}

// ParseOwner recovers host and pid from an owner made by [NewOwner] (or its
// [SharedOwner] form). It reports false for owners of another shape (for
// example cryolock 1.x's).
func ParseOwner(owner string) (OwnerInfo, bool) {
	if base, ok := strings.CutSuffix(owner, SharedSuffix); ok {
		if strings.HasSuffix(base, SharedSuffix) {
			return OwnerInfo{}, false // "…-r-r": no owner NewOwner makes
		}
		info, ok := ParseOwner(base)
		info.Shared = ok
		return info, ok
	}
	i := strings.LastIndexByte(owner, '_')
	if i < 0 || len(owner)-i-1 != randLen {
		return OwnerInfo{}, false
	}
	rest := owner[:i]
	j := strings.LastIndexByte(rest, '_')
	if j <= 0 {
		return OwnerInfo{}, false
	}
	pid, err := strconv.Atoi(rest[j+1:])
	if err != nil || pid < 0 || strconv.Itoa(pid) != rest[j+1:] {
		return OwnerInfo{}, false
	}
	for k := i + 1; k < len(owner); k++ {
		if !strings.ContainsRune(alphabet, rune(owner[k])) {
			return OwnerInfo{}, false
		}
	}
	return OwnerInfo{Host: rest[:j], Pid: pid}, true
}

// Ticket draws a ticket: a uniformly random signed 32-bit integer.
func Ticket(src Source) int32 {
	return int32(uint32(src.Uint64() >> 32))
}

// FormatName returns the entry name "<owner>.<ticket>".
func FormatName(owner string, ticket int32) string {
	return string(AppendTicket([]byte(owner), ticket))
}

// AppendTicket appends ".<ticket>" to dst, which holds an owner: the entry
// name [FormatName] makes, built in place (see [AppendOwner]).
func AppendTicket(dst []byte, ticket int32) []byte {
	return strconv.AppendInt(append(dst, '.'), int64(ticket), 10)
}

// ParseName splits an entry name into owner and ticket. It reports false
// unless the owner satisfies [ValidOwner] and the ticket is the canonical
// decimal form of a signed 32-bit integer (an optional '-', no '+', no
// leading zeros).
func ParseName(name string) (owner string, ticket int32, ok bool) {
	i := strings.IndexByte(name, '.')
	if i < 0 {
		return "", 0, false
	}
	owner, t := name[:i], name[i+1:]
	if !ValidOwner(owner) || t == "" || t[0] == '+' {
		return "", 0, false
	}
	v, err := strconv.ParseInt(t, 10, 32)
	if err != nil || strconv.FormatInt(v, 10) != t {
		return "", 0, false
	}
	return owner, int32(v), true
}

// Tickets that give waiters an order. Only the ticket rule of a contender's
// check uses them (withdraw before any ticket ≥ mine, wait on lower ones):
// they break symmetry and never decide safety, so any int32 is valid and a
// contender drawing uniformly at random (Ticket, cryolock 1.x) stays safe
// beside them.
//
//   - An entrant that has not listed the directory (the first round of an
//     acquisition) draws a blind ticket, below zero: it yields to every
//     waiter that entered from a listing.
//   - An entrant that listed the directory and saw live entries draws a
//     queued ticket above all of them, so that it waits behind the holder
//     instead of withdrawing, plus an offset that grows with how long it
//     has already waited, so that of two contenders entering together the
//     one that waited longer wins.

// BlindTicket draws a ticket uniformly from [-2³¹, 0).
func BlindTicket(src Source) int32 {
	return int32(-1 - int64(src.Uint64()>>33))
}

// waitedUnit and waitedCap scale QueuedTicket's offset: one step per
// millisecond waited, at most 2¹⁶ steps (about 65 s), times 2⁶ random
// values, so the offset is below 2²².
const (
	waitedUnit   = time.Millisecond
	waitedCap    = 1 << 16
	offsetRandom = 6
)

// QueuedTicket draws a ticket for an entrant whose listing showed live
// entries with tickets up to highest (pass any value below 0 when it saw
// none), after waiting for waited: above max(highest, -1) by 1 + an offset
// that grows with waited and has 6 random low bits. It reports false when
// that would overflow int32 (the holder's ticket is too close to the top):
// the entrant should then wait for the directory to empty rather than
// enter with a lower ticket and withdraw again at once.
func QueuedTicket(src Source, highest int32, waited time.Duration) (int32, bool) {
	steps := int64(waited / waitedUnit)
	steps = max(0, min(steps, waitedCap-1))
	off := steps<<offsetRandom | int64(src.Uint64()>>(64-offsetRandom))
	t := int64(max(highest, -1)) + 1 + off
	if t > math.MaxInt32 {
		return 0, false
	}
	return int32(t), true
}

// QueueRoom reports whether QueuedTicket above highest can never overflow.
func QueueRoom(highest int32) bool {
	return int64(max(highest, -1))+1+(waitedCap<<offsetRandom) <= math.MaxInt32
}
