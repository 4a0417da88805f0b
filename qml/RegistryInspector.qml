// SPDX-License-Identifier: MIT
// A debug overlay listing every handler of every live registry (rio::Diagnostics): where each
// was added, its thread, calls, failures, drops and run times, refreshed live. Click a column
// title to sort by it (again: reverse). A handler that failed, dropped deliveries or ran slow is
// shown in `alertColor`. Only Qt Quick: drop it into any window.
import QtQuick
import RegistryIO

Rectangle {
    id: inspector

    /// The model underneath (refreshInterval, sortColumn, registryFilter...).
    readonly property DiagnosticsModel model: diagnostics
    /// Milliseconds between two snapshots.
    property int refreshInterval: 500
    /// Only registries whose name contains this.
    property string registryFilter: ""
    /// The title above the table (empty: none).
    property string title: "Registries: handlers"
    property color textColor: "#e6e6e6"
    property color dimColor: "#9aa3b0"
    property color alertColor: "#e06c75"
    property color headerColor: "#2c323c"
    property int fontSize: 12

    // Column widths, as fractions of the width.
    readonly property var columns: [
        { title: "Registry", column: DiagnosticsModel.RegistryColumn, width: 0.15 },
        { title: "Where added", column: DiagnosticsModel.WhereColumn, width: 0.25 },
        { title: "Thread", column: DiagnosticsModel.ThreadColumn, width: 0.12 },
        { title: "Calls", column: DiagnosticsModel.CallsColumn, width: 0.1 },
        { title: "Failed", column: DiagnosticsModel.FailuresColumn, width: 0.08 },
        { title: "Drops", column: DiagnosticsModel.DropsColumn, width: 0.08 },
        { title: "p99", column: DiagnosticsModel.P99Column, width: 0.11 },
        { title: "Max", column: DiagnosticsModel.MaxColumn, width: 0.11 }
    ]

    implicitWidth: 720
    implicitHeight: 260
    color: "#20242b"
    radius: 4
    clip: true

    DiagnosticsModel {
        id: diagnostics
        refreshInterval: inspector.refreshInterval
        registryFilter: inspector.registryFilter
    }

    Text {
        id: heading
        x: 8
        y: 6
        width: inspector.width - 16
        visible: inspector.title.length > 0
        height: visible ? implicitHeight : 0
        text: inspector.title + " · " + diagnostics.count
        color: inspector.textColor
        font.pixelSize: inspector.fontSize + 1
        font.bold: true
        elide: Text.ElideRight
    }

    Row {
        id: header
        x: 8
        y: heading.y + heading.height + 4
        width: inspector.width - 16
        height: inspector.fontSize + 10

        Repeater {
            model: inspector.columns
            delegate: Rectangle {
                id: headerCell
                required property var modelData
                width: header.width * modelData.width
                height: header.height
                color: inspector.headerColor

                Text {
                    anchors.fill: parent
                    anchors.leftMargin: 4
                    verticalAlignment: Text.AlignVCenter
                    text: headerCell.modelData.title
                          + (diagnostics.sortColumn === headerCell.modelData.column
                             ? (diagnostics.sortOrder === Qt.DescendingOrder ? " ▼" : " ▲") : "")
                    color: inspector.textColor
                    font.pixelSize: inspector.fontSize
                    font.bold: true
                    elide: Text.ElideRight
                }
                MouseArea {
                    anchors.fill: parent
                    onClicked: {
                        if (diagnostics.sortColumn === headerCell.modelData.column)
                            diagnostics.sortOrder = diagnostics.sortOrder === Qt.DescendingOrder
                                    ? Qt.AscendingOrder : Qt.DescendingOrder;
                        else
                            diagnostics.sortColumn = headerCell.modelData.column;
                    }
                }
            }
        }
    }

    ListView {
        id: rows
        x: 8
        y: header.y + header.height + 2
        width: inspector.width - 16
        height: inspector.height - y - 6
        clip: true
        model: diagnostics
        delegate: Item {
            id: row
            required property string registryName
            required property string where
            required property string whereFull
            required property string thread
            required property var calls
            required property var failures
            required property var drops
            required property var slowRuns
            required property bool timed
            required property var p99Ns
            required property var maxNs
            readonly property bool alert: row.failures > 0 || row.drops > 0 || row.slowRuns > 0
            readonly property var cells: [row.registryName, row.where, row.thread, String(row.calls),
                String(row.failures), String(row.drops),
                row.timed ? diagnostics.formatDuration(row.p99Ns) : "–",
                row.timed ? diagnostics.formatDuration(row.maxNs) : "–"]

            width: rows.width
            height: inspector.fontSize + 8

            Rectangle {
                anchors.fill: parent
                color: row.alert ? Qt.rgba(0.88, 0.42, 0.46, 0.18) : "transparent"
            }
            Row {
                anchors.fill: parent
                Repeater {
                    model: row.cells.length
                    delegate: Text {
                        required property int index
                        width: rows.width * inspector.columns[index].width
                        height: row.height
                        leftPadding: 4
                        verticalAlignment: Text.AlignVCenter
                        text: row.cells[index]
                        color: row.alert && index !== 1 ? inspector.alertColor
                               : (index === 1 ? inspector.dimColor : inspector.textColor)
                        font.pixelSize: inspector.fontSize
                        font.family: index === 1 ? "monospace" : ""
                        elide: index === 1 ? Text.ElideLeft : Text.ElideRight
                    }
                }
            }
        }
    }
}
