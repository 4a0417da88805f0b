// SPDX-License-Identifier: MIT
// A window binding a registry's `latest` (one registry among the window's objects, one inside an
// item), and an animation that keeps frames coming when the test asks for it.
import QtQuick
import RegistryIO

Window {
    id: window

    property alias registry: prices
    property alias nested: nestedPrices
    property bool spinning: false

    width: 120
    height: 60
    visible: true

    QmlRegistry {
        id: prices
    }

    Item {
        QmlRegistry {
            id: nestedPrices
        }
    }

    Text {
        text: prices && prices.latest !== undefined ? String(prices.latest) : ""
    }

    Text {
        y: 20
        text: nestedPrices && nestedPrices.latest !== undefined ? String(nestedPrices.latest) : ""
    }

    Rectangle {
        width: 10
        height: 10
        x: 100

        RotationAnimation on rotation {
            from: 0
            to: 360
            duration: 1000
            loops: Animation.Infinite
            running: window.spinning
        }
    }
}
