// SPDX-License-Identifier: MIT
// A debug overlay listing every handler of every live registry (rio::Diagnostics): where each
// was added, its thread, calls, failures, drops and run times, refreshed live. Click a column
// title to sort by it (again: reverse). A handler that failed, dropped deliveries or ran slow is
// shown in red. Only Qt Quick: drop it into any window.
import QtQuick
import RegistryIO

Rectangle {
    id: inspector

    /// The model underneath (refreshInterval, sortColumn, descending, registryFilter, count).
    readonly property DiagnosticsModel model: diagnostics
    /// Milliseconds between two snapshots.
    property int refreshInterval: 500
    /// Only registries whose name contains this.
    property string registryFilter: ""
    /// The process-wide diagnostics switch (rio::Diagnostics): counts, run times, the watchdog.
    property alias diagnosticsEnabled: diagnostics.diagnosticsEnabled
    /// The title above the table (empty: none).
    property string title: "Handlers of every registry"

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

    // A column title; clicking it sorts by its column (again: the other way).
    component HeaderCell: Rectangle {
        id: cell
        required property DiagnosticsModel model
        required property string title
        required property int column
        required property real share
        readonly property bool sorted: cell.model.sortColumn === cell.column

        width: (parent ? parent.width : 0) * cell.share
        height: parent ? parent.height : 0
        color: "#2c323c"

        Text {
            textFormat: Text.PlainText
            anchors.fill: parent
            anchors.leftMargin: 4
            verticalAlignment: Text.AlignVCenter
            text: cell.title + (cell.sorted ? (cell.model.descending ? " ▼" : " ▲") : "")
            color: "#e6e6e6"
            font.pixelSize: 12
            font.bold: true
            elide: Text.ElideRight
        }
        MouseArea {
            anchors.fill: parent
            onClicked: {
                if (cell.sorted)
                    cell.model.descending = !cell.model.descending;
                else
                    cell.model.sortColumn = cell.column;
            }
        }
    }

    // One value of a row, laid out at once when a refresh changes it: unshaped (a script that needs
    // shaping gets it anyway); calls, p99 and max are not elided (an elided text is laid out twice).
    component Cell: Text {
        required property real share
        width: (parent ? parent.width : 0) * share
        height: parent ? parent.height : 0
        leftPadding: 4
        verticalAlignment: Text.AlignVCenter
        font.pixelSize: 12
        font.preferShaping: false
        textFormat: Text.PlainText
        elide: Text.ElideRight
    }

    // The GUI thread's cost of a refresh runs to the end of the frame that shows it (the list's
    // layout, the delegates' updates, the frame), as a profiler counts it.
    Connections {
        target: inspector.Window.window
        ignoreUnknownSignals: true
        function onFrameSwapped() { diagnostics.frameEnded() }
    }

    Text {
        id: heading
        textFormat: Text.PlainText
        x: 8
        y: 6
        width: inspector.width - 16
        visible: inspector.title.length > 0
        height: visible ? implicitHeight : 0
        // The inspector's own cost: its thread's share of a refresh, and the snapshot's on a worker.
        text: inspector.title + " · " + diagnostics.count + " · refresh: "
              + diagnostics.formatDuration(diagnostics.applyNs) + " here, snapshot "
              + diagnostics.formatDuration(diagnostics.snapshotNs) + " on a worker"
        color: "#e6e6e6"
        font.pixelSize: 13
        font.bold: true
        font.preferShaping: false // laid out again on each refresh, as a changed cell is
        elide: Text.ElideRight
    }

    Row {
        id: header
        x: 8
        y: heading.y + heading.height + 4
        width: inspector.width - 16
        height: 22

        HeaderCell { model: diagnostics; title: "Registry"; column: DiagnosticsModel.RegistryColumn; share: 0.15 }
        HeaderCell { model: diagnostics; title: "Where added"; column: DiagnosticsModel.WhereColumn; share: 0.25 }
        HeaderCell { model: diagnostics; title: "Thread"; column: DiagnosticsModel.ThreadColumn; share: 0.12 }
        HeaderCell { model: diagnostics; title: "Calls"; column: DiagnosticsModel.CallsColumn; share: 0.1 }
        HeaderCell { model: diagnostics; title: "Failed"; column: DiagnosticsModel.FailuresColumn; share: 0.08 }
        HeaderCell { model: diagnostics; title: "Drops"; column: DiagnosticsModel.DropsColumn; share: 0.08 }
        HeaderCell { model: diagnostics; title: "p99"; column: DiagnosticsModel.P99Column; share: 0.11 }
        HeaderCell { model: diagnostics; title: "Max"; column: DiagnosticsModel.MaxColumn; share: 0.11 }
    }

    // Only the rows in sight have delegates, reused as the list scrolls and as rows move.
    ListView {
        id: rows
        x: 8
        y: header.y + header.height + 2
        width: inspector.width - 16
        height: inspector.height - y - 6
        clip: true
        reuseItems: true
        cacheBuffer: 0 // no delegates beyond the rows in sight: a refresh updates those only
        boundsBehavior: Flickable.StopAtBounds
        model: diagnostics

        delegate: Rectangle {
            id: line
            required property string registryName
            required property real registryId
            required property string where
            required property string thread
            // Typed, not var: a value a refresh re-reads unchanged (after a new order) changes
            // nothing further down (a var property would notify every binding on it).
            required property real calls
            required property real failures
            required property real drops
            required property real slowRuns
            // Run times as numbers, formatted when they change: a string is allocated on the
            // JavaScript heap each time a refresh reads it again, changed or not.
            required property bool timed
            required property real p99Ns
            required property real maxNs
            readonly property bool alert: line.failures > 0 || line.drops > 0 || line.slowRuns > 0
            readonly property color ink: line.alert ? "#e06c75" : "#e6e6e6"

            width: ListView.view ? ListView.view.width : 0
            height: 20
            color: line.alert ? Qt.rgba(0.88, 0.42, 0.46, 0.18) : "transparent"

            Row {
                anchors.fill: parent
                Cell { share: 0.15; text: line.registryName || "#" + line.registryId; color: line.ink }
                Cell { share: 0.25; text: line.where; color: "#9aa3b0"; font.family: "monospace"; elide: Text.ElideLeft }
                Cell { share: 0.12; text: line.thread; color: line.ink }
                Cell { share: 0.1; text: line.calls; elide: Text.ElideNone; color: line.ink }
                Cell { share: 0.08; text: line.failures; color: line.ink }
                Cell { share: 0.08; text: line.drops; color: line.ink }
                Cell { share: 0.11; text: line.timed ? line.ListView.view.model.formatDuration(line.p99Ns) : "–"; elide: Text.ElideNone; color: line.ink }
                Cell { share: 0.11; text: line.timed ? line.ListView.view.model.formatDuration(line.maxNs) : "–"; elide: Text.ElideNone; color: line.ink }
            }
        }
    }
}
