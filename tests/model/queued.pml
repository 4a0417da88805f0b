// SPDX-License-Identifier: MIT
// Model of the Qt facade's queued delivery (src/qt/src/qt_post.cpp, qt_drain.cpp,
// qt_mailboxes.cpp, thread_carriers.cpp, qt_control.cpp, thread_frames.cpp). One notifier queues
// events 1..N to two handlers on one receiving thread (H1 priority 2, then H2 priority 1, as the
// core calls them), each with a bounded queue (DropOldest) and a listing in the thread's mailbox;
// the receiving thread's drain takes a handler's waiting deliveries in one go (still counted
// against the capacity, the oldest ones DropOldest drops), merges the active handlers' oldest
// deliveries by (notify sequence, priority), pulling in handlers listed meanwhile, and runs each
// delivery inside a frame counted before the drain's lock; a delivery looks at `cancelled` once
// more, marked as starting, before it calls the handler. Meanwhile a remover cancels H2, waits for
// the deliveries still starting (remove), then for its running ones (removeAndWait), and a
// synchronizer cancels H1 and waits for the running deliveries of both generations (synchronize);
// after each, the handler's code is "unloaded". A delivery of H1 may report a failure whose slot
// deletes the registry (detach: waits for other threads' frames only).
//
// Checked: deliveries on the thread in (sequence, priority) order; waiting deliveries never
// above CAP; no delivery of H2 starts after remove returned; no handler code after removeAndWait
// or synchronize returned; no self-wait
// (an invalid end state). Mutants (-D): NO_MERGE (the drain ignores handlers listed meanwhile),
// BATCH (the drain takes two into an uncounted batch), LATE_FRAME (the frame is counted after the
// delivery's last look at `cancelled`), SYNC_NEW_GENERATION (synchronize waits on the generation
// new deliveries use), SELF_WAIT (detach waits for the calling thread's own frame), NO_RECHECK and
// UNMARKED_RECHECK (see deliver).
//
// The receiver's thread life (-DMOVE and/or -DTHREAD_EXIT, a model of its own below): one
// handler H whose context lives on thread 0 receives events 1..N through the mailboxes of the
// threads its context lives on. A mailbox's drain event is posted to its thread's carrier, a
// library object that lives on that thread and never moves; the carrier goes when its thread
// finishes or its QThread is deleted, discarding the drain event, whose mailbox then goes and
// whose listed handler is listed again where its context lives (or stays unlisted, its queue
// kept, when it has no work or its context has no thread). MOVE: a delivery on thread 0 moves the
// context to thread 1 while deliveries are pending; a remover on a third thread may run
// removeAndWait meanwhile. THREAD_EXIT: thread 0 ends with a drain event still queued
// (thread->quit(); thread->wait()), then the context and the QThread are deleted in either order
// (or the QThread kept); both together: thread 0 may end after the context moved. Checked: every
// delivery runs on the thread its context lives on when it is taken, in notify order; every event
// sent is delivered or counted as dropped by a removal or the context's death (none left listed
// forever); no handler code after removeAndWait returned; no mailbox of an ended thread remains,
// except one whose drain event waits on the carrier of a QThread that still exists. Mutants:
// MOVE_NO_RELIST (a drain that finds the context moved drops the handler instead of listing it
// on the new thread), WAIT_CONTEXT_THREAD (removeAndWait waits only for the frames on the
// context's current thread), KEEP_BOX (a discarded drain event leaves its mailbox behind).
//
// A drain request and the receivers of its thread (-DCARRIER): a long-lived handler H and K
// delegate handlers, all with contexts on one thread, receive events 1..N (the delegates listed
// first); the delegates' contexts are deleted at any point, between events or from a handler's
// code, and each deletion counts the deliveries that waited as dropped. Checked, per handler:
// delivered + counted drops == sent, so a delegate's death costs H nothing. Mutant
// CARRIER_IS_CONTEXT: the drain event is posted through the context of the handler that listed
// first, so it is discarded with that context and the listed handlers are listed again (the first
// one carrying the new drain event); a handler relisted more than RESEND_BOUND times has its queue
// cleared without counting, and H loses its deliveries once K > RESEND_BOUND delegates die.
//
// A coalesced delivery's interval wait (-DTIMER): a Latest handler with a minimum interval, its
// context on thread 0, gets payloads 1..N; its delivery event goes to the context (and moves with
// it) and, when the interval has not passed, arms a timer on the thread it runs on. The context
// moves to thread 1 at any time, and thread 0 may then end before its timer fires (the timer is
// discarded unrun: it posts the delivery to the context); a removal may come at any time. Checked:
// every run of the handler is on the thread its context lives on then, payloads run newest-last,
// and the newest payload is delivered or counted as dropped by the removal. Mutants:
// TIMER_RUNS_WHERE_ARMED (the timer runs the handler on the thread that armed it),
// TIMER_LOST_ON_EXIT (a timer discarded by its thread's end posts nothing).

#ifndef N
#define N 3
#endif
#ifndef CAP
#define CAP 2
#endif

#if !defined(MOVE) && !defined(THREAD_EXIT) && !defined(CARRIER) && !defined(TIMER)
chan q1 = [4] of { byte }; // H1's newer waiting deliveries (notify sequences), where notifiers queue
chan q2 = [4] of { byte };
chan t1 = [4] of { byte }; // H1's older waiting deliveries, taken by the drain in one go (counted)
chan t2 = [4] of { byte };
bool listed1, listed2;     // listed in the mailbox (incoming or active)
bool in1, in2;             // in the mailbox's incoming list
bool hasIncoming;
bool active1, active2;     // the drain's active list
bool cancelled1, cancelled2;
bool target1 = 1, target2 = 1; // the typed part, reached weakly
bool unloaded1, unloaded2;
bool removed2;             // remove() of H2 returned (its removeAndWait's first half)
byte running1, running2;   // frames of each handler
byte starting1, starting2; // deliveries in their last look at `cancelled` (mayStart)
byte generation;
byte runningGen[2];        // frames per generation
byte batch1;               // BATCH: taken, not delivered, not counted by the notifier
byte lastSeq, lastPrio;
bool notifierDone;
byte users;                // frames reaching the registry (OwnerAnchor)
bool registryAlive = 1;

inline enqueue(q, t, listed, incoming, cancelled, seq)
{
    atomic {
        if
        :: cancelled -> skip
        :: else ->
            if
            :: len(q) + len(t) >= CAP && nempty(t) -> t?_ // DropOldest: the taken ones are older
            :: len(q) + len(t) >= CAP && empty(t) -> q?_
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
        enqueue(q1, t1, listed1, in1, cancelled1, s);
        assert(len(q1) + len(t1) + batch1 <= CAP);
        enqueue(q2, t2, listed2, in2, cancelled2, s);
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

// Peeks handler h (under both of its locks): its oldest order, or out of the active list (empty
// or cancelled). With nothing taken, every waiting delivery is taken in one go.
inline peek(q, t, act, listed, cancelled, has, key)
{
    atomic {
        has = 0;
        if
        :: act && cancelled -> clear(q); clear(t); listed = 0; act = 0
        :: act && !cancelled && (nempty(t) || nempty(q)) ->
            if
            :: empty(t) ->
                do
                :: nempty(q) -> q?y; t!y
                :: empty(q) -> break
                od
            :: else -> skip
            fi;
            t?<key>;
            has = 1
        :: act && !cancelled && empty(q) && empty(t) -> listed = 0; act = 0
        :: !act -> skip
        fi
    }
}

// One delivery of handler h whose oldest order was `key`, from what the drain took (under the
// drain lock only), run as the code's run() does.
inline deliver(q, cancelled, target, running, unloaded, starting, removed, prio, key, isH1)
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
    // run(): marked as starting, it looks at `cancelled` again (a delivery that finds it set is
    // counted as dropped), then the library's steps before the call (counts, trace, timing); the
    // mark ends as the handler's code is called. NO_RECHECK: no second look; UNMARKED_RECHECK: a
    // second look without the mark (the removal does not wait for the steps after it).
    if
    :: took && gotTarget ->
#if !defined(NO_RECHECK) && !defined(UNMARKED_RECHECK)
        starting++;
#endif
#ifndef NO_RECHECK
        if
        :: cancelled ->
            gotTarget = 0
#ifndef UNMARKED_RECHECK
            ; starting--
#endif
        :: else -> skip
        fi;
#endif
        skip // the steps before the call
    :: else -> skip
    fi;
#ifdef LATE_FRAME
    g = generation % 2;
    runningGen[g]++;
    running++;
#endif
    if
    :: took && gotTarget ->
        atomic {
#if !defined(NO_RECHECK) && !defined(UNMARKED_RECHECK)
            starting--; // the call
#endif
            assert(!removed) // no delivery starts once remove() returned
        };
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
    byte key1, key2, front, x, y, g;
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
        peek(q1, t1, active1, listed1, cancelled1, has1, key1);
        peek(q2, t2, active2, listed2, cancelled2, has2, key2);
        if
        :: has1 && (!has2 || key1 <= key2) ->
            deliver(t1, cancelled1, target1, running1, unloaded1, starting1, unloaded1, 2, key1, 1)
        :: has2 && (!has1 || key2 < key1) ->
            deliver(t2, cancelled2, target2, running2, unloaded2, starting2, removed2, 1, key2, 0)
        :: !has1 && !has2 -> skip
        fi
    :: notifierDone && !hasIncoming && !active1 && !active2 -> break
    od
}

// removeAndWait: remove() (cancel, wait for the deliveries still looking at `cancelled`, never
// for the handler's code, then clear the queue), then wait for the running deliveries.
proctype Remover()
{
    cancelled2 = 1;
    (starting2 == 0);
    atomic { target2 = 0; clear(q2); clear(t2) }
    removed2 = 1;
    (running2 == 0); // the frames of other threads (none of its own here)
    unloaded2 = 1
}

proctype Synchronizer()
{
    byte old;
    atomic { cancelled1 = 1; target1 = 0; clear(q1); clear(t1) }
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
#elif defined(CARRIER)

// --- A drain request and the life of the receivers on its thread ---

#ifndef K
#define K 2             // delegate handlers
#endif
#ifndef RESEND_BOUND
#define RESEND_BOUND 1  // CARRIER_IS_CONTEXT: relists of a handler before its queue is cleared
#endif
#define NH (K + 1)      // handler 0 is H (long-lived), 1..K the delegates
byte q[NH];             // waiting deliveries per handler (their order is checked above)
byte sent[NH], delivered[NH], dropped[NH]; // dropped: counted (removal or context death)
bool dead[NH];          // the handler's context was deleted (its watch removed the handler)
bool listed[NH];        // in the mailbox (incoming or active)
bool act[NH];           // in the running drain's active list
chan inbox = [NH] of { byte }; // the mailbox's incoming list, in listing order
bool box;               // thread 0 has a mailbox
bool posted;            // its drain event is queued
bool draining;
bool notifierDone;
#ifdef CARRIER_IS_CONTEXT
byte carrier;           // the handler whose context the drain event was posted through
byte resends[NH];
#endif

// Lists handler h (given work, not listed), posting the drain event if none is queued: to the
// thread's carrier, or (CARRIER_IS_CONTEXT) through h's context.
inline enlist(h)
{
    listed[h] = 1;
    inbox!h;
    box = 1;
    if
    :: !posted ->
        posted = 1;
#ifdef CARRIER_IS_CONTEXT
        carrier = h
#else
        skip
#endif
    :: else -> skip
    fi
}

#ifdef CARRIER_IS_CONTEXT
// The drain event was discarded with its context: every listed handler is listed again (the
// first through its own context), and one relisted too often has its queue cleared, uncounted.
inline lost()
{
    posted = 0;
    if
    :: !draining -> box = 0
    :: else -> skip
    fi;
    n = len(inbox);
    do
    :: n > 0 ->
        inbox?i;
        listed[i] = 0;
        resends[i]++;
        if
        :: dead[i] -> skip // cleared and counted when its context died
        :: !dead[i] && resends[i] > RESEND_BOUND -> q[i] = 0
        :: !dead[i] && resends[i] <= RESEND_BOUND -> enlist(i)
        fi;
        n--
    :: n == 0 -> break
    od
}
#endif

// The worker's notifies: each event to every handler alive, the delegates first (h % NH: 1..K,
// then 0).
proctype CNotifier()
{
    byte s = 1, h;
    do
    :: s <= N ->
        h = 1;
        do
        :: h <= NH ->
            atomic {
                if
                :: !dead[h % NH] ->
                    q[h % NH]++;
                    sent[h % NH]++;
                    if
                    :: !listed[h % NH] -> enlist(h % NH)
                    :: else -> skip
                    fi
                :: else -> skip
                fi
            };
            h++
        :: h > NH -> break
        od;
        s++
    :: s > N -> break
    od;
    notifierDone = 1
}

// Thread 0: drain events, and delegates deleted between events or by a handler's code.
proctype CThread()
{
    byte h, i, n;
    do
    :: atomic { !draining && posted -> // the drain event runs: the listed handlers become active
        posted = 0;
        draining = 1;
        do
        :: nempty(inbox) -> inbox?i; act[i] = 1
        :: empty(inbox) -> break
        od;
        h = 0 }
    :: atomic { draining && h < NH -> // peek handler h, deliver its oldest delivery
        if
        :: !act[h] -> h++
        :: act[h] && dead[h] -> act[h] = 0; listed[h] = 0; h++
        :: act[h] && !dead[h] && q[h] == 0 -> act[h] = 0; listed[h] = 0; h++
        :: act[h] && !dead[h] && q[h] > 0 ->
            q[h]--;
            delivered[h]++
#ifdef CARRIER_IS_CONTEXT
            ; resends[h] = 0
#endif
        fi }
    :: atomic { draining && h == NH -> // the drain ends
        draining = 0;
        if
        :: empty(inbox) && !posted -> box = 0
        :: nempty(inbox) || posted -> skip
        fi }
    :: atomic { // a delegate's context is deleted: its watch removes it, counting what waited
        select(i : 1 .. K);
        if
        :: dead[i] -> skip
        :: !dead[i] ->
            dead[i] = 1;
            dropped[i] = dropped[i] + q[i];
            q[i] = 0
#ifdef CARRIER_IS_CONTEXT
            ;
            if
            :: posted && carrier == i -> lost() // Qt discards the events posted to it
            :: else -> skip
            fi
#endif
        fi }
    :: atomic { notifierDone && !posted && !draining -> break }
    od
}

init
{
    byte h;
    atomic {
        run CNotifier();
        run CThread()
    }
    (_nr_pr == 1);
    assert(delivered[0] + dropped[0] == sent[0]); // the long-lived handler's deliveries all arrive
    h = 1;
    do
    :: h < NH -> assert(delivered[h] + dropped[h] == sent[h]); h++
    :: h >= NH -> break
    od;
    assert(!box)
}

#elif defined(TIMER)

// --- A coalesced delivery's interval wait, and its context's thread life ---

#define NONE 0
#define POSTED 1 // a LatestCall posted to the context (it moves with it)
#define TIMER0 2 // an interval timer armed on thread 0 (it stays there)
#define TIMER1 3 // ... on thread 1
byte ctx;         // the thread the context lives on
byte call;        // what will run the handler's scheduled delivery: one of the above
bool scheduled;   // a delivery is on its way: notifies only replace the payload
byte pending;     // the newest payload not yet delivered (its notify sequence), 0 if none
byte lastSent, lastRun, droppedSeq; // droppedSeq: the payload a removal cleared (counted)
bool alive0 = 1;  // thread 0 runs its event loop (thread 1 runs to the end)
bool done0, cancelled, notifierDone;

// deliverLatest on thread t (from a LatestCall, or from the timer armed on t when `timer`).
inline deliverLatest(t, timer)
{
    atomic {
        took = 0;
        if
#ifndef TIMER_RUNS_WHERE_ARMED
        :: !cancelled && ctx != t -> call = POSTED // the context moved: deliver where it lives
#else
        :: !cancelled && ctx != t && !timer -> call = POSTED
#endif
        :: else ->
            if
            :: !cancelled -> call = TIMER0 + t // the interval has not passed: wait on this thread
            :: true -> // deliver the newest payload
                scheduled = 0;
                call = NONE;
                if
                :: pending != 0 && !cancelled -> x = pending; took = 1
                :: else -> skip
                fi;
                pending = 0
            fi
        fi
    }
    if
    :: took ->
        assert(ctx == t);  // the handler runs on the thread its context lives on
        assert(x > lastRun); // newer payloads only
        lastRun = x
    :: else -> skip
    fi
}

proctype TNotifier()
{
    byte s = 1;
    do
    :: s <= N ->
        atomic {
            if
            :: !cancelled ->
                pending = s;
                lastSent = s;
                if
                :: !scheduled -> assert(call == NONE); call = POSTED; scheduled = 1
                :: else -> skip
                fi
            :: else -> skip // removed: nothing is queued
            fi
        };
        s++
    :: s > N -> break
    od;
    notifierDone = 1
}

// Thread 0: runs the handler's events while the context lives there, moves it to thread 1
// (moveToThread, with its posted events) and may end before an armed timer fires.
proctype Thread0()
{
    bool took;
    byte x;
    do
    :: call == POSTED && ctx == 0 -> deliverLatest(0, 0)
    :: call == TIMER0 -> deliverLatest(0, 1) // the timer fires
    :: ctx == 0 -> ctx = 1
    :: ctx == 1 -> // the thread ends: its event dispatcher discards the timers armed there
        atomic {
            alive0 = 0;
            if
            :: call == TIMER0 ->
#ifndef TIMER_LOST_ON_EXIT
                if
                :: !cancelled && scheduled -> call = POSTED // to the context, on thread 1
                :: else -> call = NONE
                fi
#else
                call = NONE
#endif
            :: else -> skip
            fi
        };
        break
    :: notifierDone && call == NONE -> break
    od;
    done0 = 1
}

proctype Thread1()
{
    bool took;
    byte x;
    do
    :: call == POSTED && ctx == 1 -> deliverLatest(1, 0)
    :: call == TIMER1 -> deliverLatest(1, 1)
    :: notifierDone && done0 && call == NONE -> break
    od
}

// A removal (or the context's death), at any time or never: what waits is counted as dropped.
proctype TRemover()
{
    if
    :: atomic {
        cancelled = 1;
        droppedSeq = pending;
        pending = 0 }
    :: skip
    fi
}

init
{
    atomic {
        run TNotifier();
        run Thread0();
        run Thread1();
        run TRemover()
    }
    (_nr_pr == 1);
    // The newest payload was delivered, or counted as dropped by the removal.
    assert(lastRun == lastSent || (cancelled && droppedSeq == lastSent))
}

#else

// --- The receiver's thread life: moveToThread, thread exit, QThread deletion ---

#define DEAD 2     // ctx: the context was deleted
#define NOTHREAD 3 // ctx: the context lives, but its QThread was deleted
chan mq = [4] of { byte }; // H's waiting deliveries (notify sequences)
byte ctx;                  // the thread H's context lives on, or DEAD, or NOTHREAD
bool alive[2] = 1;         // the receiving threads run their event loops
bool qthread0 = 1;         // thread 0's QThread object exists
bool box[2];               // thread t has a mailbox
bool posted[2];            // its drain event is queued (on thread t's carrier, which never moves)
bool incoming[2];          // H is in that mailbox's incoming list
bool listed;               // H is listed in some mailbox (incoming or a drain's active list)
bool draining[2];          // a drain of thread t's mailbox is under way
bool cancelled, unloaded, notifierDone;
byte sent, delivered, lastX;
byte cleared;              // counted as dropped by a removal or the context's death
byte running;              // H's frames, on every thread
byte runningOn[2];         // ... per thread

// Lists H in the mailbox of thread t, posting its drain event to t's carrier if none is queued
// (a carrier is created for a finished thread too: its event then waits for the QThread's end).
inline list(t)
{
    box[t] = 1;
    incoming[t] = 1;
    posted[t] = 1;
    listed = 1
}

// Drops H's waiting deliveries, each counted (removal, or its context died).
inline clearAll()
{
    do
    :: nempty(mq) -> mq?_; cleared++
    :: empty(mq) -> break
    od
}

// Thread t's carrier goes (its thread finished, or its QThread was deleted) and discards its
// drain event unrun: the mailbox goes and H, if listed there, is listed again where its context
// lives; with no work, or a context without a thread, it stays unlisted with its queue kept (the
// next notify lists it). Nothing is dropped here, however often this happens.
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
        listed = 0;
        if
        :: ctx == DEAD || cancelled -> clearAll()
        :: else ->
            if
            :: ctx != NOTHREAD && nempty(mq) -> list(ctx)
            :: else -> skip
            fi
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
                :: !listed && ctx != NOTHREAD -> list(ctx)
                :: else -> skip // listed, or no thread to list it on: it waits
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
                :: !cancelled && ctx == NOTHREAD -> listed = 0; act = 0 // its queue waits
                :: !cancelled && ctx < 2 && ctx != t -> // moved: listed where it lives now
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
                    :: t == 0 && ctx == 0 -> ctx = 1 // moveToThread; the drain event stays
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
    :: t == 0 && alive[0] -> break // quit(): a drain event may still be queued
#endif
    // No more work: nothing to drain on a running thread; H unlisted, or listed on an ended one.
    :: notifierDone && !(posted[0] && alive[0]) && !(posted[1] && alive[1]) &&
        (!listed || (incoming[0] && !alive[0])) -> break
    od;
    atomic { // the thread finishes: its carrier goes, discarding its drain event
        alive[t] = 0;
        if
        :: posted[t] -> lost(t)
        :: else -> skip
        fi
    }
}

#ifdef MOVE
proctype Remover()
{
    if
    :: skip      // removes H, at any time
    :: goto done // never removes it: everything sent must then be delivered
    fi;
    atomic { cancelled = 1; clearAll() }
#ifndef WAIT_CONTEXT_THREAD
    (running == 0); // every thread's frames (the remover runs on none of them)
#else
    (runningOn[ctx] == 0);
#endif
    unloaded = 1;
done:
    skip
}
#endif

#ifdef THREAD_EXIT
// The context's deletion: its watch removes the handler, counting what waited. Posted drain
// events are not the context's: nothing else goes with it.
inline deleteContext()
{
    atomic { ctx = DEAD; clearAll() }
}

// delete thread: a carrier created after the thread finished goes now, with its drain event.
inline deleteThread()
{
    atomic {
        qthread0 = 0;
        if
        :: ctx == 0 -> ctx = NOTHREAD
        :: else -> skip
        fi;
        if
        :: posted[0] -> lost(0)
        :: else -> skip
        fi
    }
}

// thread->quit(); thread->wait(); then delete context and delete thread, in either order (or the
// QThread kept). A context moved to thread 1 lives on there.
proctype Owner()
{
    (!alive[0]);
    if
    :: ctx == 0 ->
        if
        :: deleteContext();
            if
            :: deleteThread()
            :: skip
            fi
        :: deleteThread(); deleteContext()
        fi
    :: else ->
        if
        :: deleteThread()
        :: skip
        fi
    fi
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
    assert(delivered + cleared == sent); // nothing left waiting forever, nothing dropped uncounted
    // No mailbox of an ended thread, but one whose drain event waits on the carrier of a QThread
    // that still exists (it goes with that carrier).
    assert(!box[0] || alive[0] || (qthread0 && posted[0]));
    assert(!box[1] || alive[1] || posted[1]);
}
#endif
