// SPDX-License-Identifier: MIT
// The snippets of docs/QML.md are regions of this file (tst_doc_snippets checks that the
// two agree); main.cpp loads it, adds a C++ worker, and checks the log.
import QtQml
import RegistryIO

QtObject {
    id: tour
    property var log: []
    property int newest: 0
    function record(entry: string) { log.push(entry) }

    // [registry]
    property QmlRegistry registry: QmlRegistry {
        id: registry // methods called through an id compile to typed C++ calls (Qt 6.8)
        onHandlerFailed: (id, message) => tour.record("failed: " + message)
        onCountChanged: console.log("handlers:", count)
    }
    // [registry]

    // [handler]
    property RegistryHandler declarative: RegistryHandler {
        registry: tour.registry
        priority: 10    // higher runs first; changing it re-registers
        enabled: true   // false unregisters; true registers again
        once: false     // true: the first event only
        coalesce: false // true: events from other threads coalesce, the newest wins
        onNotified: (event) => tour.record("declarative " + event.n)
    }
    // [handler]

    // [function]
    property RegistryHandler direct: RegistryHandler {
        registry: tour.registry
        priority: 20
        handler: (event) => tour.record("function " + event.n) // called directly: no signal hop
    }
    // [function]

    // [bounded]
    property RegistryHandler bounded: RegistryHandler {
        registry: tour.registry
        capacity: 100                        // at most 100 events wait for it; 0: unbounded
        overflow: RegistryHandler.DropOldest // when full, the oldest goes: the newest stay
        onNotified: (event) => tour.newest = event.n
        onDroppedChanged: console.warn("bounded: dropped", dropped, "events so far")
    }
    // [bounded]

    // [latest]
    // The newest event from any thread, bound: it changes at most once per frame of its window.
    property string shown: registry.latest ? "latest " + registry.latest.n : "none yet"
    // [latest]

    // A typed parameter: after handle.remove(), Qt 6.8's compiler no longer types `handle`.
    function describe(handle: HandlerSubscription): string {
        return "active " + handle.active + ", priority " + handle.priority
    }

    function run() {
        // [add]
        const handle = registry.add((event) => tour.record("js " + event.n), 5)
        registry.add(() => tour.record("once"), 0, { once: true })
        registry.notify({ n: 1 }) // function 1, declarative 1, js 1, once
        registry.notify({ n: 2 }) // function 2, declarative 2, js 2
        // [add]

        // [handle]
        const id = handle.id     // positive, never reused within the registry
        handle.remove()          // true; handle.active is now false
        registry.remove(id)      // false: already gone
        // [handle]
        record(describe(handle))

        // [failure]
        const bad = registry.add(() => { throw new Error("bad handler") })
        registry.notify({ n: 3 }) // a QML warning with file and line; handlerFailed from the event loop
        bad.remove()
        // [failure]

        // [refused]
        const none = registry.add("not a function") // QML warning; returns null, adds nothing
        // [refused]
        record("refused " + (none === null) + ", count " + registry.count)
    }
}
