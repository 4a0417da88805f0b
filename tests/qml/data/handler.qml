import QtQml
import RegistryIO

QtObject {
    id: root

    property string trace: ""
    property int failures: 0
    property int lastFailedId: 0
    property string lastFailure: ""
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
    property Component registryComponent: Component {
        QmlRegistry {}
    }
}
