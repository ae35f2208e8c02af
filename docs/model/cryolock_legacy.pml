/*
 * cryolock 1.x rules (protocol/legacy.go; docs/PROTOCOL.md section 8)
 * as a Promela model, for SPIN. SPIN finds a violation of mutual exclusion:
 *
 *   spin -a cryolock_legacy.pml
 *   gcc -O2 -DSAFETY -o pan pan.c
 *   ./pan -m1000000            # expect "assertion violated", errors: 1
 *   spin -t -p -g cryolock_legacy.pml     # replay the counterexample
 *
 * Same abstractions as cryolock_v1.pml (read that file's header first). The
 * differences are the rules of 1.x:
 *  - a contender looks and reaps only before it enters (rule L1);
 *  - it has no heartbeat until it holds the lock, so while it waits (behind
 *    a lower ticket, for longer than its lease) its entry goes stale although
 *    its owner is alive and is not told anything: the adversary's staleness
 *    event sets lost only for a holder, and strikes a waiter only once it has
 *    waited (so the counterexample needs no pause, only a long wait);
 *  - its check loop (rule L3) looks at names only: every other listed name
 *    counts, stale or not, and it never checks that its own file is still
 *    there;
 *  - a name keeps its ticket when it goes stale (the check loop compares
 *    names, so the v1 model's over-approximation does not apply);
 *  - a holder whose file was removed learns it only at its next heartbeat
 *    (the adversary's "heartbeat finds the file gone" event, at any later
 *    moment).
 */

#define N 3
#define S 4
#define ORPH 3

bit  present[S];
bit  stale[S];
byte tick[S];
byte vis[N];

bit  lost[N];
bit  incs[N];
bit  waiting[N];       /* entered, not holding: no heartbeat */
bit  waited[N];        /* has waited behind a lower ticket at least once */

#define valid(p) (incs[p] && !lost[p])
#define mutex ((valid(0) + valid(1) + valid(2)) <= 1)
#define VIS(j) (vis[p] & (1 << j))

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

inline list() {
	vis[p] = present[0] | (present[1] << 1) | (present[2] << 2) | (present[3] << 3)
}

/* Rule L1: a listed entry is reaped if stale, else it makes us busy. */
inline look1(j) {
	if
	:: VIS(j) ->
		if
		:: busy = 1
		:: stale[j] -> remove(j)
		fi
	:: else -> skip
	fi
}

/* Rule L3: a listed name other than ours counts, by its ticket alone. */
inline name1(j) {
	if
	:: j != p && present[j] ->
		if
		:: tick[j] >= myt -> higher = 1
		:: else -> lower = 1
		fi
	:: else -> skip
	fi
}

inline leave() {
	if
	:: !present[p] -> skip
	:: present[p] -> remove(p)
	:: present[p] && !present[ORPH] ->
		present[ORPH] = 1; stale[ORPH] = 1; tick[ORPH] = tick[p];
		present[p] = 0; stale[p] = 0; tick[p] = 0;
		vis[0] = (vis[0] & ~(1 << p)) | (((vis[0] >> p) & 1) << ORPH);
		vis[1] = (vis[1] & ~(1 << p)) | (((vis[1] >> p) & 1) << ORPH);
		vis[2] = (vis[2] & ~(1 << p)) | (((vis[2] >> p) & 1) << ORPH)
	fi
}

proctype P(byte p) {
	byte myt;
	bit higher, lower, busy;

look:
	/* rule L1: list, reap stale entries, poll while any is alive */
	atomic { list() }
	atomic {
		look1(0); look1(1); look1(2); look1(3);
		vis[p] = 0;
		if
		:: busy -> busy = 0; goto look
		:: else -> skip
		fi
	}

	/* rule L2: enter, without a heartbeat */
	atomic {
		if
		:: myt = 0
		:: myt = 1
		fi;
		present[p] = 1; stale[p] = 0; tick[p] = myt; lost[p] = 0; waiting[p] = 1
	}

check:
	/* rule L3: list the names (one step: no file is read) */
	atomic {
		name1(0); name1(1); name1(2); name1(3);
		if
		:: higher -> goto withdraw
		:: !higher && lower -> lower = 0; waited[p] = 1; goto check
		:: !higher && !lower -> waiting[p] = 0; waited[p] = 0; incs[p] = 1   /* held */
		fi
	}
	atomic { incs[p] = 0; goto withdraw }

withdraw:
	atomic {
		leave();
		waiting[p] = 0; waited[p] = 0; myt = 0; higher = 0; lower = 0; lost[p] = 0;
		goto look
	}
}

active proctype Adversary() {
end:	do
	/* a waiter's entry goes stale: no heartbeat, nobody is told */
	:: atomic { waited[0] && present[0] && !stale[0] -> stale[0] = 1 }
	:: atomic { waited[1] && present[1] && !stale[1] -> stale[1] = 1 }
	:: atomic { waited[2] && present[2] && !stale[2] -> stale[2] = 1 }
	/* a holder paused or crashed: stale, and told */
	:: atomic { incs[0] && present[0] && !stale[0] -> stale[0] = 1; lost[0] = 1 }
	:: atomic { incs[1] && present[1] && !stale[1] -> stale[1] = 1; lost[1] = 1 }
	:: atomic { incs[2] && present[2] && !stale[2] -> stale[2] = 1; lost[2] = 1 }
	/* a holder's heartbeat finds its file gone */
	:: atomic { incs[0] && !present[0] && !lost[0] -> lost[0] = 1 }
	:: atomic { incs[1] && !present[1] && !lost[1] -> lost[1] = 1 }
	:: atomic { incs[2] && !present[2] && !lost[2] -> lost[2] = 1 }
	od
}

active proctype Monitor() {
	assert(mutex)
}

init {
	atomic { run P(0); run P(1); run P(2) }
}
