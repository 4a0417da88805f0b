// SPDX-License-Identifier: MIT
import QtQml
import RegistryIO
import TypedQuotes

QtObject {
    id: app
    property string log: ""
    property double total: 0

    required property QuoteRegistry quotes

    // notified(Quote event) is typed; in Qt 6.4 qmllint and the QML compiler check a typed
    // function's parameter, so the handlers hand the event to one.
    // [typed-handler]
    property QuoteRegistryHandler ticker: QuoteRegistryHandler {
        registry: app.quotes
        priority: 10
        onNotified: (event) => app.show(event)
    }
    property QuoteRegistryHandler sum: QuoteRegistryHandler {
        registry: app.quotes
        onNotified: (event) => app.add(event)
    }
    // [typed-handler]

    // The newest quote per symbol, fed from any thread: one row per symbol, with the roles
    // `key`, `value`, `symbol` and `price`; a ListView shows it, its rows changed once a frame.
    // [board]
    property QuoteRegistry feed: QuoteRegistry {}
    property LatestModel board: LatestModel {
        registry: app.feed
        key: "symbol"
    }
    // [board]

    // [typed-function]
    // `event.price` is a double and `event.symbol` a string here: a typo fails qmllint.
    function show(event: quote) {
        log += event.symbol + " " + event.price + (event.price < 13 ? " (cheap)" : "") + "; ";
    }
    function add(event: quote) {
        total += event.price;
    }
    // [typed-function]

    Component.onCompleted: quotes.notify({ symbol: "ACME", price: 12.5 }) // from QML: an object
}
