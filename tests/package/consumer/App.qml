// SPDX-License-Identifier: MIT
import QtQml
import RegistryIO
import RioConsumerApp

QtObject {
    id: app
    property int total: 0
    property int ticks: 0

    property QmlRegistry registry: QmlRegistry { id: registry }
    property RegistryHandler handler: RegistryHandler {
        registry: app.registry
        onNotified: (event) => app.total += event
    }
    property TickRegistry tickRegistry: TickRegistry { id: tickRegistry }
    property TickRegistryHandler tickHandler: TickRegistryHandler {
        registry: app.tickRegistry
        onNotified: (event) => app.count(event)
    }

    function count(event: tick) {
        ticks += event.seq;
    }

    Component.onCompleted: {
        registry.notify(5);
        registry.notify(7);
        tickRegistry.notify({ seq: 3 });
    }
}
