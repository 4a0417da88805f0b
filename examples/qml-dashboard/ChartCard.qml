// SPDX-License-Identifier: MIT
// A titled chart: the current values under the title, the last 30 s below with labelled axes.
import QtQuick
import QtQuick.Controls.Fusion
import QtQuick.Layouts

Frame {
    id: card

    required property string title
    property var series: []    // as Sparkline.series, one or two; each adds `label`: its current value
    property bool logScale: false
    property var tickFormat: v => String(v) // the value axis' labels (see Sparkline)
    readonly property int labelSize: width < 300 ? 14 : 16

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

            Label {
                text: card.series.length > 0 ? card.series[0].label : ""
                color: card.series.length > 0 ? card.series[0].color : "transparent"
                font.pixelSize: card.labelSize
                font.bold: true
                elide: Text.ElideRight
                Layout.fillWidth: true
                Layout.preferredWidth: 1
            }
            Label {
                visible: card.series.length > 1
                text: visible ? card.series[1].label : ""
                color: visible ? card.series[1].color : "transparent"
                font.pixelSize: card.labelSize
                font.bold: true
                elide: Text.ElideRight
                Layout.fillWidth: true
                Layout.preferredWidth: 1
            }
        }
        Sparkline {
            series: card.series
            logScale: card.logScale
            tickFormat: card.tickFormat
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.minimumHeight: 24
        }
    }
}
