// SPDX-License-Identifier: MIT
import QtQml
import RegistryIO

QtObject {
    id: app
    property string log: ""

    property QmlRegistry orders: QmlRegistry { id: orders } // called by id: compiled, typed

    // Declarative, like Connections: higher priority runs first. `handler:` is called
    // directly (the fast form); `onNotified: (event) => ...` works too, through a signal.
    property RegistryHandler audit: RegistryHandler {
        registry: app.orders
        priority: 100
        handler: (event) => app.log += "audit " + event.id + "; "
    }

    Component.onCompleted: {
        // Imperative: add() returns a handle; remove() (or destroying it) removes the handler.
        var mail = orders.add((event) => app.log += "mail " + event.amount + "; ")
        orders.notify({ id: 42, amount: 9.99 }) // from QML, or from any C++ thread
        mail.remove()
        orders.notify({ id: 43, amount: 5 })
    }
}
