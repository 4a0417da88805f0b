// SPDX-License-Identifier: MIT
// Bound: the Components below are created in this file's context and use its ids.
pragma ComponentBehavior: Bound
import QtQml
import RegistryIO

QtObject {
    id: root

    // A C++ object with a `registry` property (a QmlRegistry) and record(tag, event).
    required property var source
    property bool withCoalesced: false
    property HandlerSubscription jsHandle: null

    property RegistryHandler high: RegistryHandler {
        registry: root.source.registry
        priority: 10
        onNotified: event => root.source.record("high", event)
    }
    property RegistryHandler latest: RegistryHandler {
        registry: root.source.registry
        enabled: root.withCoalesced
        delivery: RegistryHandler.Latest
        priority: 5
        onNotified: event => root.source.record("latest", event)
    }
    property RegistryHandler low: RegistryHandler {
        registry: root.source.registry
        priority: 1
        onNotified: event => root.source.record("low", event)
    }
    property Component dynamicHandler: Component {
        RegistryHandler { // created with { registry: source.registry } and maybe a tag
            property string tag: "dynamic"
            onNotified: event => root.source.record(tag, event)
        }
    }

    // Bounded: created with { registry, capacity, overflow } while the engine thread is busy.
    property Component boundedHandler: Component {
        RegistryHandler {
            onNotified: event => root.source.record("bounded", event)
        }
    }

    Component.onCompleted: {
        if (withCoalesced)
            jsHandle = source.registry.add(event => root.source.record("js", event), 3, { delivery: "latest" });
    }

    function addTransient(tag: string): HandlerSubscription {
        return source.registry.add(event => root.source.record(tag, event), 7);
    }

    function addBounded(options: var): HandlerSubscription {
        return source.registry.add(event => root.source.record("handle", event), 0, options);
    }
}
