// SPDX-License-Identifier: MIT
// A window showing a LatestModel of a registry's events, one row per `symbol`, in a ListView.
import QtQuick
import RegistryIO

Window {
    id: window

    property alias prices: prices
    property alias model: quotes
    readonly property string firstShown: list.count > 0 && list.itemAtIndex(0) ? (list.itemAtIndex(0) as Text).text : ""

    width: 160
    height: 120
    visible: true

    QmlRegistry {
        id: prices
    }

    ListView {
        id: list

        anchors.fill: parent
        model: LatestModel {
            id: quotes

            registry: prices
            key: "symbol"
            roles: ["price"]
        }
        delegate: Text {
            required property string key
            required property var price

            text: key + " " + price
        }
    }
}
