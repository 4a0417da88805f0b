// SPDX-License-Identifier: MIT
// Model of the newest-value cell (src/qt/include/registryio/qt/detail/newest_cell.h), which
// Delivery::Latest, LatestValue and each key of a LatestModel use. NW writers each write NV
// values; a writer takes the count from the even value it read (a compare-and-swap to odd), or
// leaves the cell to the writer that holds it; it stores the event's two words, releases the
// count, then owe()s: it sets `owed` with an exchange and, when it found it clear, wakes the
// reader (posts its delivery, links its key). The reader runs once per wake-up: it takes the cell
// (clears `owed`), then reads the count, both words and the count again, and gives up at once when
// the count was odd or moved (it never waits for a writer).
//
// Checked: no read is torn; once every writer is done and the reader has run every wake-up, it
// has delivered the last value written (no wake-up is lost although a reader gives up). Mutants
// (-D): TAKE_AFTER_READ (the reader clears `owed` after its read), OWE_BEFORE_RELEASE (a writer
// owes before it releases the count), NO_SECOND_LOOK (the reader does not look at the count
// again).

#ifndef NW
#define NW 2
#endif
#ifndef NV
#define NV 2
#endif

byte seq;     // the count: odd while a writer stores
byte w0, w1;  // the event's two words
bool owed;
byte wakes;   // wake-ups posted, not yet run
byte written; // the value of the last write done (a ghost)
byte shown;   // the value the reader delivered last
byte done;    // writers done

proctype Writer(byte id)
{
    byte i = 0, s, v;
    bool old;
    do
    :: i < NV ->
        v = id * NV + i + 1;
        s = seq;
        if
        :: atomic { s % 2 == 0 && seq == s -> seq = s + 1 }
            w0 = v;
            w1 = v;
#ifdef OWE_BEFORE_RELEASE
            atomic { old = owed; owed = 1 };
            atomic { seq = s + 2; written = v };
#else
            atomic { seq = s + 2; written = v };
            atomic { old = owed; owed = 1 };
#endif
            if
            :: !old -> wakes++
            :: else -> skip
            fi
        :: atomic { !(s % 2 == 0 && seq == s) -> skip } // another writer's is the newer: left to it
        fi;
        i++
    :: i >= NV -> break
    od;
    done++
}

proctype Reader()
{
    byte s1, s2, a, b;
    do
    :: atomic { wakes > 0 -> wakes-- };
#ifndef TAKE_AFTER_READ
        owed = 0;
#endif
        s1 = seq;
        a = w0;
        b = w1;
#ifndef NO_SECOND_LOOK
        s2 = seq;
#else
        s2 = s1;
#endif
#ifdef TAKE_AFTER_READ
        owed = 0;
#endif
        if
        :: s1 % 2 == 0 && s1 == s2 && s1 != 0 ->
            assert(a == b); // never torn
            shown = a
        :: else -> skip // gives up: the writer met wakes the reader again
        fi
    :: atomic { done == NW && wakes == 0 -> break }
    od;
    assert(shown == written) // the last value written is delivered
}

init
{
    atomic {
        byte id = 0;
        do
        :: id < NW -> run Writer(id); id++
        :: id >= NW -> break
        od;
        run Reader()
    }
}
