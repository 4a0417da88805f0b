// SPDX-License-Identifier: MIT
import QtQml
import RegistryIO

// Five bindings on RegistryIO's FINAL properties: qmlcachegen compiles each to C++ when it finds
// the RegistryIO module, which the package config gives every target linking RegistryIO::Qml.
QtObject {
    id: root
    property QmlRegistry registry: QmlRegistry {}
    property int handlers: root.registry.count
    property RegistryHandler watcher: RegistryHandler {
        registry: root.registry
        priority: root.handlers + 1
        capacity: root.handlers + 10
    }
    property bool watching: root.watcher.active
}
