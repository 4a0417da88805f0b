// SPDX-License-Identifier: MIT
// The snippets of docs/QT.md, docs/DIAGNOSTICS.md and docs/SIGNALS.md are regions of this file
// (tst_doc_snippets checks that they agree); running it checks what the snippets claim.
#include <registryio/qt/debug.h>
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/logging.h>
#include <registryio/qt/qt_registry.h>
#include <registryio/qt/signal_forwarding.h>
#ifndef _WIN32
#include <registryio/qt/unix_signals.h> // Unix only
#endif

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void check(bool condition, const char *what)
{
    if (!condition) {
        ++failures;
        std::printf("FAILED: %s\n", what);
    }
}

// Runs the event loop until `done` or 5 s passed (deliveries to this thread are queued events).
template <typename Done>
bool waitUntil(Done done)
{
    QDeadlineTimer deadline(5000);
    while (!done() && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    return done();
}

struct Progress
{
    int percent;
};

class Window : public QObject
{
public:
    int shown = -1;
    void onProgress(const Progress &p) { shown = p.percent; }
};

class Button : public QObject
{
    Q_OBJECT
Q_SIGNALS:
    void clicked(int times);
};

void qtRegistryItems()
{
    QThread worker;
    worker.start();
    QObject onWorker;
    onWorker.moveToThread(&worker);

    //! [qt-add]
    rio::QtRegistry<Progress> progress;
    Window window; // a QObject living on this (the main) thread
    std::atomic<int> logged{-1};

    // No context: runs on the notifying thread, like Registry::add.
    progress.add([&logged](const Progress &p) { logged = p.percent; });
    // A context object: runs on its thread, and is removed when it is destroyed.
    progress.add(&window, [&window](const Progress &p) { window.shown = p.percent; });
    // A member function, like QObject::connect(sender, signal, receiver, slot).
    progress.add(&window, &Window::onProgress);
    // Coalesced: at most one pending delivery; a newer event replaces the payload.
    progress.add(&window, [](const Progress &) { /* repaint */ }, {.delivery = rio::Delivery::Latest});
    // Connection types as in Qt: Auto (default), Direct, Queued, BlockingQueued.
    progress.add(&onWorker, [](const Progress &) { /* on the worker */ },
                 {.connection = Qt::QueuedConnection});

    std::thread producer([&progress] { progress.notify({42}); }); // from any thread
    producer.join();
    // ... the main thread's event loop delivers to `window`
    //! [qt-add]
    check(logged == 42, "qt-add direct");
    check(waitUntil([&] { return window.shown == 42; }), "qt-add context");
    check(progress.count() == 5, "qt-add count");

    //! [qt-context-dies]
    {
        QObject temporary;
        progress.add(&temporary, [](const Progress &) { });
    } // destroyed: its handler is removed (and queued deliveries for it never run)
    //! [qt-context-dies]
    check(progress.size() == 5, "qt-context-dies");

    //! [qt-once-scoped]
    progress.add(&window, [](const Progress &) { /* first progress only */ }, {.once = true});
    rio::HandlerGuard guard = progress.addScoped(&window, [](const Progress &) { });
    //! [qt-once-scoped]
    check(progress.size() == 7 && guard.isActive(), "qt-once-scoped");
    guard.reset();

    //! [qt-refused]
    try {
        progress.add(nullptr, [](const Progress &) { });
    } catch (const std::invalid_argument &e) {
        // a null context (or an empty callable, an unknown connection type,
        // Latest with Direct or BlockingQueued) is refused; nothing changes
    }
    //! [qt-refused]
    check(progress.size() == 6, "qt-refused");

    //! [qt-failures]
    progress.setExceptionHandler([](const rio::ExceptionInfo &info) { qWarning() << info; });
    QObject::connect(&progress, &rio::QtRegistryBase::handlerFailed,
                     [](rio::HandlerId id, const QString &message) { qWarning() << id << message; });
    const rio::HandlerId failing =
        progress.add([](const Progress &) { throw std::runtime_error("no disk"); });
    progress.notify({50}); // logged three times: callback, signal, category `registryio`
    //! [qt-failures]
    progress.clearExceptionHandler();

    //! [qt-remove]
    progress.remove(failing);        // true the first time; queued deliveries for it never run
    progress.removeAndWait(failing); // false: already gone. For a live id: returns once the
                                     // handler runs on no other thread (queued ones included)
    progress.synchronize();          // no notify begun before this can still reach a removed handler
    progress.clear();                // every handler, and every pending delivery
    //! [qt-remove]
    check(progress.isEmpty() && progress.count() == 0, "qt-remove");

    worker.quit();
    worker.wait();
}

void forwardItems()
{
    //! [qt-forward]
    Button button;
    rio::QtRegistry<int> clicks;
    int total = 0;
    clicks.add([&total](const int &times) { total += times; });
    rio::forward(&button, &Button::clicked, clicks); // every emission notifies `clicks`
    emit button.clicked(2);
    //! [qt-forward]
    check(total == 2, "qt-forward");
}

void boundedItems()
{
    //! [qt-bounded]
    rio::QtRegistry<int> readings;
    QObject ui; // on this thread, whose event loop does not run during the loop below
    std::vector<int> shown;
    rio::HandlerOptions options{.connection = Qt::QueuedConnection};
    options.capacity = 3;                         // at most 3 deliveries wait for this handler
    options.overflow = rio::Overflow::DropOldest; // a full queue forgets its oldest event
    const rio::HandlerId id = readings.add(&ui, [&shown](const int &v) { shown.push_back(v); }, options);
    quint64 reported = 0;
    QObject::connect(&readings, &rio::QtRegistryBase::deliveriesDropped,
                     [&reported](rio::HandlerId, quint64 total) { reported = total; });
    for (int i = 1; i <= 10; ++i)
        readings.notify(i);
    QCoreApplication::sendPostedEvents(); // delivers 8, 9, 10
    // readings.droppedCount(id) == 7, deliveriesDropped said so, and the log (once a second)
    //! [qt-bounded]
    check(shown == std::vector<int>{8, 9, 10} && readings.droppedCount(id) == 7 && reported == 7,
          "qt-bounded");
    readings.remove(id);

    //! [qt-paced]
    rio::HandlerOptions paced{.connection = Qt::QueuedConnection};
    paced.delivery = rio::Delivery::Latest;
    paced.minInterval = std::chrono::milliseconds(50); // at most 20 deliveries a second
    int repaints = 0;
    int lastShown = 0;
    readings.add(
        &ui,
        [&](const int &v) {
            ++repaints;
            lastShown = v;
        },
        paced);
    for (int i = 1; i <= 1000; ++i)
        readings.notify(i); // one repaint now, the newest value at most 50 ms later
    //! [qt-paced]
    check(waitUntil([&] { return lastShown == 1000; }) && repaints <= 2, "qt-paced");
}

void diagnosticsItems()
{
    //! [diagnostics]
    rio::QtRegistry<int> telemetry;
    telemetry.setObjectName(QStringLiteral("telemetry")); // names it in snapshots and in the log
    telemetry.setDiagnosticsEnabled(true);                // or RIO_DIAGNOSTICS=1 for every registry
    telemetry.add([](const int &) { /* plot a sample */ });
    for (int i = 0; i < 100; ++i)
        telemetry.notify(i);
    for (const rio::RegistryInfo &registry : rio::Diagnostics::snapshot()) { // any thread
        for (const rio::HandlerInfo &h : registry.handlers) {
            // A rare stall keeps p99 small: look at the maximum and the slow runs too.
            qInfo() << registry.name << h.file << h.line << "calls" << h.calls << "p99" << h.runTime.p99Ns()
                    << "ns, max" << h.runTime.maxNs << "ns, slow runs" << h.slowRuns << "drops"
                    << h.totalDrops();
        }
    }
    //! [diagnostics]
    const rio::RegistryInfo info = rio::Diagnostics::snapshot(telemetry.registryId());
    check(info.name == QLatin1String("telemetry") && info.handlers.size() == 1 &&
              info.handlers[0].calls == 100,
          "diagnostics");
}

#ifndef _WIN32
void unixSignalItems()
{
    //! [unix-signals]
    rio::UnixSignals unixSignals;
    int reloads = 0;
    unixSignals.add(SIGUSR1, [&reloads] { ++reloads; }); // runs on this thread's event loop
    std::raise(SIGUSR1);                                 // e.g. `kill -USR1 <pid>`
    //! [unix-signals]
    check(waitUntil([&] { return reloads == 1; }), "unix-signals");
    check(!rio::UnixSignals::isCatchable(SIGKILL) && unixSignals.listenerCount(SIGUSR1) == 1,
          "unix-signals-catchable");
}
#endif

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    qtRegistryItems();
    forwardItems();
    boundedItems();
    diagnosticsItems();
#ifndef _WIN32
    unixSignalItems();
#endif
    //! [logging]
    QLoggingCategory::setFilterRules(QStringLiteral("registryio.debug=true")); // or QT_LOGGING_RULES
    qCInfo(rio::lcRegistryIO) << "category" << rio::lcRegistryIO().categoryName();
    //! [logging]
    std::printf("api-tour-qt: %s\n", failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
}

#include "main.moc"
