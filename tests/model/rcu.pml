/*
 * Promela model of RegistryIO's reclamation protocol in membarrier mode, as implemented in
 * src/core/include/registryio/detail/rcu.h, src/core/src/rcu.cpp and the writers of
 * src/core/include/registryio/registry.h. docs/ARCHITECTURE.md maps each statement to the code.
 *
 * Memory model. A reader's epoch stores are relaxed/release stores followed only by a compiler
 * barrier (atomic_signal_fence), so the CPU may hold them in its store buffer while later loads
 * (m_head, exitHint) already execute. Each reader therefore owns a FIFO store buffer sb[r] that
 * drains into the shared recEpoch[r] at any time (process Drain); the reader reads its own
 * record through the buffer (`mine`: store forwarding). Loads read shared memory. Writer-side
 * operations are RMWs (exchange, fetch_add), seq_cst accesses or under a mutex: sequentially
 * consistent here. membarrier() is one atomic step that drains every store buffer: each thread
 * passes a full barrier, so its earlier stores are visible and its later loads see the writer's
 * earlier stores. Steps that only touch lock-protected or thread-local data are merged with a
 * neighbouring shared access (atomic) to keep the state space small; every shared load and store
 * the protocol relies on is its own step.
 *
 * Checked: no reader uses a freed snapshot (assert); no deadlock (invalid end states: the wait
 * in synchronize() blocks until a record changes); at quiescence every record is clear and
 * everything retired by remove()/removeAndWait() was freed without outside help.
 *
 * Options (spin -D...):
 *   NR, NW, OPS, SECTIONS   readers, writers, operations per writer, sections per reader
 *   READER_REMOVES          a handler removes a handler from inside the reader's section
 *   SAFETY_ONLY             skip the end-state check that urgent work was freed (so that a
 *                           mutant's first reported error is the use-after-free itself)
 *   MUTANT_NO_HEAVY_FENCE   the writer's membarrier removed: the checker must fail (safety)
 *   MUTANT_NO_READER_FENCE  the reader's compiler barrier removed, so m_head is loaded before the
 *                           epoch store: the checker must fail (safety)
 *   MUTANT_LOST_RETRY       rcu.cpp before commit a8128fd: a lock holder that does not loop
 *                           ignores reclaimAgain: the checker must fail (work left pending)
 */

#ifndef NR
#define NR 2
#endif
#ifndef NW
#define NW 1
#endif
#ifndef OPS
#define OPS 2
#endif
#ifndef SECTIONS
#define SECTIONS 1
#endif
#define MAXS 7         /* snapshot ids 1..6; 0 unused */
#define NONE 255

byte epoch = 1;        /* globals.epoch */
byte exitHint = 0;     /* globals.exitHint (== pendingTag): largest pending tag, 0 if none */
byte head = 1;         /* Registry::m_head; snapshot 1 holds a handler at start */
byte nextSnap = 2;     /* new snapshots (Snapshot::create) */
byte recEpoch[NR];     /* ReaderRecord::epoch as other threads see it */
chan sb[NR] = [2] of { byte };   /* each reader's store buffer */
bool retired[MAXS];    /* queued by retire() */
byte tag[MAXS];        /* Retired::tag */
bool unlinked[MAXS];   /* taken off the retired list by takeFreeable() */
bool freed[MAXS];      /* destroyed by destroyChain() */
bool lazy[MAXS];       /* retired by add(): batched, may legitimately stay pending */
byte retiredMutex = 0; /* 0 free, else holder's _pid + 1 */
byte writeMutex = 0;   /* Registry::m_writeMutex */
bool reclaimAgain = false;
byte finished = 0;

/* Indices 0, NR/2 and NR-1 cover every record for NR <= 3. */
#define RECORDS_DIFFER(a) (recEpoch[0] != a[0] || recEpoch[NR / 2] != a[NR / 2] || recEpoch[NR - 1] != a[NR - 1])

/* rcu.cpp reclaimPassLocked() + takeFreeable(): caller holds retiredMutex. Empty list: no
 * fence. Otherwise heavyFence() (membarrier: drain every store buffer), oldestActiveEpoch()
 * (one load per record), take tag < oldest, setPendingTag(max remaining). */
inline reclaimPassLocked() {
    atomic {
        any = false;
        for (k : 1 .. MAXS - 1) {
            if
            :: retired[k] && !unlinked[k] -> any = true
            :: else
            fi
        };
        k = 0;
#ifndef MUTANT_NO_HEAVY_FENCE
        if
        :: any ->
            for (i : 0 .. NR - 1) {
                do
                :: nempty(sb[i]) -> sb[i] ? v; recEpoch[i] = v
                :: empty(sb[i]) -> break
                od
            };
            i = 0; v = 0
        :: else
        fi
#endif
    }
    if
    :: any ->
        oldest = NONE;
        i = 0;
        do
        :: i < NR ->
            atomic {
                v = recEpoch[i];          /* r->epoch.load(seq_cst) */
                if
                :: v != 0 && v < oldest -> oldest = v
                :: else
                fi;
                i++
            }
        :: else -> break
        od;
        atomic {
            maxRemaining = 0;
            for (k : 1 .. MAXS - 1) {
                if
                :: retired[k] && !unlinked[k] && tag[k] < oldest -> take[k] = true; unlinked[k] = true
                :: retired[k] && !unlinked[k] && tag[k] >= oldest && tag[k] > maxRemaining ->
                    maxRemaining = tag[k]
                :: else
                fi
            };
            exitHint = maxRemaining;      /* setPendingTag(maxRemaining) */
            k = 0; i = 0; v = 0; oldest = 0; maxRemaining = 0; any = false
        }
    :: else
    fi
}

/* retiredMutex.unlock(); destroyChain(done) (outside every lock). */
inline unlockAndDestroy() {
    atomic {
        retiredMutex = 0;
        for (k : 1 .. MAXS - 1) {
            if
            :: take[k] -> freed[k] = true; take[k] = false
            :: else
            fi
        };
        k = 0
    }
}

/* rcu.cpp reclaimWithRetry() (also reclaim() and onReaderExit() in membarrier mode). */
inline reclaimWithRetry() {
    reclaimAgain = true;
    do
    :: reclaimAgain ->
        atomic {                          /* retiredMutex.try_lock() */
            if
            :: retiredMutex == 0 -> retiredMutex = _pid + 1; got = true
            :: else -> got = false
            fi
        }
        if
        :: got ->
            reclaimAgain = false;
            reclaimPassLocked();
            unlockAndDestroy()
        :: else -> break
        fi
    :: else -> break
    od;
    got = false
}

/* rcu.cpp retire(): under retiredMutex, tag = epoch.fetch_add(1), queue, raise pendingTag and
 * exitHint; then (fixed code) report whether a failed try_lock left its pass to us. */
inline retire(obj) {
    atomic { retiredMutex == 0 -> retiredMutex = _pid + 1; tag[obj] = epoch; epoch++; retired[obj] = true }
    atomic {
        if
        :: tag[obj] > exitHint -> exitHint = tag[obj]
        :: else
        fi;
        retiredMutex = 0
    };
#ifndef MUTANT_LOST_RETRY
    got = reclaimAgain
#else
    got = false
#endif
}

/* registry.h add/unpublish/clear: under m_writeMutex, copy, publish with one exchange. */
inline publish() {
    atomic { writeMutex == 0 -> writeMutex = _pid + 1; next = nextSnap; nextSnap++ };
    atomic { old = head; head = next; writeMutex = 0; next = 0 }
}

/* rcu.cpp synchronize() outside a read section (removeAndWait). The code rescans after
 * yield/sleep; a rescan of unchanged records gives the same answer, so the model blocks until a
 * record differs from what the last scan read: a deadlock is an invalid end state. */
inline synchronize() {
    atomic {
        target = epoch; epoch++;          /* epoch.fetch_add(1) */
        for (i : 0 .. NR - 1) {           /* heavyFence() */
            do
            :: nempty(sb[i]) -> sb[i] ? v; recEpoch[i] = v
            :: empty(sb[i]) -> break
            od
        };
        i = 0; v = 0
    };
    do
    :: oldest = NONE;
       i = 0;
       do
       :: i < NR ->
           atomic {
               seen[i] = recEpoch[i];
               if
               :: seen[i] != 0 && seen[i] < oldest -> oldest = seen[i]
               :: else
               fi;
               i++
           }
       :: else -> break
       od;
       if
       :: oldest > target -> break
       :: else -> RECORDS_DIFFER(seen)
       fi
    od;
    atomic { retiredMutex == 0 -> retiredMutex = _pid + 1; i = 0; oldest = 0; target = 0 }
    reclaimPassLocked();
    unlockAndDestroy();
#ifndef MUTANT_LOST_RETRY
    if
    :: reclaimAgain -> reclaimWithRetry() /* a failed try_lock left its pass to us */
    :: else
    fi;
#endif
    atomic { seen[0] = 0; seen[NR / 2] = 0; seen[NR - 1] = 0 }
}

#define RECLAIMER_LOCALS \
    byte i, k, v, oldest, maxRemaining, next, old; \
    bool any, got; \
    bool take[MAXS]

/* A store buffer drains into memory at any time (not part of the program). */
proctype Drain(byte r) {
    byte v;
end:
    do
    :: atomic { sb[r] ? v -> recEpoch[r] = v; v = 0 }
    od
}

/* A thread calling notify(): ReadSection, dereference(m_head), use, nested notify, exit. */
proctype Reader(byte me) {
    RECLAIMER_LOCALS;
    byte mine = 0;      /* own record through the store buffer */
    byte n, e, s1, s2, entered;
    bool exitReclaims;
#ifdef READER_REMOVES
    bool removed = false;
#endif
    for (n : 1 .. SECTIONS) {
        /* ReadSection() outermost: mine == 0 */
#ifdef MUTANT_NO_READER_FENCE
        e = epoch;                                  /* globals.epoch.load(acquire) */
        atomic { s1 = head; assert(!freed[s1]) }    /* load hoisted above the relaxed store */
        atomic { sb[me] ! e; mine = e; e = 0 }      /* r->epoch.store(e, relaxed) */
#else
        e = epoch;                                  /* globals.epoch.load(acquire) */
        atomic { sb[me] ! e; mine = e; e = 0 }      /* r->epoch.store(e, relaxed); signal fence */
        atomic { s1 = head; assert(!freed[s1]) }    /* dereference(m_head); notify reads it */
#endif
        if
        :: n == SECTIONS ->
            /* a handler notifies again: the nested ReadSection sees mine != 0, keeps the epoch */
            assert(mine != 0);
            atomic { s2 = head; assert(!freed[s2]) }
#ifdef READER_REMOVES
            if
            :: !removed ->
                /* a handler removes a handler: inside a section, retire but do not reclaim */
                removed = true;
                publish();
                retire(old);
                atomic { old = 0; got = false }
            :: true
            fi;
#endif
            atomic { assert(!freed[s2]); s2 = 0 }
            /* nested ~ReadSection(): m_outer == null, nothing */
        :: else
        fi;
        assert(!freed[s1]);
        /* ~ReadSection() outermost */
        atomic { entered = mine; sb[me] ! 0; mine = 0; s1 = 0 }  /* store(0, release); signal fence */
        atomic { exitReclaims = entered <= exitHint; entered = 0 } /* exitHint.load(relaxed) */
        if
        :: exitReclaims -> exitReclaims = false; reclaimWithRetry()   /* onReaderExit() */
        :: else
        fi
    };
    finished++
}

/* A thread calling add / remove / clear / removeAndWait outside any notify. */
proctype Writer() {
    RECLAIMER_LOCALS;
    byte n, target;
    byte seen[NR];
    for (n : 1 .. OPS) {
        publish();
        if
        :: retire(old); reclaimWithRetry()          /* remove / clear: urgent */
        :: lazy[old] = true; retire(old);           /* add: batched (batch not full) ... */
           if
           :: got -> reclaimWithRetry()             /* ... unless retire() says a pass is owed */
           :: else
           fi
        :: retire(old); synchronize()               /* removeAndWait */
        fi;
        atomic { old = 0; got = false }
    };
    finished++
}

init {
    byte r, i, k;
    atomic {
        for (r : 0 .. NR - 1) {
            run Drain(r);
            run Reader(r)
        };
        for (r : 1 .. NW) {
            run Writer()
        }
    };
    (finished == NR + NW);
    /* Quiescence: the store buffers drain, every record is clear ... */
    (empty(sb[0]) && empty(sb[NR / 2]) && empty(sb[NR - 1]));
    for (i : 0 .. NR - 1) {
        assert(recEpoch[i] == 0)
    };
#ifndef SAFETY_ONLY
    /* ... and what remove()/removeAndWait() retired was freed without outside help. */
    for (k : 1 .. MAXS - 1) {
        assert(lazy[k] || !retired[k] || freed[k])
    }
#endif
}
