// SPDX-License-Identifier: MIT
// Model of the Qt facade's queued delivery (src/qt/src/qt_post.cpp, qt_drain.cpp,
// qt_control.cpp, owner_anchor.cpp). One notifier queues events 1..N to two handlers on one
// receiving thread (H1 priority 2, then H2 priority 1, as the core calls them), each with a
// bounded queue (DropOldest) and a listing in the thread's mailbox; the receiving thread's drain
// merges the active handlers' oldest deliveries by (notify sequence, priority), pulling in
// handlers listed meanwhile, and runs each delivery inside a frame counted before the handler's
// lock. Meanwhile a remover cancels H2 and waits for its running deliveries (removeAndWait),
// and a synchronizer cancels H1 and waits for the running deliveries of both generations
// (synchronize); after each, the handler's code is "unloaded". A delivery of H1 may report a
// failure whose slot deletes the registry (detach: waits for other threads' frames only).
//
// Checked: deliveries on the thread in (sequence, priority) order; waiting deliveries never
// above CAP; no handler code after removeAndWait or synchronize returned; no self-wait
// (an invalid end state). Mutants (-D): NO_MERGE (the drain ignores handlers listed meanwhile),
// BATCH (the drain takes two into an uncounted batch), LATE_FRAME (the frame is counted after the
// handler's lock), SYNC_NEW_GENERATION (synchronize waits on the generation new deliveries use),
// SELF_WAIT (detach waits for the calling thread's own frame).

#ifndef N
#define N 3
#endif
#ifndef CAP
#define CAP 2
#endif

chan q1 = [4] of { byte }; // H1's waiting deliveries (notify sequences)
chan q2 = [4] of { byte };
bool listed1, listed2;     // listed in the mailbox (incoming or active)
bool in1, in2;             // in the mailbox's incoming list
bool hasIncoming;
bool active1, active2;     // the drain's active list
bool cancelled1, cancelled2;
bool target1 = 1, target2 = 1; // the typed part, reached weakly
bool unloaded1, unloaded2;
byte running1, running2;   // frames of each handler
byte generation;
byte runningGen[2];        // frames per generation
byte batch1;               // BATCH: taken, not delivered, not counted by the notifier
byte lastSeq, lastPrio;
bool notifierDone;
byte users;                // frames reaching the registry (OwnerAnchor)
bool registryAlive = 1;

inline enqueue(q, listed, incoming, cancelled, seq)
{
    atomic {
        if
        :: cancelled -> skip
        :: else ->
            if
            :: len(q) >= CAP -> q?_ // DropOldest
            :: else -> skip
            fi;
            q!seq;
            if
            :: !listed -> listed = 1; incoming = 1; hasIncoming = 1
            :: else -> skip
            fi
        fi
    }
}

proctype Notifier()
{
    byte s = 1;
    do
    :: s <= N ->
        enqueue(q1, listed1, in1, cancelled1, s);
        assert(len(q1) + batch1 <= CAP);
        enqueue(q2, listed2, in2, cancelled2, s);
        s++
    :: s > N -> break
    od;
    notifierDone = 1
}

inline clear(q)
{
    do
    :: nempty(q) -> q?_
    :: empty(q) -> break
    od
}

// Peeks handler h: its oldest order, or out of the active list (empty or cancelled).
inline peek(q, act, listed, cancelled, has, key)
{
    atomic {
        has = 0;
        if
        :: act && cancelled -> clear(q); listed = 0; act = 0
        :: act && !cancelled && nempty(q) -> q?<key>; has = 1
        :: act && !cancelled && empty(q) -> listed = 0; act = 0
        :: !act -> skip
        fi
    }
}

// One delivery of handler h whose oldest order was `key`.
inline deliver(q, cancelled, target, running, unloaded, prio, key, isH1)
{
    took = 0;
#ifndef LATE_FRAME
    g = generation % 2;
    runningGen[g]++;
    running++;
#endif
    atomic {
        if
        :: cancelled || empty(q) -> skip
        :: !cancelled && nempty(q) ->
            q?<front>;
            if
            :: front != key -> skip
#ifndef NO_MERGE
            :: front == key && hasIncoming -> skip
            :: front == key && !hasIncoming -> q?x; took = 1; gotTarget = target
#else
            :: front == key -> q?x; took = 1; gotTarget = target
#endif
            fi
        fi
    }
#ifdef LATE_FRAME
    g = generation % 2;
    runningGen[g]++;
    running++;
#endif
    if
    :: took && gotTarget ->
        assert(!unloaded); // no code of a handler after removeAndWait / synchronize returned
        assert(x > lastSeq || (x == lastSeq && prio < lastPrio));
        lastSeq = x;
        lastPrio = prio;
        if
        :: isH1 && registryAlive -> // its failure's slot deletes the registry: detach
            users++;
            registryAlive = 0;
#ifndef SELF_WAIT
            (users <= 1); // the frames of other threads only
#else
            (users <= 0);
#endif
            users--
        :: else -> skip
        fi
    :: else -> skip
    fi;
    running--;
    runningGen[g]--
}

proctype Drain()
{
    byte key1, key2, front, x, g;
    bool has1, has2, took, gotTarget;
    do
    :: hasIncoming ->
        atomic {
            if
            :: in1 -> active1 = 1; in1 = 0
            :: else -> skip
            fi;
            if
            :: in2 -> active2 = 1; in2 = 0
            :: else -> skip
            fi;
            hasIncoming = 0
        }
    :: active1 || active2 ->
#ifdef BATCH
        atomic {
            if
            :: active1 && batch1 == 0 && len(q1) >= 2 -> q1?_; q1?_; batch1 = 2
            :: else -> skip
            fi
        }
        if
        :: batch1 > 0 -> batch1--
        :: else -> skip
        fi;
#endif
        peek(q1, active1, listed1, cancelled1, has1, key1);
        peek(q2, active2, listed2, cancelled2, has2, key2);
        if
        :: has1 && (!has2 || key1 <= key2) -> deliver(q1, cancelled1, target1, running1, unloaded1, 2, key1, 1)
        :: has2 && (!has1 || key2 < key1) -> deliver(q2, cancelled2, target2, running2, unloaded2, 1, key2, 0)
        :: !has1 && !has2 -> skip
        fi
    :: notifierDone && !hasIncoming && !active1 && !active2 -> break
    od
}

proctype Remover()
{
    atomic { cancelled2 = 1; target2 = 0; clear(q2) }
    (running2 == 0); // removeAndWait: the frames of other threads (none of its own here)
    unloaded2 = 1
}

proctype Synchronizer()
{
    byte old;
    atomic { cancelled1 = 1; target1 = 0; clear(q1) }
#ifndef SYNC_NEW_GENERATION
    atomic { old = generation % 2; generation++ }
    (runningGen[old] == 0);
    atomic { old = generation % 2; generation++ }
    (runningGen[old] == 0);
#else
    atomic { generation++; old = generation % 2 }
    (runningGen[old] == 0);
#endif
    unloaded1 = 1
}

init
{
    atomic {
        run Notifier();
        run Drain();
#ifndef NO_REMOVAL
        run Remover();
        run Synchronizer();
#endif
    }
}
