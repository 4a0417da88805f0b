// SPDX-License-Identifier: MIT
// Bound: the Components below are created in this file's context and use its ids.
pragma ComponentBehavior: Bound
import QtQml
import RegistryIO

QtObject {
    id: root

    property string trace: ""
    property int failures: 0
    property int lastFailedId: 0
    property string lastFailure: ""
    property QtObject probe: null // a handler under test, for assignments from JavaScript
    property var killer: null // a C++ object whose destroyNow(object) deletes at once
    property QmlRegistry registry: QmlRegistry {
        onHandlerFailed: (id, message) => {
            root.failures += 1;
            root.lastFailedId = id;
            root.lastFailure = message;
        }
    }
    property QmlRegistry other: QmlRegistry {}
    property RegistryHandler low: RegistryHandler {
        registry: root.registry
        priority: 1
        onNotified: event => { root.trace += "low=" + event + ";"; }
    }
    property RegistryHandler high: RegistryHandler {
        registry: root.registry
        priority: 10
        onNotified: event => { root.trace += "high=" + event + ";"; }
    }
    // Components get their registry from createObject(root, { registry: ... }).
    property Component onceComponent: Component {
        RegistryHandler {
            once: true
            onNotified: event => { root.trace += "once=" + event + ";"; }
        }
    }
    property Component throwingComponent: Component {
        RegistryHandler {
            priority: 5
            onNotified: event => {
                throw new Error("handler boom " + event); // THROW_HANDLER
            }
        }
    }
    property Component plainComponent: Component {
        RegistryHandler {
            priority: 5
            onNotified: event => { root.trace += "dyn=" + event + ";"; }
        }
    }
    property Component orphanComponent: Component {
        RegistryHandler {
            onNotified: event => { root.trace += "orphan=" + event + ";"; }
        }
    }
    // `handler:` functions: called directly, without the notified signal.
    property Component functionComponent: Component {
        RegistryHandler {
            priority: 5
            handler: event => { root.trace += "fn=" + event + ";"; }
            onNotified: event => { root.trace += "signal=" + event + ";"; } // not emitted
        }
    }
    property Component throwingFunctionComponent: Component {
        RegistryHandler {
            priority: 5
            handler: event => {
                throw new Error("function boom " + event); // THROW_FUNCTION
            }
        }
    }
    property Component selfDestroyingComponent: Component {
        RegistryHandler {
            id: selfDestroying
            priority: 20
            property bool nest: false
            handler: event => {
                root.trace += "self=" + event + ";";
                if (nest && event === "1")
                    selfDestroying.registry.notify("2"); // a delivery to us inside one to us
                else
                    root.killer.destroyNow(selfDestroying); // deleted while its handler runs
            }
        }
    }
    property Component registryComponent: Component {
        QmlRegistry {}
    }
}
