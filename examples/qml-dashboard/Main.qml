// The dashboard: three panels subscribe to the `cpu` and `network` registries that C++ worker
// threads publish to. Handlers run on this (the GUI) thread, in priority order.
import QtQuick
import RegistryIO

Window {
    id: root

    required property QmlRegistry cpu
    required property QmlRegistry network

    // What main.cpp prints at the end of a headless run.
    property int logCpu: 0
    property int logNetwork: 0
    property int lastLogCpuSeq: 0
    property int lastLogNetworkSeq: 0
    property bool inOrder: true
    property int gaugeCpuUpdates: 0
    property int gaugeNetworkUpdates: 0
    property int gaugeCpuSeq: 0
    property int gaugeNetworkSeq: 0
    property real gaugeCpu: 0
    property real gaugeNetwork: 0
    property int alerts: 0
    property bool alertsAfterLog: true
    property RegistryHandle alertHandle: null

    width: 800
    height: 300
    visible: true
    title: "RegistryIO dashboard"
    color: "#1e2229"

    function remember(source, event) {
        recent.insert(0, { line: source + " #" + event.seq + ": " + event.value.toFixed(1) });
        if (recent.count > 10)
            recent.remove(10);
    }

    ListModel {
        id: recent
    }

    // Panel 1, priority 10: every event, in order.
    RegistryHandler {
        registry: root.cpu
        priority: 10
        onNotified: event => {
            root.inOrder = root.inOrder && event.seq === root.lastLogCpuSeq + 1;
            root.lastLogCpuSeq = event.seq;
            root.logCpu += 1;
            root.remember("cpu", event);
        }
    }
    RegistryHandler {
        registry: root.network
        priority: 10
        onNotified: event => {
            root.inOrder = root.inOrder && event.seq === root.lastLogNetworkSeq + 1;
            root.lastLogNetworkSeq = event.seq;
            root.logNetwork += 1;
            root.remember("net", event);
        }
    }

    // Panel 2, priority 5, coalesced: at most one pending update each, the newest wins.
    RegistryHandler {
        registry: root.cpu
        priority: 5
        coalesce: true
        onNotified: event => {
            root.gaugeCpuUpdates += 1;
            root.gaugeCpuSeq = event.seq;
            root.gaugeCpu = event.value;
        }
    }
    RegistryHandler {
        registry: root.network
        priority: 5
        coalesce: true
        onNotified: event => {
            root.gaugeNetworkUpdates += 1;
            root.gaugeNetworkSeq = event.seq;
            root.gaugeNetwork = event.value;
        }
    }

    // Panel 3, priority 1, added from JavaScript: runs after the log saw the same event.
    Component.onCompleted: {
        alertHandle = cpu.add(event => {
            root.alertsAfterLog = root.alertsAfterLog && root.lastLogCpuSeq === event.seq;
            if (event.value > 90)
                root.alerts += 1;
        }, 1);
    }

    Row {
        anchors.fill: parent
        anchors.margins: 12
        spacing: 12

        Rectangle {
            width: 300
            height: parent.height
            color: "#2a2f38"
            radius: 6

            Text {
                id: logTitle
                x: 10
                y: 8
                color: "#e8e8e8"
                font.bold: true
                text: "Log (priority 10): cpu " + root.logCpu + ", net " + root.logNetwork
            }
            ListView {
                anchors.top: logTitle.bottom
                anchors.bottom: parent.bottom
                anchors.left: parent.left
                anchors.right: parent.right
                anchors.margins: 10
                clip: true
                model: recent
                delegate: Text {
                    required property string line
                    color: "#b8c4d6"
                    font.family: "monospace"
                    text: line
                }
            }
        }

        Rectangle {
            width: 240
            height: parent.height
            color: "#2a2f38"
            radius: 6

            Column {
                x: 10
                y: 8
                spacing: 10

                Text {
                    color: "#e8e8e8"
                    font.bold: true
                    text: "Gauges (priority 5, coalesced)"
                }
                Text {
                    color: "#b8c4d6"
                    text: "cpu " + root.gaugeCpu.toFixed(1) + " %  (" + root.gaugeCpuUpdates + " updates)"
                }
                Rectangle {
                    width: 1.8 * root.gaugeCpu
                    height: 12
                    color: root.gaugeCpu > 90 ? "#e06c75" : "#98c379"
                }
                Text {
                    color: "#b8c4d6"
                    text: "net " + root.gaugeNetwork.toFixed(1) + " MB/s  (" + root.gaugeNetworkUpdates + " updates)"
                }
                Rectangle {
                    width: 1.8 * root.gaugeNetwork
                    height: 12
                    color: "#61afef"
                }
            }
        }

        Rectangle {
            width: 200
            height: parent.height
            color: "#2a2f38"
            radius: 6

            Column {
                x: 10
                y: 8
                spacing: 10

                Text {
                    color: "#e8e8e8"
                    font.bold: true
                    text: "Alerts (priority 1)"
                }
                Text {
                    color: root.alerts > 0 ? "#e06c75" : "#b8c4d6"
                    text: root.alerts + " cpu samples > 90 %"
                }
            }
        }
    }
}
