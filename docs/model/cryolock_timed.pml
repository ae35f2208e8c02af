/*
 * cryolock rules v1: the timed core of Lemma R (docs/PROOF.md), in discrete time.
 * Described in docs/model/README.md; run by .ci/check-timed-model.sh.
 *
 * One holder A and one observer O (standing for every other contender).
 * A notes LastOK, creates its entry, stamps it with its own wall clock (C2), and holds at
 * once (the worst case: it never releases). Its heartbeat (H1) wakes every 0.4-0.5 L,
 * late by up to DA ticks, sets the mtime and stats the entry; a refresh counts only if
 * the mtime advanced (Invariant M); a failed (EIO) or unchanged refresh is retried L/16
 * later, never past the overdue point; a set-times may hang forever. The watchdog,
 * started at the first refresh, tells A once its clock shows 0.75 L since LastOK, late by
 * up to DA ticks. A told holder acts for up to DB ticks more (A3b). O judges the entry
 * by the Observed rule (T2): it reaps the entry once it has seen the same mtime for a
 * lease on its own clock, and the reaper holds at once.
 *
 * Property (mutual exclusion, counting a told holder as holding for DB): when O reaps,
 * A was told at least DB ticks earlier.
 *
 * Time: integer ticks. L = 40 units of a contender's monotonic clock. A clock runs at
 * (16 + r)/16 of real time, its r in {-K, 0, +K} chosen at the start (rho = K/16): it
 * advances 1 unit per tick, and 1 + r/K units (0 or 2) in the first K ticks of every 16
 * (ph is real time mod 16, its start chosen freely).
 *
 * Compile-time parameters (spin -D...):
 *   K    drift in 16ths (rho = K/16)                                   default 1
 *   DA   A3a: a due heartbeat goroutine runs within DA ticks            default 2
 *   DB   A3b: a told holder acts for up to DB ticks more                default 2
 *   FINE fine mtimes: every refresh stores a later mtime. Without it (the default), any
 *        refresh may leave the mtime as it was: mtimes of any granularity, the server's
 *        creation mtime meeting A's clock, filesystems that ignore set-times.
 *   LAZY_OBSERVER  O sights a new mtime whenever it likes (default: at once, the worst
 *        case: a later first sighting only starts O's count later)
 * Mutations that the check expects to fail:
 *   NO_M         a refresh counts whether or not the mtime advanced (Invariant M dropped)
 *   NO_WATCHDOG  no watchdog: only the refresh loop notices "overdue", when it wakes
 */

#ifndef K
#define K 1
#endif
#ifndef DA
#define DA 2
#endif
#ifndef DB
#define DB 2
#endif

#define L       40
#define OVERDUE 30      /* 0.75 L */
#define PMIN    16      /* 0.4 L */
#define PMAX    20      /* 0.5 L */
#define RETRY   3       /* L/16, rounded up */

/* heartbeat loop states */
#define SLEEP    0      /* sleeping until aAge >= next */
#define DUE      1      /* due, not yet run (delayed by pauses) */
#define INFLIGHT 2      /* set-times issued, not yet taken effect (may hang forever) */
#define STOPPED  3      /* told: the heartbeat has ended */

byte ph;                /* real time mod 16 */
short ra, ro;           /* clock rates of A and O: -K, 0 or +K (in 16ths) */

/* the holder A */
byte aAge;              /* A's monotonic clock since LastOK */
byte hb;                /* heartbeat loop state */
byte next;              /* the loop's due point, as an aAge (while SLEEP) */
byte hd;                /* ticks the due loop has been delayed (while DUE) */
byte rAge;              /* A's clock since the start of the refresh in flight */
bool wd;                /* watchdog started (at the first refresh) */
bool wdDue;             /* watchdog due: aAge >= OVERDUE */
byte wdd;               /* ticks the due watchdog has been delayed */
bool told;              /* A has been told (Lost closed) */
byte tAge;              /* real ticks since told, up to DB */

/* the observer O */
#ifdef LAZY_OBSERVER
bool seen;              /* O has sighted the current mtime */
#else
#define seen 1          /* O sights every new mtime at once */
#endif
byte oage;              /* O's monotonic clock since its first sighting of the mtime, up to L */

hidden byte advA, advO; /* scratch of tick() */

/* one unit of real time */
inline tick() {
  d_step {
    ph = (ph + 1) % 16;
    advA = 1; advO = 1;
    if
    :: ph < K -> advA = 1 + ra / K; advO = 1 + ro / K
    :: else -> skip
    fi;
    if
    :: !told ->
       aAge = aAge + advA;
       if
       :: hb == INFLIGHT -> rAge = rAge + advA
       :: else -> skip
       fi;
       if
       :: hb == DUE -> hd++
       :: hb == SLEEP && aAge >= next -> hb = DUE; hd = 0; next = 0
       :: else -> skip
       fi;
       if
       :: wdDue -> wdd++
       :: wd && !wdDue && aAge >= OVERDUE -> wdDue = 1; wdd = 0
       :: else -> skip
       fi
    :: else ->
       if
       :: tAge < DB -> tAge++
       :: else -> skip
       fi
    fi;
    if
    :: seen && oage < L -> oage = oage + advO;
       if
       :: oage > L -> oage = L
       :: else -> skip
       fi
    :: else -> skip
    fi;
    advA = 0; advO = 0
  }
}

/* H2: A is told. What A does afterwards only delays the reap (a late refresh taking
   effect restarts O's clock) and cannot undo the telling, so it is not modelled. */
inline tell() {
  told = 1; tAge = 0; hb = STOPPED;
  aAge = 0; next = 0; hd = 0; rAge = 0; wd = 0; wdDue = 0; wdd = 0
}

inline newPeriod() {
  if
  :: next = PMIN :: next = PMIN + 1 :: next = PMIN + 2 :: next = PMIN + 3 :: next = PMAX
  fi
}

/* a refresh counts: LastOK = its start */
inline counted() {
  aAge = rAge; rAge = 0;
  if
  :: wdDue && aAge < OVERDUE -> wdDue = 0; wdd = 0
  :: else -> skip
  fi;
  hb = SLEEP; newPeriod()
}

/* a failed refresh (EIO, or the mtime did not advance): retry L/16 after its start,
   never past the overdue point */
inline retry() {
  next = aAge - rAge + RETRY;
  if
  :: next > OVERDUE -> next = OVERDUE
  :: else -> skip
  fi;
  rAge = 0;
  hb = SLEEP;
  if
  :: aAge >= next -> hb = DUE; hd = 0; next = 0
  :: else -> skip
  fi
}

active proctype Timed() {
  /* the start of real time within the drift phase, and the clock rates */
  if :: ph = 0 :: ph = 1 :: ph = 2 :: ph = 3 :: ph = 4 :: ph = 5 :: ph = 6 :: ph = 7
     :: ph = 8 :: ph = 9 :: ph = 10 :: ph = 11 :: ph = 12 :: ph = 13 :: ph = 14 :: ph = 15 fi;
  if :: ra = -K :: ra = 0 :: ra = K fi;
  if :: ro = -K :: ro = 0 :: ro = K fi;
  /* C2: LastOK (aAge = 0), create, stamp (a failed stamp fails the entry: A never holds).
     O sights the stamped mtime at once: oage = 0. A holds from now on (C4.4). */
  aAge = 0; hb = SLEEP; newPeriod(); oage = 0;
end_loop:
  do
  /* time passes, unless a due goroutine has used up its delay or O can reap */
  :: !(hb == DUE && hd >= DA) && !(wdDue && wdd >= DA) && !(seen && oage >= L) -> tick()

  /* the heartbeat loop wakes (H1) */
  :: hb == DUE ->
     atomic {
       if
       :: aAge >= OVERDUE -> tell()
       :: else ->
#ifndef NO_WATCHDOG
          wd = 1;
#endif
          hb = INFLIGHT; rAge = 0
       fi
     }

  /* the set-times in flight takes effect and A stats the entry (or it hangs: neither) */
  :: hb == INFLIGHT ->
     atomic {
       /* the mtime advanced: O's clock restarts, the refresh counts */
#ifdef LAZY_OBSERVER
       seen = 0;
#endif
       oage = 0;
       counted()
     }
#ifndef FINE
  :: hb == INFLIGHT ->
     atomic {
       /* the mtime did not advance (coarse mtimes): ErrUnchanged */
#ifdef NO_M
       counted()
#else
       retry()
#endif
     }
#endif
  :: hb == INFLIGHT -> atomic { retry() }    /* EIO: nothing written */

  /* the watchdog fires (H1) */
  :: wdDue -> atomic { tell() }

#ifdef LAZY_OBSERVER
  :: !seen -> seen = 1                       /* O's first sighting of this mtime */
#endif
  /* J4/J5: the fresh revalidation is a sighting like the others (A0e); stale: O removes
     the entry and holds from now on */
  :: seen && oage >= L -> break
  od;
  assert(told && tAge >= DB)
}
