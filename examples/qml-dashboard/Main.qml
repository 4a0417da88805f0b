// SPDX-License-Identifier: MIT
// The dashboard. main.cpp floods two identical receivers with the same events, one through a Qt
// queued signal and one through a coalesced registry handler, and notifies `stats` ten times a
// second with what each got. The same events update a table of 5,000 keys twice on this window's
// thread: `board` (a LatestModel, once per frame) and `qtTable` (a list model updated by a Qt
// queued signal per update, while the switch is on); `newest.latest` is the steady worker's
// newest event. Four handlers below share the snapshots, in priority order; one of them throws
// now and then, and the others never notice.
import QtQuick
import QtQuick.Controls.Fusion
import QtQuick.Layouts
import RegistryIO
import "format.js" as Format

ApplicationWindow {
    id: root

    required property QmlRegistry stats
    required property var qtTable        // the keyed table the Qt way (main.cpp's TickerTable)
    // The same table, fed from the workers' threads (main.cpp follows the flood's registry) and
    // changed once per frame of this window: it is declared in it.
    property LatestModel board: LatestModel {
        roles: ["seq"]
    }
    // The steady worker's newest event (main.cpp notifies it from the worker's thread), bound
    // below: it changes once per frame of this window at most.
    property QmlRegistry newest: QmlRegistry {
        name: "newest" // as the inspector lists it
    }
    property int floodRate: 10000        // events per second per worker; main.cpp reads it
    property bool floodUi: false         // Qt signals to this window's thread too; main.cpp reads it
    property int maxRate: 200000
    property real qtCap: 50000
    property int updateCostUs: 20

    // 30 s of history (bounded: 300 points), the last snapshot, the status bar's figures.
    property var history: ({ w1: [], w2: [], fps: [], rss: [], qt: [], registry: [] })
    property var last: ({ published: [0, 0], fps: 0, rssBytes: 0, qt: {}, registry: {}, ui: {}, qtTable: {}, latestTable: {} })
    property real uptimeMs: 0

    // What the handlers did; main.cpp checks these.
    property var running: []             // the handlers that ran for the current snapshot
    property var trace: []               // ... for the previous one, shown
    property bool orderOk: true
    property int snapshotsShown: 0
    property int panelUpdates: 0
    property int exportFailures: 0
    property int failuresListed: failures.count

    width: 1280
    height: 960
    minimumWidth: 800
    minimumHeight: 600
    visible: true
    title: "RegistryIO: the same flood through a Qt signal and a registry"
    font.pixelSize: 13
    palette.window: "#1e2229"
    palette.windowText: "#e6e6e6"
    palette.base: "#262b33"
    palette.alternateBase: "#2c323c"
    palette.text: "#e6e6e6"
    palette.button: "#2f353f"
    palette.buttonText: "#e6e6e6"
    palette.highlight: "#4fa3e0"
    palette.highlightedText: "#ffffff"
    palette.mid: "#3a414d"
    palette.dark: "#15181d"
    palette.light: "#3d4450"
    palette.shadow: "#000000"

    function keep(values, value) {
        return values.concat([value]).slice(-300);
    }

    // Priority 10: the charts, first.
    RegistryHandler {
        registry: root.stats
        priority: 10
        onNotified: s => {
            root.running = ["charts"];
            root.history = {
                w1: root.keep(root.history.w1, s.published[0]),
                w2: root.keep(root.history.w2, s.published[1]),
                fps: root.keep(root.history.fps, s.fps),
                rss: root.keep(root.history.rss, s.rssBytes / 1e6),
                qt: root.keep(root.history.qt, s.qt.latencyMs),
                registry: root.keep(root.history.registry, s.registry.latencyMs)
            };
        }
    }
    // Priority 7: an exporter that throws when its sink is down.
    RegistryHandler {
        registry: root.stats
        priority: 7
        onNotified: s => {
            root.running.push(s.exportError ? "exporter threw" : "exporter");
            if (s.exportError)
                throw new Error(s.exportError);
        }
    }
    // Priority 5, after the exporter: the panels and chart figures, whatever the exporter does.
    RegistryHandler {
        registry: root.stats
        priority: 5
        onNotified: s => {
            root.running.push("panels");
            root.last = s;
            root.panelUpdates += 1;
        }
    }
    // Priority 1: the status bar, last; it checks the order the others ran in.
    RegistryHandler {
        registry: root.stats
        priority: 1
        onNotified: s => {
            root.running.push("status bar");
            root.uptimeMs = s.seconds * 1000;
            root.orderOk = root.orderOk && /^charts,exporter( threw)?,panels,status bar$/.test(root.running.join());
            root.trace = root.running;
            root.snapshotsShown += 1;
        }
    }
    Connections {
        target: root.stats
        function onHandlerFailed(id, message) {
            root.exportFailures += 1;
            failures.insert(0, { when: Format.duration(root.uptimeMs), message: message });
            if (failures.count > 3)
                failures.remove(3, failures.count - 3);
        }
    }
    ListModel {
        id: failures
    }

    header: ToolBar {
        RowLayout {
            anchors.fill: parent
            anchors.leftMargin: 12
            anchors.rightMargin: 12
            spacing: 10

            Rectangle { // animates every frame: the frame rate below is the UI's real one
                implicitWidth: 10 // the layout sizes it: implicit size, not width and height
                implicitHeight: 10
                radius: 5
                color: "#98c379"
                SequentialAnimation on opacity {
                    loops: Animation.Infinite
                    NumberAnimation { to: 0.2; duration: 600 }
                    NumberAnimation { to: 1; duration: 600 }
                }
            }
            Label {
                text: root.width < 1000 ? "<b>RegistryIO</b>" : "<b>RegistryIO</b> · one worker flood, two deliveries"
                font.pixelSize: 15
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
            Label {
                text: "Flood"
            }
            Slider {
                id: rate
                from: 0
                to: root.maxRate
                stepSize: 1000
                value: root.floodRate
                onMoved: root.floodRate = value
                Layout.preferredWidth: root.width < 1000 ? 120 : 220
            }
            Label {
                text: Format.count(root.floodRate) + "/s per worker"
                Layout.preferredWidth: 130
                elide: Text.ElideRight
            }
            Switch {
                text: "Qt signals to the UI thread"
                checked: root.floodUi
                onToggled: root.floodUi = checked
            }
        }
    }

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 10
        spacing: 10

        RowLayout {
            spacing: 10
            Layout.fillWidth: true
            Layout.preferredHeight: root.height < 700 ? 96 : 120

            ChartCard {
                title: "Published per worker (events/s)"
                series: [{ values: root.history.w1, color: "#61afef", label: "steady " + Format.count(root.last.published[0]) },
                         { values: root.history.w2, color: "#c678dd", label: "bursty " + Format.count(root.last.published[1]) }]
                tickFormat: v => Format.count(v) + "/s"
                Layout.fillWidth: true
                Layout.fillHeight: true
                Layout.preferredWidth: 1
            }
            ChartCard {
                title: "UI frames per second"
                series: [{ values: root.history.fps, color: root.floodUi ? "#e06c75" : "#98c379",
                           label: Format.count(root.last.fps) + " fps" + (root.floodUi
                                  ? " · " + Format.count(root.last.ui.queued) + " queued, "
                                    + Format.duration(root.last.ui.latencyMs) + " late"
                                  : "") }]
                tickFormat: v => Format.count(v) + " fps"
                Layout.fillWidth: true
                Layout.fillHeight: true
                Layout.preferredWidth: 1
            }
            ChartCard {
                title: "Process memory (resident)"
                series: [{ values: root.history.rss, color: "#e5c07b", label: Format.bytes(root.last.rssBytes) }]
                tickFormat: v => Format.bytes(v * 1e6) // the history is in MB
                Layout.fillWidth: true
                Layout.fillHeight: true
                Layout.preferredWidth: 1
            }
        }

        RowLayout {
            spacing: 10
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredHeight: 250

            FeedPanel {
                title: "Qt queued signal"
                route: "connect(flood, &Flood::sampled, receiver, &Receiver::take, Qt::QueuedConnection)"
                accent: "#e5a050"
                side: root.last.qt
                latencies: root.history.qt
                cap: root.qtCap
                Layout.fillWidth: true
                Layout.fillHeight: true
                Layout.preferredWidth: 1
            }
            FeedPanel {
                title: "RegistryIO, Delivery::Latest"
                route: "registry.add(receiver, &Receiver::take, {.connection = Qt::QueuedConnection, .delivery = rio::Delivery::Latest})"
                accent: "#98c379"
                side: root.last.registry
                latencies: root.history.registry
                Layout.fillWidth: true
                Layout.fillHeight: true
                Layout.preferredWidth: 1
            }
        }

        // The same flood as a table of the newest update of 5,000 keys, on this window's thread.
        RowLayout {
            spacing: 10
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.preferredHeight: 170

            TablePanel {
                title: "Qt queued signal per update → list model"
                code: "connect(flood, &Flood::sampledOnUi, receiver, &Receiver::take, Qt::QueuedConnection) // table.take(sample)"
                accent: "#e5a050"
                model: root.qtTable
                shown: root.last.qtTable
                note: root.floodUi ? Format.count(root.last.ui.queued) + " queued, " + Format.duration(root.last.ui.latencyMs) + " late"
                                   : "Not fed: switch on “Qt signals to the UI thread”"
                Layout.fillWidth: true
                Layout.fillHeight: true
                Layout.preferredWidth: 1
            }
            TablePanel {
                title: "RegistryIO, LatestModel: once per frame"
                code: "board->follow(flood.registry, tickerOf)"
                accent: "#98c379"
                model: root.board
                shown: root.last.latestTable
                note: "Steady worker, bound (text: newest.latest): #" + (root.newest.latest ?? 0)
                Layout.fillWidth: true
                Layout.fillHeight: true
                Layout.preferredWidth: 1
            }
        }

        // Every handler of the demo's registries, live (rio::Diagnostics): where each was added, its
        // thread, calls, failures, drops and run times. Hidden in a window less than 900 high.
        // [inspector]
        RegistryInspector {
            title: "Inspector: every handler of every registry, longest run first"
            refreshInterval: 500
            visible: root.height >= 900
            Layout.fillWidth: true
            Layout.preferredHeight: visible ? 150 : 0
        }
        // [inspector]

        // The snapshots' handlers: hidden in a window less than 700 high.
        RowLayout {
            spacing: 10
            visible: root.height >= 700
            Layout.fillWidth: true
            Layout.preferredHeight: visible ? 120 : 0
            Layout.maximumHeight: 120

            Frame {
                Layout.fillWidth: true
                Layout.fillHeight: true
                Layout.preferredWidth: 1

                ColumnLayout {
                    anchors.fill: parent
                    spacing: 6

                    Label {
                        text: "Priority order, every snapshot"
                        font.bold: true
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                    Label {
                        text: "Four RegistryHandlers on one QmlRegistry"
                        opacity: 0.75
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                    Flow {
                        spacing: 6
                        Layout.fillWidth: true
                        Layout.fillHeight: true
                        clip: true

                        Repeater {
                            model: root.trace
                            delegate: Label {
                                required property string modelData
                                required property int index
                                text: (index > 0 ? "→ " : "") + modelData
                                color: modelData.endsWith("threw") ? "#e06c75" : "#98c379"
                                font.bold: true
                            }
                        }
                    }
                    Label {
                        text: (root.orderOk ? "In order for all " : "OUT OF ORDER among ")
                              + Format.count(root.snapshotsShown) + " snapshots"
                        opacity: 0.75
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                }
            }
            Frame {
                Layout.fillWidth: true
                Layout.fillHeight: true
                Layout.preferredWidth: 1

                ColumnLayout {
                    anchors.fill: parent
                    spacing: 6

                    Label {
                        text: "Isolation: the exporter throws on purpose"
                        font.bold: true
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                    Label {
                        text: (root.exportFailures === 1 ? "Threw once" : "Threw " + Format.count(root.exportFailures) + " times")
                              + " · the handlers after it ran for "
                              + (root.panelUpdates === root.snapshotsShown ? "all " : "only ")
                              + Format.count(root.panelUpdates) + " of " + Format.count(root.snapshotsShown) + " snapshots"
                        opacity: 0.75
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                    ListView {
                        model: failures
                        clip: true
                        interactive: false
                        Layout.fillWidth: true
                        Layout.fillHeight: true
                        delegate: Label {
                            required property string when
                            required property string message
                            width: ListView.view.width
                            text: when + "  " + message
                            color: "#e06c75"
                            font.family: "monospace"
                            elide: Text.ElideRight
                        }
                    }
                }
            }
        }
    }

    footer: ToolBar {
        Label {
            anchors.fill: parent
            anchors.leftMargin: 12
            anchors.rightMargin: 12
            verticalAlignment: Text.AlignVCenter
            elide: Text.ElideRight
            text: "Each receiver stands for an app's UI thread: " + root.updateCostUs + " µs per update, "
                  + Format.count(1e6 / root.updateCostUs) + " updates/s at most · snapshot "
                  + Format.count(root.snapshotsShown) + " · up " + Format.duration(root.uptimeMs)
        }
    }
}
