/*
 * cryolock rules v1 (protocol/lock.go, docs/PROTOCOL.md) as a Promela model.
 *
 *   spin -a cryolock_v1.pml
 *   gcc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c
 *   ./pan -m1000000            # expect "errors: 0"
 *
 * Three contenders share one lock directory. Each repeatedly acquires
 * (enter; check loop) and releases. An adversary may, at any moment, make
 * any contender's current entry stale (its owner crashed, or its heartbeat
 * gave up - then the owner has been told: lost), and may reap any stale entry
 * (standing for the reaping done by any number of other contenders). A
 * contender may leave its file behind when it withdraws or releases (a failed
 * removal, or a crash): an orphan, stale. The Monitor checks in every
 * reachable state that at most one contender is in its critical section
 * without having been told that it lost the lock.
 *
 * What is abstracted (docs/PROOF.md, "The SPIN models", argues soundness):
 *  - Time. There are no clocks. An entry becomes reapable only through the
 *    adversary's event, which at the same moment tells a live owner
 *    (lost = 1): that is Lemma R of PROOF.md, proved there from A2-A4 and A7.
 *    A stale entry may still be judged alive (an observer may be slow to
 *    judge), so reaping is always an option, never an obligation.
 *  - The filesystem. A listing is one atomic snapshot (A1, Settle >= lag).
 *    The judgement of the listed entries (read + stat of each, removal of
 *    those judged stale) is one later step: an entry removed after the
 *    listing is "gone" to the judge, one created after it is not seen.
 *    Create+write is one step: staleness never depends on content in the
 *    model (empty or half-written content means "present", PROTOCOL.md, F5).
 *  - Names. Slot p (0..2) holds contender p's current entry; slot 3 holds
 *    an orphan. A slot is reused for the next attempt's new name. vis[q] has
 *    bit j set while the name that q's last listing saw in slot j is still
 *    there (a removal clears it for every contender), so a reused slot never
 *    passes for the name that was listed (names are unique per attempt, A5).
 *    When a contender leaves its file behind, the entry moves to slot 3 with
 *    the listings that saw it: the same name, still present.
 *  - Tickets are 0 or 1, so that ties happen. A stale entry that an observer
 *    judges alive may count as higher or lower whatever its ticket (an
 *    over-approximation), so a stale entry's ticket is cleared to 0.
 *  - At most one orphan exists at a time (a bound of the model).
 *  - The look phase (rule C1) only reaps and backs off; the adversary's
 *    reaping covers its effect on shared state. Compile with -DLOOK to model
 *    it as well (larger state space).
 */

#define N 3            /* contenders */
#define S 4            /* entry slots: one per contender + one orphan */
#define ORPH 3
#define NONE 255

bit  present[S];       /* a name is in the directory in this slot */
bit  stale[S];         /* may be judged stale: owner dead, or told it lost */
byte tick[S];          /* the ticket in the name */
byte vis[N];           /* bit j: listed by the contender's last listing and
                          not removed since */

bit  lost[N];          /* the contender's current entry was marked lost */
bit  incs[N];          /* in the critical section */

/* holders not told that they lost the lock */
#define valid(p) (incs[p] && !lost[p])
#define mutex ((valid(0) + valid(1) + valid(2)) <= 1)

#define VIS(j) (vis[p] & (1 << j))

/* Remove the name in slot j (a no-op when already gone: ENOENT). */
inline remove(j) {
	if
	:: present[j] ->
		present[j] = 0; stale[j] = 0; tick[j] = 0;
		vis[0] = vis[0] & ~(1 << j);
		vis[1] = vis[1] & ~(1 << j);
		vis[2] = vis[2] & ~(1 << j)
	:: else -> skip
	fi
}

/* A listing: the names in the directory now. */
inline list() {
	vis[p] = present[0] | (present[1] << 1) | (present[2] << 2) | (present[3] << 3)
}

/* Rule J: judge listed entry j if it is not our own: gone (removed since the
 * listing: not alive), stale (reap it: not alive), or alive (compare its
 * ticket with ours). */
inline judge(j) {
	if
	:: VIS(j) && j != p ->
		if
		:: !stale[j] && tick[j] >= myt -> higher = 1   /* alive, ticket >= mine */
		:: !stale[j] && tick[j] < myt -> lower = 1     /* alive, lower ticket */
		:: stale[j] -> higher = 1          /* stale but judged alive */
		:: stale[j] -> lower = 1
		:: stale[j] -> remove(j)           /* reaped */
		fi
	:: else -> skip                        /* not listed, gone, or own */
	fi
}

/* Withdraw or release: stop the heartbeat, remove the own file. The removal
 * may fail, or the process may crash first: the file stays, an orphan. */
inline leave() {
	if
	:: !present[p] -> skip                          /* already gone (reaped) */
	:: present[p] -> remove(p)
	:: present[p] && !present[ORPH] ->              /* orphaned: move it */
		present[ORPH] = 1; stale[ORPH] = 1; tick[ORPH] = 0;
		present[p] = 0; stale[p] = 0; tick[p] = 0;
		vis[0] = (vis[0] & ~(1 << p)) | (((vis[0] >> p) & 1) << ORPH);
		vis[1] = (vis[1] & ~(1 << p)) | (((vis[1] >> p) & 1) << ORPH);
		vis[2] = (vis[2] & ~(1 << p)) | (((vis[2] >> p) & 1) << ORPH)
	fi
}

proctype P(byte p) {
	byte myt;
	bit higher, lower;

	/* Each atomic block is one step: one filesystem call and the local
	 * decisions that follow it. Dead locals are cleared so that equal
	 * states compare equal. */
start:
#ifdef LOOK
	if
	:: goto enter              /* Lock's first round enters at once */
	:: goto look               /* later rounds look (and reap) first */
	fi;

look:
	/* rule C1: list, reap stale entries, back off while any is alive */
	atomic { list() }
	atomic {
		judge(0); judge(1); judge(2); judge(3);
		vis[p] = 0;
		if
		:: higher || lower -> higher = 0; lower = 0; goto look   /* Lock: back off */
		:: higher || lower -> higher = 0; lower = 0; goto start  /* TryLock: false */
		:: else -> skip
		fi
	}
#endif

enter:
	/* rule C2: create+write <owner>.<ticket> with a fresh random ticket;
	 * the heartbeat starts with the entry. */
	atomic {
		if
		:: myt = 0
		:: myt = 1
		fi;
		present[p] = 1; stale[p] = 0; tick[p] = myt; lost[p] = 0
	}

check:
	/* rules C3-C4: (settle,) list */
	atomic { list() }
	atomic {
		if
		:: !VIS(p) ->                               /* own file gone: restart */
			vis[p] = 0; myt = 0; lost[p] = 0;
			goto start
		:: else -> skip
		fi;
		judge(0); judge(1); judge(2); judge(3);
		vis[p] = 0;
		if
		:: lost[p] -> goto withdraw                 /* heartbeat overdue */
		:: !lost[p] && higher -> goto withdraw      /* a ticket >= mine */
		:: !lost[p] && !higher && lower ->          /* only lower: wait */
			lower = 0; goto check
		:: !lost[p] && !higher && lower -> goto withdraw  /* TryLock: false */
		:: !lost[p] && !higher && !lower ->         /* held (C4.4), hold (H1-H3) */
			incs[p] = 1
		fi
	}
	/* rule U1: release (the critical section ends first) */
	atomic { incs[p] = 0; goto withdraw }

withdraw:
	atomic {
		leave();
		myt = 0; higher = 0; lower = 0; lost[p] = 0;
		goto start
	}
}

/* The adversary: time passing (entries going stale) and other observers. */
active proctype Adversary() {
end:	do
	:: atomic { present[0] && !stale[0] -> stale[0] = 1; tick[0] = 0; lost[0] = 1 }
	:: atomic { present[1] && !stale[1] -> stale[1] = 1; tick[1] = 0; lost[1] = 1 }
	:: atomic { present[2] && !stale[2] -> stale[2] = 1; tick[2] = 0; lost[2] = 1 }
	:: atomic { present[0] && stale[0] -> remove(0) }
	:: atomic { present[1] && stale[1] -> remove(1) }
	:: atomic { present[2] && stale[2] -> remove(2) }
	:: atomic { present[3] && stale[3] -> remove(3) }
	od
}

active proctype Monitor() {
	assert(mutex)
}

init {
	atomic { run P(0); run P(1); run P(2) }
}
