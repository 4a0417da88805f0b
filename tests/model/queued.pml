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
//
// The receiver's thread life (-DMOVE or -DTHREAD_EXIT, a model of its own below): one handler H
// whose context lives on thread 0 receives events 1..N through the mailboxes of the threads its
// context lives on. MOVE: a delivery on thread 0 moves the context to thread 1 (moveToThread,
// with its posted drain events) while deliveries are pending; a remover on a third thread runs
// removeAndWait meanwhile. THREAD_EXIT: thread 0 ends with a drain event still queued
// (thread->quit(); thread->wait(); delete context). Checked: every delivery runs on the thread
// its context lives on when it is taken, in notify order; every event sent is delivered or
// cleared by a removal (none left listed forever); no handler code after removeAndWait returned;
// no mailbox of an ended thread survives. Mutants: MOVE_NO_RELIST (a drain that finds the
// context moved drops the handler instead of listing it on the new thread), WAIT_CONTEXT_THREAD
// (removeAndWait waits only for the frames on the context's current thread), KEEP_BOX (a lost
// drain event leaves its mailbox behind).

#ifndef N
#define N 3
#endif
#ifndef CAP
#define CAP 2
#endif

#if !defined(MOVE) && !defined(THREAD_EXIT)
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
#else

// --- The receiver's thread life: moveToThread and thread exit ---

#define DEAD 2
chan mq = [4] of { byte }; // H's waiting deliveries (notify sequences)
byte ctx;                  // the thread H's context lives on; DEAD once it is deleted
bool alive[2] = 1;         // the receiving threads run their event loops
bool box[2];               // thread t has a mailbox
bool posted[2];            // its drain event is queued (to the context: it moves with it)
bool incoming[2];          // H is in that mailbox's incoming list
bool listed;               // H is listed in some mailbox (incoming or a drain's active list)
bool draining[2];          // a drain of thread t's mailbox is under way
bool cancelled, unloaded, notifierDone;
byte sent, delivered, cleared, lastX;
byte running;              // H's frames, on every thread
byte runningOn[2];         // ... per thread

// Lists H in the mailbox of thread t, posting its drain event if none is queued.
inline list(t)
{
    box[t] = 1;
    incoming[t] = 1;
    posted[t] = 1;
    listed = 1
}

// Drops H's waiting deliveries (removal, or its context died).
inline clearAll()
{
    do
    :: nempty(mq) -> mq?_; cleared++
    :: empty(mq) -> break
    od
}

// A drain event discarded unrun (its thread ended and its context died): the mailbox goes and
// its listed handlers are listed again where their context lives, or dropped.
inline lost(t)
{
    posted[t] = 0;
#ifndef KEEP_BOX
    if
    :: !draining[t] -> box[t] = 0 // a drain under way lets it go when it ends
    :: else -> skip
    fi;
#endif
    if
    :: incoming[t] ->
        incoming[t] = 0;
        if
        :: ctx == DEAD || cancelled -> clearAll(); listed = 0
        :: else -> list(ctx)
        fi
    :: else -> skip
    fi
}

proctype MNotifier()
{
    byte s = 1;
    do
    :: s <= N ->
        atomic {
            if
            :: cancelled || ctx == DEAD -> skip // removed: nothing is queued
            :: else ->
                mq!s;
                sent++;
                if
                :: !listed -> list(ctx)
                :: else -> skip
                fi
            fi
        };
        s++
    :: s > N -> break
    od;
    notifierDone = 1
}

proctype Receiver(byte t)
{
    bool act, has, took;
    byte key, front, x;
    do
    :: atomic { alive[t] && posted[t] -> posted[t] = 0; draining[t] = 1; act = incoming[t]; incoming[t] = 0 };
        do
        :: act ->
            atomic { // peek
                has = 0;
                if
                :: cancelled || ctx == DEAD -> clearAll(); listed = 0; act = 0
                :: !cancelled && ctx != DEAD && ctx != t -> // moved: listed where it lives now
                    act = 0;
#ifndef MOVE_NO_RELIST
                    list(ctx)
#else
                    skip
#endif
                :: !cancelled && ctx == t && empty(mq) -> listed = 0; act = 0
                :: !cancelled && ctx == t && nempty(mq) -> mq?<key>; has = 1
                fi
            };
            if
            :: has ->
                running++; // the frame, counted before the handler's lock
                runningOn[t]++;
                atomic {
                    took = 0;
                    if
                    :: cancelled || ctx != t || empty(mq) -> skip
                    :: !cancelled && ctx == t && nempty(mq) ->
                        mq?<front>;
                        if
                        :: front == key -> mq?x; took = 1; assert(ctx == t) // where its context lives
                        :: else -> skip
                        fi
                    fi
                };
                if
                :: took ->
                    assert(!unloaded); // no code of a handler after removeAndWait returned
                    assert(x > lastX); // in notify order, across threads
                    lastX = x;
                    delivered++;
#ifdef MOVE
                    if
                    :: t == 0 && ctx == 0 -> // the handler moves its context, with its posted events
                        atomic {
                            ctx = 1;
                            if
                            :: posted[0] -> posted[0] = 0; lost(0)
                            :: else -> skip
                            fi
                        }
                    :: else -> skip
                    fi;
#endif
                    assert(!unloaded) // still inside the handler
                :: else -> skip
                fi;
                runningOn[t]--;
                running--
            :: else -> skip
            fi
        :: !act -> break
        od;
        atomic { // the drain ends: a mailbox with no work left goes
            draining[t] = 0;
            if
            :: !incoming[t] && !posted[t] -> box[t] = 0
            :: else -> skip
            fi
        }
#ifdef THREAD_EXIT
    :: t == 0 && alive[0] -> alive[0] = 0; break // quit(): a drain event may still be queued
#endif
    :: notifierDone && !posted[0] && !posted[1] && !listed -> break
    od;
    alive[t] = 0 // the thread finishes
}

#ifdef MOVE
proctype Remover()
{
    atomic { cancelled = 1; clearAll() }
#ifndef WAIT_CONTEXT_THREAD
    (running == 0); // every thread's frames (the remover runs on none of them)
#else
    (runningOn[ctx] == 0);
#endif
    unloaded = 1
}
#endif

#ifdef THREAD_EXIT
// thread->quit(); thread->wait(); delete context: the deletion discards its posted drain events.
proctype Owner()
{
    (!alive[0]);
    atomic {
        ctx = DEAD;
        clearAll(); // the context watch removes the handler
        if
        :: posted[0] -> lost(0)
        :: else -> skip
        fi
    }
}
#endif

init
{
    atomic {
        run MNotifier();
        run Receiver(0);
#ifdef MOVE
        run Receiver(1);
        run Remover();
#endif
#ifdef THREAD_EXIT
        run Owner();
#endif
    }
    (_nr_pr == 1); // everything else ended
    assert(delivered + cleared == sent); // nothing left waiting forever
    assert(!box[0] || alive[0]);         // no mailbox of an ended thread
}
#endif
