package protocol

// The same entries and rules carry a reader–writer lock and a semaphore; only
// the decisions of rules C1 and C4 change (docs/PROTOCOL.md §7). A kind is an
// option of [New], not a type of its own: every kind is a [Lock].

// WithShared makes the Lock a reader of a reader–writer lock on its
// directory: many readers hold at once; a writer — a Lock without this option
// — holds alone. A reader marks its entry as shared (an owner ending in
// "-r"); it holds when no other entry but readers' is live. A writer in
// Lock enters beside live readers and waits there, and a waiting writer's
// entry keeps new readers out, so a stream of readers cannot starve writers
// (writers can delay readers indefinitely, though). cryolock 1.x
// contenders see readers as ordinary exclusive entries, which is safe.
//
// Readers get no fencing tokens.
func WithShared() Option { return func(c *config) { c.Shared = true } }

// WithSlots makes the Lock one holder of a semaphore of n: at most n
// holders at once among every contender of the directory with the same n
// (all must agree on n). An entry holds when fewer than n others are live in
// a listing made after its creation. n = 1 is a mutex. A slot may stay
// unused for a while: contenders that enter at about the same moment
// beside fewer than n holders may all wait until a holder releases, since
// an entry does not say whether it holds or waits (docs/PROTOCOL.md §7).
//
// Entries do not record their kind, so do not mix kinds on one directory:
// a mutex ([New] without options) on a semaphore's directory holds only when
// no other entry is live, but a semaphore contender that enters after it
// counts it as one of its n holders and may hold beside it. The bound of n
// holders in all still holds; the mutex's exclusion does not
// (docs/PROTOCOL.md §7). Holders of a semaphore of n > 1 get no fencing
// tokens.
func WithSlots(n int) Option { return func(c *config) { c.Slots, c.slotsSet = n, true } }
