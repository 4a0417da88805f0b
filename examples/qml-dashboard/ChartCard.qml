// A titled chart: the current values under the title, the last 30 s below.
import QtQuick
import QtQuick.Controls.Fusion
import QtQuick.Layouts

Frame {
    id: card

    required property string title
    property var series: []    // as Sparkline.series; each may add `label`: its current value
    property bool logScale: false

    ColumnLayout {
        anchors.fill: parent
        spacing: 2

        Label {
            text: card.title
            font.bold: true
            elide: Text.ElideRight
            Layout.fillWidth: true
        }
        RowLayout {
            spacing: 12
            Layout.fillWidth: true

            Repeater {
                model: card.series
                delegate: Label {
                    required property var modelData
                    text: modelData.label
                    color: modelData.color
                    font.pixelSize: 16
                    font.bold: true
                    elide: Text.ElideRight
                    Layout.fillWidth: true
                    Layout.preferredWidth: 1
                }
            }
        }
        Sparkline {
            series: card.series
            logScale: card.logScale
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.minimumHeight: 24
        }
    }
}
