// SPDX-License-Identifier: MIT
// Bound: the Components below are created in this file's context and use its ids.
pragma ComponentBehavior: Bound
import QtQml
import RegistryIO

// Functions only (add(fn) and RegistryHandler handler:), all with the default queued delivery:
// notifies from other threads reach each through its own queued delivery.
QtObject {
    id: root

    // A C++ object with a `registry` property (a QmlRegistry) and record(tag, event).
    required property var source
    property var handles: ({})

    property RegistryHandler high: RegistryHandler {
        registry: root.source.registry
        priority: 10
        handler: event => root.source.record("high", event)
    }

    Component.onCompleted: {
        handles.mid = source.registry.add(event => root.source.record("mid", event), 5);
        handles.low = source.registry.add(event => {
            root.source.record("low", event);
            if (event === 13)
                throw new Error("low refuses " + event); // THROW_LOW
        }, 1);
    }

    property Component dynamicHandler: Component {
        RegistryHandler { // created with { registry: source.registry, tag }
            id: dynamic
            property string tag: "dynamic"
            handler: event => root.source.record(dynamic.tag, event)
        }
    }

    function addTransient(tag: string): HandlerSubscription {
        return source.registry.add(event => root.source.record(tag, event), 7);
    }

    function addLate(): HandlerSubscription {
        return source.registry.add(event => root.source.record("late", event), 7);
    }
}
