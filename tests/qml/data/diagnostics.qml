// SPDX-License-Identifier: MIT
// tst_qml_diagnostics: a named registry with a declarative handler and a JavaScript one, and the
// inspector over them. The test reads the lines below: keep them where they are.
import QtQuick
import RegistryIO

Item {
    id: root
    width: 800
    height: 300

    property alias stats: stats
    property alias inspector: inspector
    property var handle: null

    function addOne() {
        root.handle = stats.add(function(event) {}); // line 17: the add's line
    }

    QmlRegistry {
        id: stats
        name: "qml-diagnostics"
    }
    RegistryHandler {
        registry: stats
        onNotified: event => {
            if (event === "fail")
                throw new Error("deliberate");
        }
    }
    RegistryInspector {
        id: inspector
        anchors.fill: parent
        refreshInterval: 20
        registryFilter: "qml-diagnostics"
    }
}
