// SPDX-License-Identifier: MIT
// One figure of a panel: a caption and a large value, both elided to the space they get.
import QtQuick
import QtQuick.Controls.Fusion
import QtQuick.Layouts

ColumnLayout {
    id: metric

    required property string caption
    required property string value
    property color color: "#e6e6e6"
    property int size: 22

    spacing: 0
    Layout.fillWidth: true
    Layout.preferredWidth: 1 // equal columns

    Label {
        text: metric.caption
        opacity: 0.7
        elide: Text.ElideRight
        Layout.fillWidth: true
    }
    Label {
        text: metric.value
        color: metric.color
        font.pixelSize: metric.size
        font.bold: true
        elide: Text.ElideRight
        Layout.fillWidth: true
    }
}
