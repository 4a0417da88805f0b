// SPDX-License-Identifier: MIT
import QtQml
import RegistryIO

QtObject {
    id: app
    property int total: 0

    property QmlRegistry orders: QmlRegistry { objectName: "orders" }
    property RegistryHandler audit: RegistryHandler {
        registry: app.orders
        handler: (event) => app.total += event.amount
    }

    Component.onCompleted: orders.notify({ amount: 5 })
}
