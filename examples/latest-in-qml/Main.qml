// SPDX-License-Identifier: MIT
import QtQuick
import RegistryIO

// The three ways a newest value reaches QML, each fed by worker threads (main.cpp). Each changes
// at most once per frame of this window, and its last value is the one shown.
Window {
    id: window
    width: 320
    height: 200
    visible: true

    // [latest]
    // A registry's newest event: its `latest` (its own Delivery::Latest handler).
    property QmlRegistry ticks: QmlRegistry {}
    Text { text: "tick " + (window.ticks.latest ?? "none") }
    // [latest]

    // [value]
    // A rio::LatestValue<T> of C++, set from any thread, bound as `value` (null once destroyed).
    required property LatestValue progress
    Text { y: 20; text: "progress " + (window.progress ? window.progress.value ?? "none" : "gone") }
    // [value]

    // [model]
    // A LatestModel declared here, fed from C++ through writer<Level>(): one row per key. With
    // `roles` empty, the roles are the writer's event type's properties (`sensor`, `level`).
    property LatestModel levels: LatestModel {}
    ListView {
        y: 40
        width: 320
        height: 160
        model: window.levels
        delegate: Text {
            required property int sensor
            required property double level
            text: "sensor " + sensor + ": " + level
        }
    }
    // [model]
}
