// SPDX-License-Identifier: MIT
// One side of the keyed table: the newest update of each of thousands of keys, as a model on the
// window's thread shows it, and how many rows are current.
import QtQuick
import QtQuick.Controls.Fusion
import QtQuick.Layouts
import "format.js" as Format

Frame {
    id: panel

    required property string title
    required property string code        // how the updates reach the model
    required property color accent
    required property var model          // rows with the roles `key` and `seq`
    property var shown: ({ rows: 0, current: 0, behind: 0 })
    property string note: ""             // a line below the figures

    ColumnLayout {
        anchors.fill: parent
        spacing: 4

        Label {
            text: panel.title
            color: panel.accent
            font.bold: true
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
        Label {
            text: panel.code
            opacity: 0.75
            font.family: "monospace"
            font.pixelSize: 11
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
        Label {
            text: Format.count(panel.shown.current) + " of " + Format.count(panel.shown.rows) + " rows current · "
                  + Format.count(panel.shown.behind) + " updates not shown"
            color: panel.shown.behind > panel.shown.rows ? "#e06c75" : "#98c379"
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
        Label {
            text: panel.note
            visible: text !== ""
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
        GridView { // each cell: a key and its newest update's number
            model: panel.model
            clip: true
            cellWidth: 100
            cellHeight: 16
            cacheBuffer: 0 // only the cells shown: no hidden delegate updated on each frame
            boundsBehavior: Flickable.StopAtBounds
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.minimumHeight: 16
            delegate: Text {
                required property int key
                required property var seq
                width: 94 // the cell's, less a gap
                text: Format.symbol(key) + " " + seq
                color: "#e6e6e6" // the window's text colour
                font.family: "monospace"
                font.pixelSize: 11
                elide: Text.ElideRight
            }
        }
    }
}
