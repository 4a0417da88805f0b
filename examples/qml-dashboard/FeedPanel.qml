// SPDX-License-Identifier: MIT
// One side of the comparison: what a receiver got from the flood, and how late.
import QtQuick
import QtQuick.Controls.Fusion
import QtQuick.Layouts
import "format.js" as Format

Frame {
    id: panel

    required property string title
    required property string route       // how the events reach the receiver
    required property color accent
    property var side: ({ queued: 0, latencyMs: 0, memoryBytes: 0, behind: 0, perSecond: 0, capped: false, skipped: 0 })
    property var latencies: []           // ms, oldest first
    property real cap: 0                 // the queue cap the demo enforces (0: none)
    readonly property int valueSize: width < 500 ? 18 : 22

    ColumnLayout {
        anchors.fill: parent
        spacing: 6

        Label {
            text: panel.title
            color: panel.accent
            font.pixelSize: 18
            font.bold: true
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
        Label {
            text: panel.route
            opacity: 0.75
            font.family: "monospace"
            font.pixelSize: 11
            wrapMode: Text.WrapAtWordBoundaryOrAnywhere
            maximumLineCount: 2
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
        GridLayout {
            columns: panel.width > 340 ? 4 : 2
            columnSpacing: 12
            rowSpacing: 4
            Layout.fillWidth: true

            Metric {
                caption: "Queued"
                size: panel.valueSize
                value: Format.count(panel.side.queued)
                color: panel.side.queued > 1 ? "#e5c07b" : "#e6e6e6"
            }
            Metric {
                caption: "Latency"
                size: panel.valueSize
                value: Format.duration(panel.side.latencyMs)
                color: panel.side.latencyMs > 100 ? "#e06c75" : "#e6e6e6"
            }
            Metric {
                caption: "Memory"
                size: panel.valueSize
                value: Format.bytes(panel.side.memoryBytes)
            }
            Metric {
                caption: "Updates/s"
                size: panel.valueSize
                value: Format.count(panel.side.perSecond)
            }
        }
        Label {
            text: "Latency, last 30 s (log scale)"
            opacity: 0.7
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
        Sparkline {
            series: [{ values: panel.latencies, color: panel.accent }]
            logScale: true
            gridLabels: [{ value: 0.1, text: "100 µs" }, { value: 10, text: "10 ms" }, { value: 1000, text: "1 s" }]
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.minimumHeight: 30
        }
        Label {
            text: panel.side.capped
                  ? "Qt queue capped at " + Format.count(panel.cap) + " to protect this machine: "
                    + Format.count(panel.side.skipped) + " events skipped"
                  : panel.side.behind > 1000
                    ? "Falling behind: the newest update shown is " + Format.count(panel.side.behind) + " events old"
                    : "Current: the newest update shown is " + Format.count(panel.side.behind) + " events old"
            color: panel.side.capped || panel.side.behind > 1000 ? "#e06c75" : "#98c379"
            wrapMode: Text.Wrap
            maximumLineCount: 2
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
    }
}
