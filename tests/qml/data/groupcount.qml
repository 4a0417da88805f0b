// SPDX-License-Identifier: MIT
import QtQml
import RegistryIO

// Two functions with the default delivery that only count: a million queued events stay cheap.
QtObject {
    id: root

    property QmlRegistry registry: QmlRegistry {}
    property int seen: 0
    property int last: 0
    property HandlerSubscription counting: null
    property RegistryHandler quiet: RegistryHandler {
        registry: root.registry
        handler: event => root.last = event
    }

    Component.onCompleted: counting = registry.add(() => root.seen++)
}
