// Package protocol is a mutual-exclusion lock for programs that share
// nothing but a directory: on NFS, SMB, sshfs, FUSE mounts, container bind
// mounts and WASI sandboxes, where flock and fcntl locks are missing,
// local-only or silently broken, and where even O_EXCL, link and rename may
// not be atomic.
//
// # Use
//
//	l, err := protocol.New("/shared/jobs/nightly.cryolock")
//	if err != nil { ... }
//	if err := l.Lock(ctx); err != nil { ... }
//	defer l.Unlock()
//	select {
//	case <-l.Lost():  // stop: someone else may hold the lock now
//	...
//	}
//
// or, for the common case, [Do]. [Lock.LockContext] returns a context that
// is cancelled when the lock is lost, so that work under the lock stops by
// itself. Fencing tokens ([WithFencing], [Lock.Token]) let the protected
// resource reject a holder that lost the lock without noticing. Beyond the
// mutex, [WithSlots] makes a semaphore and [WithShared] the readers of a
// reader–writer lock; there are also [LockAll] and [Reentrant].
//
// # How it works
//
// The lock is a directory whose name ends in ".cryolock". Each contender
// writes an entry "<owner>.<ticket>" into it holding its lease in seconds,
// lists the directory, and holds the lock if no other live entry is
// there; otherwise the tickets decide who withdraws and who waits. A
// heartbeat keeps the entry's mtime fresh; an entry not refreshed for
// a whole lease is stale and may be removed by anyone. The protocol uses
// only mkdir, list, create+write, stat, set-mtime and remove (the [FS]
// interface), and is on-disk compatible with the Python library
// cryolock 1.x: Go and Python contenders exclude each other. The rules, the
// on-disk format and the correctness argument are in docs/PROTOCOL.md and
// docs/PROOF.md.
//
// # Guarantees
//
// At most one contender holds the lock without having been told it lost it
// (through [Lock.Lost], the LockContext context, or Unlock's [ErrLost]),
// provided that (the exact bounds are stated once, in docs/PROOF.md §0 of
// the module):
//
//   - a listing shows every entry created before it started and none removed
//     before it started — or the filesystem's listing lag λ between clients
//     is covered: a settle delay (WithSettle) ≥ λ·(1+ρ) (`cryolock probe
//     --peer` measures it);
//   - a holder is never stalled by more than D (its heartbeat's wake-up
//     late, or its work going on after it was told), with
//     2D + 2ρL ≤ L/4 for lease L — D ≤ 0.25 s at L = 10 s and ρ = 10% (a
//     process suspended past its lease learns it lost the lock only when it
//     runs again: use fencing tokens when that matters);
//   - clocks tick at the same rate within ρ ≤ 12.5% (the default Observed
//     rule never compares the clocks of different machines); under the
//     WallClock rule the clocks of every client and of the file server, and
//     the mtime granularity, also fit the margin;
//   - every contender of a directory uses the same lease, and owner names
//     are unique per attempt (they carry 60 random bits).
//
// Liveness: contenders do not deadlock (tickets break ties with probability
// 1: a contender that entered after a listing draws a ticket above the
// highest live one, otherwise a random one); a crashed holder's lock is
// taken over within about one lease plus one heartbeat period. There is no
// fairness guarantee: a contender can be overtaken arbitrarily often.
//
// # Concurrency
//
// A [Lock] value is one contender: its methods are safe for concurrent use,
// but a second Lock on a value that holds returns [ErrAlreadyHeld] instead of
// waiting (use one value per goroutine, or [Reentrant]). The protocol never
// blocks except inside [Env].Sleep or an [FS] call, which is what lets the
// simulator (package sim) run this very code under a deterministic
// scheduler.
package protocol
