// SPDX-License-Identifier: MIT
// qml: QML handlers of RegistryIO against the QML developer's own tools, on one engine, in one
// binary, with the same handler body (`root.hits++`). Names:
//   qml/<emitter>/<kind>/<payload>/<handlers>   time per event (a batch of kBatch events per
//                                               iteration; benchmarks/run divides)
//   qml_scale/<kind>/<count>                    create <count> handlers, then destroy them all
// Emitters: js (a JavaScript loop), cpp (C++ on the engine thread), worker (a C++ worker thread;
// the engine thread runs its event loop until every delivery ran).
// Kinds: connections (`Connections { function onPing(event) }` on a signal: the QML one for js,
// a C++ one otherwise), connect (`signal.connect(fn)`), handler (`RegistryHandler` with
// `onNotified`), function (`RegistryHandler` with `handler: fn`), add (`QmlRegistry.add(fn)`),
// typed (the typed handler of RIO_QML_TYPED_REGISTRY; object payloads are a Q_GADGET there, int
// payloads a plain int registry), typed_function (the typed handler with `handler: fn`), and for
// js only floor (no library: the run() loop calls an array of the same functions, the least any
// JavaScript dispatch can cost). Payloads: int, object ({id, v}: a JavaScript object from js, a
// QVariantMap from C++).
// RIO_BENCH_ITERATIONS=N runs every case exactly N iterations (for instruction counts with
// callgrind at two values of N).

#include "bench_qml_types.h"
#include "common/run_main.h"

#include <registryio/qml/qml_registry.h>

#include <benchmark/benchmark.h>

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QEventLoop>
#include <QQmlComponent>
#include <QQmlEngine>
#include <QTimer>
#include <QVariantMap>

#include <memory>
#include <semaphore>
#include <string>
#include <thread>

namespace {

using rio::bench::qml::Emitter;
using rio::bench::qml::Quote;

constexpr int kBatch = 100; // events per benchmark iteration

const char *const kKinds[] = {"connections", "connect", "handler",        "function",
                              "add",         "typed",   "typed_function", "floor"};
const char *const kEmitters[] = {"js", "cpp", "worker"};
const char *const kPayloads[] = {"int", "object"};
const int kHandlerCounts[] = {1, 4, 16};

std::unique_ptr<QQmlEngine> g_engine;

// The QML document of one case: N handlers of `kind` on the signal or registry `emitter` uses.
QByteArray document(const std::string &kind, const std::string &emitter, bool object, int n)
{
    const bool cppSignal = emitter != "js";
    const QByteArray target = cppSignal ? "root.emitter" : "root";
    const QByteArray body = "function(event) { root.hits++ }";
    QByteArray handlers;
    QByteArray setup;
    QByteArray send;
    if (kind == "connections") {
        for (int i = 0; i < n; ++i)
            handlers +=
                "        Connections { target: " + target + "; function onPing(event) { root.hits++ } }\n";
        send = "root.ping(EV)";
    } else if (kind == "connect") {
        setup = "for (let i = 0; i < " + QByteArray::number(n) + "; ++i) " + target + ".ping.connect(" +
                body + ");";
        send = "root.ping(EV)";
    } else if (kind == "handler") {
        for (int i = 0; i < n; ++i)
            handlers += "        RegistryHandler { registry: root.reg; onNotified: " + body + " }\n";
        send = "root.reg.notify(EV)";
    } else if (kind == "function") {
        for (int i = 0; i < n; ++i)
            handlers += "        RegistryHandler { registry: root.reg; handler: " + body + " }\n";
        send = "root.reg.notify(EV)";
    } else if (kind == "floor") {
        setup = "for (let i = 0; i < " + QByteArray::number(n) + "; ++i) root.handles.push(" + body + ");";
    } else if (kind == "add") {
        setup = "for (let i = 0; i < " + QByteArray::number(n) + "; ++i) root.handles.push(root.reg.add(" +
                body + "));";
        send = "root.reg.notify(EV)";
    } else { // typed, typed_function
        const QByteArray how = kind == "typed" ? "onNotified: " : "handler: ";
        const QByteArray type = object ? "BenchQuoteRegistryHandler" : "BenchIntRegistryHandler";
        const QByteArray reg = object ? "root.quotes" : "root.ints";
        for (int i = 0; i < n; ++i)
            handlers += "        " + type + " { registry: " + reg + "; " + how + body + " }\n";
        send = object ? "root.quotes.notify({ id: i, v: i })" : "root.ints.notify(i)";
    }
    handlers.replace("}\n        ", "},\n        ");
    if (kind == "floor") // one event object per notify, as the others make
        send = "{ const ev = EV; const fs = root.handles; for (let k = 0; k < fs.length; ++k) fs[k](ev) }";
    send.replace("EV", object ? "{ id: i, v: i }" : "i");
    return "import QtQml\nimport RegistryIO\nimport RioBench\n"
           "QtObject {\n"
           "    id: root\n"
           "    property int hits: 0\n"
           "    signal ping(var event)\n"
           "    required property Emitter emitter\n"
           "    property QmlRegistry reg: QmlRegistry {}\n"
           "    property BenchQuoteRegistry quotes: BenchQuoteRegistry {}\n"
           "    property BenchIntRegistry ints: BenchIntRegistry {}\n"
           "    property var handles: []\n"
           "    property list<QtObject> handlers: [\n" +
           handlers +
           "    ]\n"
           "    Component.onCompleted: { " +
           setup +
           " }\n"
           "    function run(n) { for (let i = 0; i < n; ++i) " +
           send +
           " }\n"
           "}\n";
}

std::unique_ptr<QObject> create(const QByteArray &qml, Emitter *emitter, benchmark::State &state)
{
    QQmlComponent component(g_engine.get());
    component.setData(qml, QUrl(QStringLiteral("bench.qml")));
    if (!component.isReady()) { // Qt 6.4 crashes creating a component with errors
        state.SkipWithError(component.errorString().toStdString().c_str());
        return nullptr;
    }
    std::unique_ptr<QObject> root(
        component.createWithInitialProperties({{QStringLiteral("emitter"), QVariant::fromValue(emitter)}}));
    if (!root)
        state.SkipWithError(component.errorString().toStdString().c_str());
    return root;
}

int hits(QObject *root)
{
    return root->property("hits").toInt();
}

// The C++ side of one event: notify the registry or emit the C++ signal.
struct CppSend
{
    std::string kind;
    bool object;
    QObject *root;
    Emitter *emitter;
    rio::QmlRegistry *reg;
    rio::bench::qml::BenchQuoteRegistry *quotes;
    rio::bench::qml::BenchIntRegistry *ints;
    rio::QmlRegistrySender sender;

    void operator()(int i, bool fromWorker) const
    {
        if (kind.starts_with("typed")) {
            if (object)
                quotes->notify(Quote{i, double(i)});
            else
                ints->notify(i);
            return;
        }
        const QVariant event =
            object ? QVariant(QVariantMap{{QStringLiteral("id"), i}, {QStringLiteral("v"), i}}) : QVariant(i);
        if (kind == "connections" || kind == "connect")
            Q_EMIT emitter->ping(event);
        else if (fromWorker)
            sender.notify(event);
        else
            reg->notify(event);
    }
};

// Runs the engine thread's event loop until `root.hits` reaches `target` (10 s at most).
bool waitForHits(QObject *root, int target)
{
    QDeadlineTimer deadline(10000);
    QTimer tick; // wakes the loop now and then, so the deadline is seen
    tick.start(200);
    while (hits(root) < target) {
        if (deadline.hasExpired())
            return false;
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    }
    return true;
}

void benchEvents(benchmark::State &state, std::string emitter, std::string kind, bool object, int n)
{
    Emitter source;
    const std::unique_ptr<QObject> root = create(document(kind, emitter, object, n), &source, state);
    if (!root)
        return;
    CppSend send{kind,
                 object,
                 root.get(),
                 &source,
                 root->property("reg").value<rio::QmlRegistry *>(),
                 root->property("quotes").value<rio::bench::qml::BenchQuoteRegistry *>(),
                 root->property("ints").value<rio::bench::qml::BenchIntRegistry *>(),
                 {}};
    send.sender = send.reg->sender();
    long expected = 0;
    if (emitter == "js") {
        QVariant ret;
        for (auto _ : state) {
            QMetaObject::invokeMethod(root.get(), "run", Q_RETURN_ARG(QVariant, ret),
                                      Q_ARG(QVariant, kBatch));
        }
        expected = long(state.iterations()) * kBatch * n;
    } else if (emitter == "cpp") {
        for (auto _ : state) {
            for (int i = 0; i < kBatch; ++i)
                send(i, false);
        }
        expected = long(state.iterations()) * kBatch * n;
    } else {
        std::binary_semaphore go(0);
        std::binary_semaphore done(0);
        bool stop = false;
        std::thread worker([&] {
            for (;;) {
                go.acquire();
                if (stop)
                    return;
                for (int i = 0; i < kBatch; ++i)
                    send(i, true);
                done.release();
            }
        });
        bool ok = true;
        for (auto _ : state) {
            expected += long(kBatch) * n;
            go.release();
            ok = waitForHits(root.get(), int(expected));
            done.acquire();
            if (!ok)
                break;
        }
        stop = true;
        go.release();
        worker.join();
        if (!ok) {
            state.SkipWithError("the worker's events did not all arrive within 10 s");
            return;
        }
    }
    QCoreApplication::processEvents();
    if (hits(root.get()) != expected)
        state.SkipWithError(("handlers ran " + std::to_string(hits(root.get())) + " times, expected " +
                             std::to_string(expected))
                                .c_str());
}

// Creating and destroying `count` handlers of one kind (deferred deletes included). Objects are
// made without a parent (the `made` array keeps them): a parent's children list makes each
// removal O(children), for every kind alike, which would hide the handlers' own cost.
void benchScale(benchmark::State &state, std::string kind, int count)
{
    Emitter source;
    const QByteArray qml =
        "import QtQml\nimport RegistryIO\nimport RioBench\n"
        "QtObject {\n"
        "    id: root\n"
        "    property int hits: 0\n"
        "    signal ping(var event)\n"
        "    required property Emitter emitter\n"
        "    property QmlRegistry reg: QmlRegistry {}\n"
        "    property BenchQuoteRegistry quotes: BenchQuoteRegistry {}\n"
        "    property Component connections: Component {\n"
        "        Connections { target: root; function onPing(event) { root.hits++ } }\n"
        "    }\n"
        "    property Component handler: Component {\n"
        "        RegistryHandler { registry: root.reg; onNotified: function(event) { root.hits++ } }\n"
        "    }\n"
        "    property Component typed: Component {\n"
        "        BenchQuoteRegistryHandler { registry: root.quotes; onNotified: function(event) { "
        "root.hits++ } }\n"
        "    }\n"
        "    function cycle(kind, n) {\n"
        "        const made = [];\n"
        "        for (let i = 0; i < n; ++i) {\n"
        "            if (kind === 'connect') {\n"
        "                const f = function(event) { root.hits++ };\n"
        "                root.ping.connect(f);\n"
        "                made.push(f);\n"
        "            } else if (kind === 'add') {\n"
        "                made.push(root.reg.add(function(event) { root.hits++ }));\n"
        "            } else {\n"
        "                made.push(root[kind].createObject(null));\n"
        "            }\n"
        "        }\n"
        "        for (const m of made) {\n"
        "            if (kind === 'connect') root.ping.disconnect(m); else m.destroy();\n"
        "        }\n"
        "    }\n"
        "}\n";
    const std::unique_ptr<QObject> root = create(qml, &source, state);
    if (!root)
        return;
    auto *reg = root->property("reg").value<rio::QmlRegistry *>();
    for (auto _ : state) {
        QMetaObject::invokeMethod(root.get(), "cycle", Q_ARG(QVariant, QString::fromStdString(kind)),
                                  Q_ARG(QVariant, count));
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    }
    if (reg->count() != 0)
        state.SkipWithError("handlers were left registered");
}

void registerAll()
{
    const int fixedIterations = qEnvironmentVariableIntValue("RIO_BENCH_ITERATIONS");
    for (const char *emitter : kEmitters)
        for (const char *kind : kKinds)
            for (const char *payload : kPayloads)
                for (int n : kHandlerCounts) {
                    if (std::string(kind) == "floor" && std::string(emitter) != "js")
                        continue; // a JavaScript loop has no C++ emitter
                    const std::string name =
                        std::string("qml/") + emitter + "/" + kind + "/" + payload + "/" + std::to_string(n);
                    const bool object = std::string(payload) == "object";
                    auto *b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State &state) {
                        benchEvents(state, emitter, kind, object, n);
                    });
                    if (fixedIterations > 0) // instruction counts: callgrind at two iteration counts
                        b->Iterations(fixedIterations);
                }
    for (const char *kind : {"connections", "connect", "handler", "add", "typed"})
        for (int count : {1000, 4000}) {
            auto *b = benchmark::RegisterBenchmark(
                (std::string("qml_scale/") + kind + "/" + std::to_string(count)).c_str(),
                [=](benchmark::State &state) { benchScale(state, kind, count); });
            b->Unit(benchmark::kMillisecond);
            if (fixedIterations > 0) // instructions per handler: the 4,000 case less the 1,000 one
                b->Iterations(fixedIterations);
        }
}

} // namespace

int main(int argc, char **argv)
{
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QCoreApplication app(argc, argv);
    g_engine = std::make_unique<QQmlEngine>();
    g_engine->addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
    rio::bench::qml::registerTypes();
    registerAll();
    const int rc = rio::bench::runBenchmarks(argc, argv);
    g_engine.reset();
    return rc;
}
