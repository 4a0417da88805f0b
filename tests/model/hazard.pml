/* SPDX-License-Identifier: MIT */
/*
 * Promela model of RegistryIO's reclamation protocol: hazard-pointer readers with an
 * asymmetric (heavy) fence on the writer side, per-registry retired lists, tombstone removal,
 * versioned snapshots, reader records that threads reuse, in-flight destruction chains.
 * docs/ARCHITECTURE.md ("Model of the reclamation protocol") maps every proctype, inline and variable to the code.
 *
 * Memory model. A reader's stores to its record (hazard slot, running announcement, the
 * record's cells and inUse at release) are relaxed/release stores followed by a compiler
 * barrier only, so the CPU may hold them in its store buffer while later loads (head, invoke)
 * already execute. Each reader thread therefore owns a FIFO store buffer sb[t] that drains into
 * memory at any time (proctype Drain). Loads read memory. Writer-side accesses are RMWs, happen
 * under the registry's mutex or are seq_cst: sequentially consistent here. The heavy fence
 * (membarrier / IPI / FlushProcessWriteBuffers) is one atomic step that drains every store
 * buffer: each reader passes a full barrier, so its earlier stores are visible to the scan and
 * its later loads see the writer's earlier stores. In the fallback mode (FALLBACK) the heavy
 * fence is a plain seq_cst fence (no effect on readers); the reader's slot store is seq_cst and
 * followed by a seq_cst fence instead (its own buffer drains before the head reload), and so is
 * its running announcement (its buffer drains before the invoke load). Steps that only touch
 * lock-protected or thread-local data are merged with a neighbouring shared access.
 *
 * Ghosts: using[t*2+l] is the snapshot reader t's section at nesting level l has validated and
 * will dereference; calling[t*2+l] the box whose invoke it loaded live and is calling.
 *
 * Checked (assertions and invalid end states):
 *   - no object is unlinked for destruction while a reader uses it; no reader dereferences an
 *     unlinked or freed snapshot or box (use after free); every object is freed at most once;
 *   - when removeAndWait returns, no other thread is calling the handler and its closure has
 *     been destroyed; a once-handler runs at most once;
 *   - closure destructors of an in-flight chain never run after ~Registry freed the registry;
 *   - (CHURN) the pending count stays <= BOUND while a reader stays parked in a handler;
 *   - quiescence: every record is clear, and one more fenced pass frees everything retired;
 *   - no deadlock (removeAndWait's backoff blocks until the memory it scanned changes).
 *
 * Configuration (spin -D...):
 *   NR        reader threads (1 or 2); reader 0 may exit and a new thread reuse its record (REUSE)
 *   NSLOT     hazard slots per record (the code has 8); 1 makes a nested section chain a
 *             further record of the same thread
 *   NEST      reader 0's first handler notifies the registry again (a nested section)
 *   REUSE     reader 0's thread ends after its section (or vanishes inside it: the fork child
 *             releases its record); then a new thread takes a record and notifies
 *   FALLBACK  the fallback fence mode (readers fence after the slot store and each announcement)
 *   ONCE      box 1 is a once-handler; both readers may fire it
 *   SCRIPT    the writers' script: 1 basic (COW/append add, remove, removeAndWait), 2 once
 *             (removeAndWait of the once-handler), 3 destroy (remove + pass on one thread,
 *             ~Registry on another), 4 churn (parked reader, add/remove loop), 5 removeAndWait
 *             of a handler the reader already ran while it stays parked in the next one (the
 *             reader waits for the writer: any wait for the parked reader is a deadlock)
 *   BATCH     passObjects: a remove runs a pass when pending >= nextPass
 *   CHURN     add/remove pairs of script 4; BOUND its pending bound
 * Mutants (each must make spin report an error):
 *   MUTANT_NO_HEAVY_FENCE        the pass does not fence
 *   MUTANT_NO_VALIDATION         the reader uses the head it loaded without the reload
 *   MUTANT_ANNOUNCE_AFTER_INVOKE the reader loads invoke before announcing the box
 *   MUTANT_TOMBSTONE_HEAD_ONLY   a removal tombstones the head only, not the older arrays
 *                                (main at 9f1f995, fixed by 44f8d21)
 *   MUTANT_NO_RETIRE             a tombstone does not retire the box
 *   MUTANT_RELEASE_BEFORE_CLEAR  a record's inUse is released before its cells are cleared
 *   MUTANT_REUSE_NO_CLEAR        a record is released (fork child) without clearing its cells
 *   MUTANT_FALLBACK_NO_FENCE     (FALLBACK) the reader's seq_cst fence after its slot store
 *   MUTANT_FALLBACK_NO_ANNOUNCE_FENCE (FALLBACK) the reader's fence after its running announcement
 *   MUTANT_COARSE_WAIT           (FALLBACK, SCRIPT 5) a wait treats every box a protected
 *                                snapshot of its versions [birth, death) holds as running
 *   MUTANT_RAW_NO_WAIT_UNPUBLISHED removeAndWait returns at once if the handler was unpublished
 *   MUTANT_DTOR_NO_WAIT          ~Registry does not wait for another thread's in-flight chain
 *   MUTANT_PIN_ALL               (CHURN) any protected slot keeps every retired object (epochs)
 *   MUTANT_ONCE_LOAD_STORE       the once flag is a load and a store, not an exchange
 */

#ifndef NR
#define NR 2
#endif
#if SCRIPT == 5
#define TWO_BOXES
#endif
#ifndef NSLOT
#define NSLOT 1
#endif
#ifndef SCRIPT
#define SCRIPT 1
#endif
#ifndef BATCH
#define BATCH 1
#endif
#ifndef CHURN
#define CHURN 6
#endif
#ifndef BOUND
#define BOUND (2 * CAP - 1)  /* a parked reader pins <= CAP objects; a pass comes at 2x pending */
#endif

#ifdef REUSE
#define NT (NR + 1)      /* threads: readers, plus the thread that reuses reader 0's record */
#else
#define NT NR
#endif
#ifdef NEST
#define NREC (NT + 1)     /* reader records (one more for a chained deeper record) */
#else
#define NREC NT
#endif
#define NCELL (NREC * NSLOT)
#define CAP 3             /* entries per snapshot */
#if SCRIPT == 4
#define NS (CHURN + 3)    /* snapshot ids 1..NS-1; 0 = null */
#define NB (CHURN + 3)    /* box ids 1..NB-1; 0 = null */
#else
#define NS 6
#define NB 4
#endif
#define INF 255
#define NOREC 255
#define NOPID 255

/* object states */
#define UNUSED 0
#define LIVE 1            /* published (box) / allocated (snapshot) */
#define RETIRED 2         /* on the registry's retired list: pending */
#define UNLINKED 3        /* taken by a pass or ~Registry: its destruction is in flight */
#define FREED 4

/* registry */
byte head = 1;
byte version = 1;
byte ver[NS];
byte size[NS];            /* Snapshot::end (written with release) */
byte dead[NS];
byte ent[NS * CAP];       /* Entry::box */
bool live[NS * CAP];      /* Entry::invoke != skipRemoved */
byte sst[NS];
bool sfenced[NS];         /* seq <= m_fencedSeq */
byte bst[NB];
bool bfenced[NB];
bool removed[NB];         /* HandlerBox::removed */
byte bindex[NB];          /* HandlerBox::index */
byte birth[NB];
byte death[NB];
bool once[NB];
bool fired[NB];
byte runs[NB];
byte nextBox = 2;
byte nextSnap = 2;
byte pending = 0;         /* m_pending */
byte nextPass = BATCH;    /* m_nextPass */
byte wmutex = NOPID;      /* m_mutex */
byte destroying = 0;      /* m_destroying */
bool regDead = false;     /* ~Registry has begun */
bool regFreed = false;    /* ~Registry has finished: the RegistryCore is gone */

/* reader records */
byte hz[NCELL];           /* ReaderRecord::hazard(d) as other threads see it */
byte rn[NCELL];           /* ReaderRecord::running(d) */
bool inUse[NREC];
byte top[NREC];           /* written by the owner only */
byte deeper[NREC];
#ifndef SBCAP
#define SBCAP 2
#endif
chan sb[NT] = [SBCAP] of { byte, byte };   /* each reader thread's store buffer: (address, value) */

/* ghosts */
byte using[NT * 2];
byte calling[NT * 2];
bool dirty[2];            /* a waiter's scanned memory changed since its last pass */
byte readersDone = 0;
byte writersDone = 0;
bool firstGone = false;   /* REUSE: reader 0's thread has ended */
bool chainSignal = false; /* SCRIPT 3: a closure destructor of the in-flight chain has run */

#define CHANGED dirty[0] = true; dirty[1] = true

/* A buffered store lands in memory. Addresses: hz cells, then rn cells, then inUse flags. */
inline apply(a, v) {
    if
    :: a < NCELL -> hz[a] = v
    :: a >= NCELL && a < 2 * NCELL -> rn[a - NCELL] = v
    :: else -> inUse[a - 2 * NCELL] = (v != 0)
    fi;
    CHANGED
}

inline drainOwn(t) {
    do
    :: nempty(sb[t]) -> sb[t] ? a, v; apply(a, v)
    :: empty(sb[t]) -> break
    od;
    a = 0; v = 0
}

/* membarrier & co: every reader passes a full barrier. */
inline heavyFence() {
    for (i : 0 .. NT - 1) {
        do
        :: nempty(sb[i]) -> sb[i] ? a, v; apply(a, v)
        :: empty(sb[i]) -> break
        od
    };
    i = 0; a = 0; v = 0
}

inline lock() {
    wmutex == NOPID -> wmutex = _pid
}

/* ---------------------------------------------------------------- writer side (under m_mutex) */

inline retireSnap(s) {
    sst[s] = RETIRED; sfenced[s] = false; pending++
}

/* publishLocked(next): the new version; every retired box not yet dead dies at it. */
inline publish(n) {
    version = ver[n];
    old = head;
    head = n;
    for (k : 1 .. NB - 1) {
        if
        :: bst[k] == RETIRED && death[k] == INF -> death[k] = ver[n]
        :: else
        fi
    };
    k = 0;
    retireSnap(old);
    old = 0
}

/* copyLocked + publishLocked: a copy of the head without tombstones, `ins` appended. */
inline copyAndPublish(ins) {
    n = nextSnap; nextSnap++;
    assert(n < NS);
    sst[n] = LIVE; ver[n] = version + 1;
    c = 0;
    for (k : 0 .. CAP - 1) {
        if
        :: k < size[head] && live[head * CAP + k] ->
            ent[n * CAP + c] = ent[head * CAP + k]; live[n * CAP + c] = true;
            bindex[ent[head * CAP + k]] = c; c++
        :: else
        fi
    };
    k = 0;
    if
    :: ins != 0 ->
        assert(c < CAP);
        ent[n * CAP + c] = ins; live[n * CAP + c] = true; bindex[ins] = c; c++;
        birth[ins] = ver[n]; bst[ins] = LIVE
    :: else
    fi;
    size[n] = c; c = 0;
    publish(n);
    n = 0
}

/* tombstoneLocked(b): invoke.store(skipRemoved, release); retire the box (death: at the next
 * publish). */
inline tombstone(b) {
    live[head * CAP + bindex[b]] = false;
#ifndef MUTANT_TOMBSTONE_HEAD_ONLY
    /* notifies that started before a copy-on-write still iterate an older array */
    for (k : 1 .. NS * CAP - 1) {
        if
        :: sst[k / CAP] == RETIRED && ent[k] == b -> live[k] = false
        :: else
        fi
    };
    k = 0;
#endif
    dead[head]++;
    removed[b] = true;
#ifndef MUTANT_NO_RETIRE
    bst[b] = RETIRED; bfenced[b] = false; pending++;
#endif
    death[b] = INF
}

/* compactLocked(): tombstones pile up (model: dead > 0 and 2 * dead > size). */
inline compact() {
    if
    :: dead[head] > 0 && 2 * dead[head] > size[head] -> copyAndPublish(0)
    :: else
    fi
}

/* MUTANT_COARSE_WAIT: may a protected snapshot of version in [birth, death) hold box k? */
inline coarse(k) {
    keep = keep || (headProt && version >= birth[k] && version < death[k]);
    for (s : 1 .. NS - 1) {
        keep = keep || (prot[s] && ver[s] >= birth[k] && ver[s] < death[k])
    };
    s = 0
}

/* The ghost check: nobody uses what a pass (or ~Registry) takes. */
inline unusedSnap(s) {
    for (i : 0 .. 2 * NT - 1) { assert(using[i] != s) }; i = 0
}
inline unusedBox(k) {
    for (i : 0 .. 2 * NT - 1) { assert(calling[i] != k) }; i = 0
}

/* RegistryCore::pass(lock, fence, target): caller holds m_mutex; unlocks; runs the chain.
 * Without a target the heavy fence runs with the lock dropped: it covers what was retired
 * before the lock was dropped (seq = m_retireSeq), and other writers run meanwhile. */
inline pass(fence, target) {
    if
    :: fence && target == 0 ->
        atomic {
            for (k : 1 .. NB - 1) { fb[k] = (bst[k] == RETIRED) };
            for (k : 1 .. NS - 1) { fs[k] = (sst[k] == RETIRED) };
            k = 0;
            wmutex = NOPID
        };
#if !defined(MUTANT_NO_HEAVY_FENCE) && !defined(FALLBACK)
        atomic { heavyFence() };
#endif
        atomic {
            lock();
            /* m_fencedSeq = max(m_fencedSeq, seq): another pass may have taken some meanwhile */
            for (k : 1 .. NB - 1) { if :: fb[k] && bst[k] == RETIRED -> bfenced[k] = true :: else fi; fb[k] = false };
            for (k : 1 .. NS - 1) { if :: fs[k] && sst[k] == RETIRED -> sfenced[k] = true :: else fi; fs[k] = false };
            k = 0
        }
    :: else ->
        atomic {
            if
            :: fence ->
#if !defined(MUTANT_NO_HEAVY_FENCE) && !defined(FALLBACK)
                heavyFence();
#endif
                /* m_fencedSeq = m_retireSeq */
                for (k : 1 .. NB - 1) { if :: bst[k] == RETIRED -> bfenced[k] = true :: else fi };
                for (k : 1 .. NS - 1) { if :: sst[k] == RETIRED -> sfenced[k] = true :: else fi };
                k = 0
            :: else
            fi
        }
    fi;
    /* forEachRecord: every slot, then (if set) its running announcement; one load each */
    i = 0;
    do
    :: i < NCELL ->
        atomic {
            v = hz[i];
            if
            :: v != 0 && v == head -> headProt = true
            :: v != 0 && v != head && sst[v] == RETIRED -> prot[v] = true
            :: else
            fi
        }
        if
        :: v != 0 ->
            atomic {
                v = rn[i];
                if
                :: v != 0 && bst[v] == RETIRED -> mark[v] = true
                :: else
                fi;
                v = 0
            }
        :: else
        fi;
        i++
    :: else -> break
    od;
    atomic {
        i = 0;
        blocked = false;
        for (k : 1 .. NB - 1) {
            if
            :: bst[k] == RETIRED ->
                keep = !bfenced[k] || mark[k];
#if defined(MUTANT_PIN_ALL)
                keep = keep || headProt;
                for (s : 1 .. NS - 1) { keep = keep || prot[s] }; s = 0;
#elif defined(MUTANT_COARSE_WAIT)
                coarse(k);
#endif
                if
                :: !keep -> unusedBox(k); bst[k] = UNLINKED; take[k] = true; pending--; any = true
                :: else -> blocked = blocked || k == target
                fi
            :: else
            fi
        };
#ifdef MUTANT_PIN_ALL
        keep = headProt;
        for (s : 1 .. NS - 1) { keep = keep || prot[s] }; s = 0;
#else
        keep = false;
#endif
        for (k : 1 .. NS - 1) {
            if
            :: sst[k] == RETIRED && sfenced[k] && !prot[k] && !keep ->
               unusedSnap(k); sst[k] = UNLINKED; take[NB + k] = true; pending--; any = true
            :: else
            fi
        };
        for (k : 1 .. NS - 1) { prot[k] = false };
        for (k : 1 .. NB - 1) { mark[k] = false };
        k = 0; headProt = false; keep = false;
        /* m_nextPass = m_pending + max(passObjects, m_pending) */
        if
        :: pending > BATCH -> nextPass = 2 * pending
        :: else -> nextPass = pending + BATCH
        fi;
        if
        :: any -> destroying++
        :: else
        fi;
        wmutex = NOPID
    }
    destroyChain()
}

/* destroyChain(): each destructor, then destroying-- (and its notify). */
inline destroyChain() {
    if
    :: any ->
        for (k : 1 .. NB + NS - 1) {
            if
            :: take[k] ->
                atomic {
                    assert(!regFreed);   /* a closure destructor may call its registry */
                    if
                    :: k < NB -> unusedBox(k); assert(bst[k] == UNLINKED); bst[k] = FREED
                    :: else -> unusedSnap(k - NB); assert(sst[k - NB] == UNLINKED); sst[k - NB] = FREED
                    fi;
                    take[k] = false;
                    chainSignal = true
                }
            :: else
            fi
        };
        k = 0;
        atomic { assert(!regFreed); destroying--; any = false; CHANGED }
    :: else
    fi
}

#define WRITER_LOCALS \
    byte i, k, s, a, v, n, c, old, spins; \
    bool any, keep, blocked, headProt, found; \
    bool prot[NS]; bool mark[NB]; bool take[NB + NS]; bool fb[NB]; bool fs[NS]

/* add(b): append into the head's spare room (end.store release) or copy-on-write. With
 * `cow`, a higher priority forces the copy. */
inline add(b, cow) {
    atomic {
        lock();
        if
        :: !cow && size[head] < CAP ->
            ent[head * CAP + size[head]] = b; live[head * CAP + size[head]] = true;
            bindex[b] = size[head]; birth[b] = ver[head]; bst[b] = LIVE;
            size[head]++
        :: else -> copyAndPublish(b)
        fi;
        any = (pending >= nextPass)
    }
    if
    :: any -> any = false; pass(true, 0)   /* passDueLocked() */
    :: else -> atomic { wmutex = NOPID }
    fi
}

/* remove(b): tombstone, compaction, a pass when due. */
inline remove(b) {
    atomic {
        lock();
        found = !removed[b];
        if
        :: found -> tombstone(b); compact()
        :: else
        fi;
        any = (pending >= nextPass)
    }
    if
    :: any -> any = false; pass(true, 0)
    :: else -> atomic { wmutex = NOPID }
    fi
}

/* removeAndWait(b) = tombstone if live; wait(0, b): passes (the first fenced) until the box is
 * not pending-and-blocked, then waitForOtherDestruction(). The backoff blocks until the memory
 * the scan read changed (a rescan of unchanged memory gives the same answer). */
inline removeAndWait(b, w) {
    atomic {
        lock();
        found = !removed[b];
        if
        :: found -> tombstone(b)
        :: else
        fi;
        wmutex = NOPID
    }
#ifdef MUTANT_RAW_NO_WAIT_UNPUBLISHED
    if
    :: !found -> goto rawDone
    :: else
    fi;
#endif
    spins = 0;
    do
    :: atomic {
           lock(); dirty[w] = false; found = (bst[b] == RETIRED);
           if
           :: found && spins == 1 && dead[head] > 0 -> copyAndPublish(0)   /* compactLocked(force) */
           :: else
           fi
       }
       if
       :: !found -> atomic { wmutex = NOPID }; break
       :: else
       fi;
       pass(spins <= 1, b);
       if
       :: !blocked -> break
       :: else ->
           if
           :: spins < 2 -> spins++
           :: else
           fi;
           if
           :: spins == 2 -> dirty[w]   /* backoff: block until the scanned memory changes */
           :: else
           fi
       fi
    od;
    (bst[b] != UNLINKED);   /* waitForChains(): the chain that took the box, none other */
rawDone:
    atomic {
        unusedBox(b);
#ifndef MUTANT_NO_RETIRE
        assert(bst[b] == FREED);
#endif
        blocked = false; found = false; spins = 0
    }
}

/* ~RegistryCore(): take everything under the lock, destroy outside it, until nothing is left;
 * then waitForOtherDestruction(); then the registry's memory is gone. */
inline destroyRegistry() {
    do
    :: atomic {
           lock();
           regDead = true;
           for (k : 1 .. NB - 1) {
               if
               :: bst[k] == LIVE || bst[k] == RETIRED -> unusedBox(k); bst[k] = UNLINKED; take[k] = true; any = true
               :: else
               fi
           };
           for (k : 1 .. NS - 1) {
               if
               :: sst[k] == LIVE || sst[k] == RETIRED -> unusedSnap(k); sst[k] = UNLINKED; take[NB + k] = true; any = true
               :: else
               fi
           };
           k = 0; pending = 0;
           if
           :: any -> destroying++
           :: else
           fi;
           wmutex = NOPID
       }
       if
       :: any -> destroyChain()
       :: else -> break
       fi
    od;
#ifndef MUTANT_DTOR_NO_WAIT
    (destroying == 0);
#endif
    regFreed = true
}

/* --------------------------------------------------------------------------- reader side */

/* acquireRecord(): the first record not in use (CAS), else a new one (all exist here). The CAS
 * is a full barrier for the caller's own earlier stores. */
inline acquireRecord(x) {
    atomic {
        drainOwn(me);
        x = NOREC;
        for (i : 0 .. NREC - 1) {
            if
            :: x == NOREC && !inUse[i] -> inUse[i] = true; x = i
            :: else
            fi
        };
        i = 0;
        assert(x != NOREC)
    }
}

/* releaseRecords(r): every cell of the chain cleared (relaxed), then inUse.store(false,
 * release); through the thread's store buffer. */
inline releaseRecords(x) {
    do
    :: x != NOREC ->
#ifdef MUTANT_RELEASE_BEFORE_CLEAR
        sb[me] ! 2 * NCELL + x, 0;
#endif
        for (i : 0 .. NSLOT - 1) {
            sb[me] ! x * NSLOT + i, 0;
            sb[me] ! NCELL + x * NSLOT + i, 0
        };
        i = 0;
        atomic {
            top[x] = 0; y = deeper[x]; deeper[x] = NOREC;
#ifndef MUTANT_RELEASE_BEFORE_CLEAR
            sb[me] ! 2 * NCELL + x, 0;
#endif
            x = y; y = 0
        }
    :: else -> break
    od
}

/* Protected(head): claim the record's next slot (chaining a deeper record when full), then
 * p = head; loop { slot = p; compiler barrier (fallback: seq_cst store + fence); q = head;
 * if q == p break; p = q }. L is the nesting level (ghost index). */
inline enter(R, D, P, E, L) {
    if
    :: rec == NOREC -> acquireRecord(rec)
    :: else
    fi;
    R = rec;
    do
    :: top[R] < NSLOT -> D = top[R]; top[R]++; break
    :: else ->
        if
        :: deeper[R] == NOREC -> acquireRecord(deeper[R])
        :: else
        fi;
        R = deeper[R]
    od;
    P = head;
#ifdef MUTANT_NO_VALIDATION
    atomic { sb[me] ! R * NSLOT + D, P; using[me * 2 + L] = P; E = size[P] }
#else
    do
    :: sb[me] ! R * NSLOT + D, P;
#if defined(FALLBACK) && !defined(MUTANT_FALLBACK_NO_FENCE)
       atomic { drainOwn(me) };
#endif
       atomic {
           q = head;
           if
           :: q == P -> using[me * 2 + L] = P; q = 0; E = size[P]; break   /* then end.load(acquire) */
           :: else -> P = q; q = 0
           fi
       }
    od;
#endif
    atomic { assert(sst[P] == LIVE || sst[P] == RETIRED) }   /* nothing read from P is freed */
}

/* ~Protected(): slot.store(nullptr, release); top = slot. */
inline leave(R, D, L) {
    atomic { using[me * 2 + L] = 0; sb[me] ! R * NSLOT + D, 0; top[R] = D; R = 0; D = 0 }
}

/* One entry of notify's loop: box = it->box; running.store(box); compiler barrier;
 * invoke.load()(box). Sets F when the handler is called. */
inline announceAndLoad(R, D, P, J, B, F, L) {
#ifdef MUTANT_ANNOUNCE_AFTER_INVOKE
    atomic {
        assert(sst[P] == LIVE || sst[P] == RETIRED); B = ent[P * CAP + J];
        F = live[P * CAP + J];
        if :: F -> calling[me * 2 + L] = B; assert(bst[B] == LIVE || bst[B] == RETIRED) :: else fi
    }
    sb[me] ! NCELL + R * NSLOT + D, B;
#else
    /* the entry's box pointer is immutable: its load merges with the announcement */
    atomic { assert(sst[P] == LIVE || sst[P] == RETIRED); B = ent[P * CAP + J]; sb[me] ! NCELL + R * NSLOT + D, B }
#if defined(FALLBACK) && !defined(MUTANT_FALLBACK_NO_ANNOUNCE_FENCE)
    atomic { drainOwn(me) };   /* notifyOutOfLine, callRun: seq_cst fence after the announcement */
#endif
    atomic {
        F = live[P * CAP + J];
        if :: F -> calling[me * 2 + L] = B; assert(bst[B] == LIVE || bst[B] == RETIRED) :: else fi
    }
#endif
}

/* A handler's body: a once-handler's flag and self-removal (retireFired: lock, tombstone). */
inline callHandler(B) {
    if
    :: once[B] ->
#ifdef MUTANT_ONCE_LOAD_STORE
        was = fired[B];
        fired[B] = true;
#else
        atomic { was = fired[B]; fired[B] = true }
#endif
        if
        :: !was ->
            atomic {
                lock();
                if
                :: !removed[B] -> tombstone(B)
                :: else
                fi;
                wmutex = NOPID
            }
            atomic { runs[B]++; assert(runs[B] <= 1); assert(bst[B] == LIVE || bst[B] == RETIRED) }
        :: else
        fi;
        was = false
    :: else
    fi
}

/* The nested notify inside a handler (no further nesting). */
inline nestedNotify() {
    enter(r2, d2, p2, e2, 1);
    j2 = 0;
    do
    :: j2 < e2 ->
        announceAndLoad(r2, d2, p2, j2, b2, f2, 1);
        if
        :: f2 -> atomic { assert(bst[b2] == LIVE || bst[b2] == RETIRED); calling[me * 2 + 1] = 0 }
        :: else
        fi;
        j2++
    :: else -> break
    od;
    atomic { j2 = 0; e2 = 0; b2 = 0; f2 = false; p2 = 0 }
    leave(r2, d2, 1)
}

/* A thread in notify(): one section over the snapshot, calling each live handler. */
proctype Reader(byte me; bool mayVanish; byte park) {
    byte rec = NOREC, i, k, a, v, q, y;
    byte r, d, p, e, j, b;
    byte r2, d2, p2, e2, j2, b2;
    bool f, f2, was, nested;

    enter(r, d, p, e, 0);
    j = 0;
    do
    :: j < e ->
        announceAndLoad(r, d, p, j, b, f, 0);
        if
        :: f ->
            callHandler(b);
#ifdef NEST
            if
            :: me == 0 && !nested -> nested = true; nestedNotify()
            :: else
            fi;
#endif
            if
            :: park == b -> (writersDone == 1)    /* parked in handler `park` (a modal dialog) */
            :: else
            fi;
#ifdef REUSE
            if
            :: mayVanish ->
                /* fork(): this thread does not exist in the child; the child's atfork handler
                 * releases its records (resetRecordsInChild) while its section is open. The
                 * fork's page protection drained every store buffer. */
                atomic {
                    using[me * 2] = 0; calling[me * 2] = 0;
                    drainOwn(me);
                    do
                    :: rec != NOREC ->
#ifndef MUTANT_REUSE_NO_CLEAR
                        for (i : 0 .. NSLOT - 1) { hz[rec * NSLOT + i] = 0; rn[rec * NSLOT + i] = 0 };
                        top[rec] = 0;
#endif
                        y = deeper[rec]; deeper[rec] = NOREC;
                        inUse[rec] = false; CHANGED;
                        rec = y
                    :: else -> break
                    od;
                    i = 0; y = 0
                }
                goto gone
            :: true
            fi;
#endif
            atomic { assert(bst[b] == LIVE || bst[b] == RETIRED); calling[me * 2] = 0 }
        :: else
        fi;
        j++
    :: else -> break
    od;
    atomic { j = 0; e = 0; b = 0; f = false; p = 0 }
    leave(r, d, 0);
#ifdef REUSE
    if
    :: mayVanish -> releaseRecords(rec)   /* the thread ends: its key destructor */
    :: else
    fi;
gone:
    if
    :: me == 0 -> firstGone = true
    :: else
    fi;
#endif
    readersDone++
}

/* The store buffer drains into memory at any time (not part of the program). */
proctype Drain(byte t) {
    byte a, v;
end:
    do
    :: atomic { sb[t] ? a, v -> apply(a, v); a = 0; v = 0 }
    od
}

proctype Writer(byte w) {
    WRITER_LOCALS;
    byte round, box;
    bool cow;
#if SCRIPT == 1
    /* add (append into the slack, or copy-on-write), remove (tombstone, maybe a pass),
     * removeAndWait of the other handler */
    if
    :: cow = false
    :: cow = true
    fi;
    add(2, cow);
    remove(1);
    removeAndWait(2, w);
#elif SCRIPT == 2
    removeAndWait(1, w);
#elif SCRIPT == 3
    if
    :: w == 0 ->
        remove(1)      /* BATCH 1: a pass, whose chain is in flight while ... */
    :: else ->
        /* ... a closure destructor of that chain lets another thread destroy the registry */
        (readersDone == NR && (chainSignal || writersDone == 1));
        destroyRegistry()
    fi;
#elif SCRIPT == 5
    /* reader 0 runs handler 1, then parks in handler 2 until this writer is done */
    removeAndWait(1, w);
#elif SCRIPT == 4
    /* remove(add()) churn while reader 0 stays parked inside handler 1 */
    do
    :: round < CHURN ->
        atomic { round++; box = nextBox; nextBox++; assert(box < NB) }
        add(box, false);
        remove(box);
        atomic { assert(pending <= BOUND); box = 0 }
    :: else -> break
    od;
    round = 0;
#endif
    writersDone++
}

init {
    byte t, k, i, a, v, n, c, s, old, spins;
    bool any, keep, blocked, headProt, found;
    bool prot[NS]; bool mark[NB]; bool take[NB + NS]; bool fb[NB]; bool fs[NS];
    atomic {
        /* snapshot 1 (version 1) holds box 1 (and box 2 with TWO_BOXES) */
        sst[1] = LIVE; ver[1] = 1; size[1] = 1;
        ent[1 * CAP + 0] = 1; live[1 * CAP + 0] = true;
        bst[1] = LIVE; birth[1] = 1; death[1] = INF; bindex[1] = 0;
#ifdef TWO_BOXES
        size[1] = 2; ent[1 * CAP + 1] = 2; live[1 * CAP + 1] = true;
        bst[2] = LIVE; birth[2] = 1; death[2] = INF; bindex[2] = 1;
#endif
#ifdef ONCE
        once[1] = true;
#endif
        for (k : 0 .. NREC - 1) { deeper[k] = NOREC };
        for (t : 0 .. NT - 1) { run Drain(t) };
#if SCRIPT == 4
        run Reader(0, false, 1);
#elif SCRIPT == 5
        run Reader(0, false, 2);
#else
        run Reader(0, true, 0);
#endif
#if NR > 1
        run Reader(1, false, 0);
#endif
        run Writer(0);
#if SCRIPT == 3
        run Writer(1)
#endif
    };
#ifdef REUSE
    /* a new thread takes a record (maybe reader 0's) and notifies */
    firstGone;
    run Reader(NR, false, 0);
#endif
#if SCRIPT == 3
    (readersDone == NT && writersDone == 2);
#else
    (readersDone == NT && writersDone == 1);
#endif
    /* quiescence: the store buffers drain, every record is clear ... */
    for (t : 0 .. NT - 1) { empty(sb[t]) };
    for (k : 0 .. NCELL - 1) { assert(hz[k] == 0) };
#if SCRIPT != 3
    /* ... and one more fenced pass frees everything retired (nothing is pinned forever) */
    atomic { lock() };
    pass(true, 0);
    for (k : 1 .. NB - 1) { assert(bst[k] != RETIRED && bst[k] != UNLINKED && (!removed[k] || bst[k] == FREED)) };
    for (k : 1 .. NS - 1) { assert(sst[k] != RETIRED && sst[k] != UNLINKED) }
#endif
}
