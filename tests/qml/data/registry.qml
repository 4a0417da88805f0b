// SPDX-License-Identifier: MIT
import QtQml
import RegistryIO

QtObject {
    id: root

    property string trace: ""
    property int failures: 0
    property int received: 0
    property string lastFailure: ""
    property int lastFailedId: 0
    property var keptRegistry: null
    property var keptHandle: null
    readonly property QmlRegistry registry: QmlRegistry {
        onHandlerFailed: (id, message) => {
            root.failures += 1;
            root.lastFailedId = id;
            root.lastFailure = message;
        }
    }
    property Component ownerComponent: Component {
        QtObject {}
    }
    property Component registryComponent: Component {
        QmlRegistry {}
    }

    function addTagged(tag, priority) {
        return registry.add(event => { root.trace += tag + "=" + event + ";"; }, priority);
    }
    function addThrowing(priority) {
        return registry.add(event => {
            throw new Error("boom " + event); // THROW_ERROR
        }, priority);
    }
    function addThrowingValue(priority) {
        return registry.add(() => { throw "plain value"; }, priority);
    }
    function addOwned(tag, owner) {
        return registry.add(event => { root.trace += tag + "=" + event + ";"; }, 0, { owner: owner });
    }
    function addOnce(tag) {
        return registry.add(event => { root.trace += tag + "=" + event + ";"; }, 0, { once: true });
    }
    function addDescriber() {
        return registry.add(event => {
            root.trace += "a=" + event.a + ",b1=" + event.b[1] + ",c=" + event.c.d + ";";
        });
    }
    function addNotAFunction() {
        return registry.add(42); // BAD_ADD
    }
    function addSelfRemoving(tag) {
        let handle = null;
        handle = registry.add(event => {
            root.trace += tag + "=" + event + ";";
            handle.remove();
        });
        return handle;
    }
    function addWithOptions(options) {
        return registry.add(event => { root.trace += "opt=" + event + ";"; }, 0, options); // ADD_OPTIONS
    }
}
