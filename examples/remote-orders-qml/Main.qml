// SPDX-License-Identifier: MIT
// The window: a RemoteRegistry subscribed to the producer's "orders", its connection state, the
// orders as they arrive, and a button that sends one back.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
// [imports]
import RegistryIO
import RegistryIO.Remote
// [imports]

ApplicationWindow {
    id: window
    width: 360
    height: 480
    visible: true
    title: "Orders"

    required property url producerUrl
    property int shown: ordersModel.count

    // [remote-registry]
    RemoteRegistry {
        id: orders
        url: window.producerUrl
        name: "orders"
    }

    ListModel { id: ordersModel }

    RegistryHandler {
        registry: orders
        handler: function(order) {
            if (order.id > 0)
                ordersModel.insert(0, { line: "#" + order.id + ": " + order.item + " x" + order.quantity })
        }
    }
    // [remote-registry]

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 8
        Label {
            objectName: "status"
            text: orders.state === RemoteRegistry.Connected ? "connected"
                : orders.state === RemoteRegistry.Reconnecting ? "reconnecting…" : "disconnected"
            color: orders.connected ? "darkgreen" : "darkred"
        }
        ListView {
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            model: ordersModel
            delegate: Label { required property string line; text: line }
        }
        Button {
            objectName: "refund"
            text: "Send a refund back"
            enabled: orders.connected
            onClicked: orders.notify({ id: -1, item: "refund", quantity: 1 })
        }
    }

    // The button's action, for the headless check (main.cpp --check).
    function sendRefund() { orders.notify({ id: -1, item: "refund", quantity: 1 }) }
}
