// SPDX-License-Identifier: MIT
// registryio-inspect-gui's window: the applications that serve on the left; attached to one, its
// live handler table (the in-app inspector, RegistryInspector, over that application's
// snapshots) and, on demand, its frame timeline. Only Qt Quick (no Controls).
import QtQuick
import RegistryIO
import RegistryIO.Inspector

Window {
    id: window

    /// The session (applications, attach, detach, state, timeline).
    readonly property InspectorSession session: session

    width: 1100
    height: 700
    visible: true
    color: "#181b20"
    title: session.target.length > 0 ? "RegistryIO inspector · " + session.target : "RegistryIO inspector"

    InspectorSession {
        id: session
        objectName: "session"
        model: table.model
    }

    // Every text of the window: an application's names are text, never markup.
    component Label: Text {
        textFormat: Text.PlainText
        color: "#e6e6e6"
        font.pixelSize: 13
    }

    component Button: Rectangle {
        id: button
        property string text
        property bool enabled: true
        signal clicked()
        implicitWidth: label.implicitWidth + 20
        height: 26
        radius: 3
        color: !button.enabled ? "#2a2e35" : area.pressed ? "#4b5563" : "#394150"
        Label {
            id: label
            anchors.centerIn: parent
            text: button.text
            color: button.enabled ? "#e6e6e6" : "#6b7280"
        }
        MouseArea {
            id: area
            anchors.fill: parent
            enabled: button.enabled
            onClicked: button.clicked()
        }
    }

    // The applications that serve (rescanned every 2 s).
    Rectangle {
        id: side
        width: 300
        anchors { left: parent.left; top: parent.top; bottom: parent.bottom }
        color: "#20242b"

        Label {
            id: sideTitle
            x: 10; y: 10
            text: "Serving applications"
            font { pixelSize: 14; bold: true }
        }
        Button {
            anchors { right: parent.right; rightMargin: 8; verticalCenter: sideTitle.verticalCenter }
            text: "Rescan"
            onClicked: session.rescan()
        }
        ListView {
            id: applications
            objectName: "applications"
            anchors { left: parent.left; right: parent.right; top: sideTitle.bottom; bottom: parent.bottom; topMargin: 10 }
            clip: true
            model: session.applications
            delegate: Rectangle {
                id: entry
                required property var modelData
                readonly property bool current: session.target === entry.modelData.name
                width: ListView.view.width
                height: 44
                color: entry.current ? "#2f3b4d" : entryArea.containsMouse ? "#282d36" : "transparent"
                Column {
                    x: 10
                    anchors.verticalCenter: parent.verticalCenter
                    Label { text: entry.modelData.program }
                    Label { text: "pid " + entry.modelData.pid + " · " + entry.modelData.name; color: "#9aa3b0"; font.pixelSize: 11 }
                }
                MouseArea {
                    id: entryArea
                    anchors.fill: parent
                    hoverEnabled: true
                    onClicked: session.attach(entry.modelData.name)
                }
            }
        }
        Label {
            anchors { left: parent.left; right: parent.right; top: sideTitle.bottom; margins: 10 }
            visible: applications.count === 0
            wrapMode: Text.WordWrap
            text: "No application serves its diagnostics. Start one with RIO_INSPECT=1 set: no rebuild, no change to its code."
            color: "#9aa3b0"
            font.pixelSize: 12
        }
    }

    // What the inspector is doing, and its actions.
    Row {
        id: bar
        anchors { left: side.right; right: parent.right; top: parent.top; margins: 8 }
        spacing: 8
        height: 26
        Button {
            text: "Detach"
            enabled: session.state !== InspectorSession.Detached
            onClicked: session.detach()
        }
        Button {
            text: session.timelineShown ? "Hide timeline" : "Show timeline"
            onClicked: session.timelineShown = !session.timelineShown
        }
        Label {
            objectName: "message"
            width: bar.width - x
            height: parent.height
            verticalAlignment: Text.AlignVCenter
            text: session.message
            color: session.state === InspectorSession.Lost ? "#e06c75" : "#e6e6e6"
            elide: Text.ElideRight
        }
    }

    RegistryInspector {
        id: table
        objectName: "table"
        anchors { left: side.right; right: parent.right; top: bar.bottom; bottom: timeline.top; margins: 8 }
        title: session.target.length > 0 ? "Handlers of " + session.target : "Handlers"
    }

    // The newest frames of the attached application's main thread as bars, its runs inside
    // (slow ones red), and every thread's slow runs and stalls.
    Rectangle {
        id: timeline
        objectName: "timeline"
        anchors { left: side.right; right: parent.right; bottom: parent.bottom; margins: 8 }
        height: session.timelineShown ? 220 : 0
        visible: session.timelineShown
        color: "#20242b"
        radius: 4
        clip: true

        Label {
            id: timelineTitle
            x: 8; y: 6
            text: "Frames (main thread): the newest " + session.frames.length + " over "
                  + (session.timelineSpan / 1000).toFixed(1) + " ms"
            font { pixelSize: 13; bold: true }
        }
        Item {
            id: bars
            x: 8
            y: timelineTitle.y + timelineTitle.height + 6
            width: timeline.width - 16
            height: 48
            readonly property real scale: session.timelineSpan > 0 ? width / session.timelineSpan : 0
            property var hovered: null // the frame under the mouse
            Repeater {
                model: session.frames
                delegate: Rectangle {
                    id: frameBar
                    required property var modelData
                    x: frameBar.modelData.start * bars.scale
                    width: Math.max(1, frameBar.modelData.duration * bars.scale)
                    height: bars.height
                    color: frameBar.modelData.slow ? "#4a2a30" : "#2c323c"
                    border.color: frameBar.modelData.slow ? "#e06c75" : "#3b4250"
                    MouseArea {
                        anchors.fill: parent
                        hoverEnabled: true
                        onContainsMouseChanged: bars.hovered = containsMouse ? frameBar.modelData : null
                    }
                    Repeater {
                        model: frameBar.modelData.runs
                        delegate: Rectangle {
                            required property var modelData
                            x: modelData.start * bars.scale
                            y: 6
                            width: Math.max(1, modelData.duration * bars.scale)
                            height: bars.height - 12
                            color: modelData.slow ? "#e06c75" : "#61afef"
                        }
                    }
                }
            }
        }
        // The frame under the mouse: its number, length and runs.
        Label {
            id: frameDetail
            anchors { left: parent.left; right: parent.right; top: bars.bottom; margins: 8 }
            text: {
                const f = bars.hovered;
                if (!f)
                    return "Point at a frame for its runs; slow runs and stalls of every thread, newest first:";
                let s = "frame " + f.frame + ": " + (f.duration / 1000).toFixed(2) + " ms";
                for (let i = 0; i < f.runs.length && i < 6; ++i)
                    s += " · " + f.runs[i].name + " " + (f.runs[i].duration / 1000).toFixed(2) + " ms";
                return s;
            }
            color: "#9aa3b0"
            font.pixelSize: 12
            elide: Text.ElideRight
        }
        ListView {
            objectName: "slowRuns"
            anchors { left: parent.left; right: parent.right; top: frameDetail.bottom; bottom: parent.bottom; margins: 8 }
            clip: true
            model: session.slowRuns
            delegate: Label {
                required property string modelData
                text: modelData
                color: "#e06c75"
                font { pixelSize: 12; family: "monospace" }
            }
        }
    }
}
