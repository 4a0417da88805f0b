// SPDX-License-Identifier: MIT
import QtQml
import RegistryIO
import RegistryIO.Remote

QtObject {
    id: ui
    property url source: "local:rio-quickstart" // where the daemon listens
    property int received: 0

    property RemoteRegistry orders: RemoteRegistry {
        id: orders
        url: ui.source
        name: "orders" // the daemon's shared registry
    }

    property RegistryHandler show: RegistryHandler {
        registry: ui.orders
        handler: (order) => {
            if (order.id === undefined)
                return // our own "thanks" below runs here too
            console.log("ui: order", order.id, order.item)
            if (++ui.received === 3) {
                orders.notify({ thanks: true }) // reaches the daemon's handlers
                Qt.callLater(Qt.quit)
            }
        }
    }
}
