// SPDX-License-Identifier: MIT
// A plugin registers queued handlers, deliveries to them wait in a receiving thread's mailbox
// and event queue, and the plugin follows the unload rule (removeAndWait, synchronize) before
// the host unloads it: the library is unmapped, and the host's later drains, notifies and the
// registry's destruction never call into it.
#include "qt_test_support.h"

#include <registryio/qt/qt_registry.h>

#include <QFile>
#include <QTest>

#include <dlfcn.h>

#include <atomic>

#ifndef RIO_QT_TEST_PLUGIN_PATH
#error "RIO_QT_TEST_PLUGIN_PATH must name the test plugin"
#endif

namespace {

// Whether the plugin's file is mapped into this process.
bool pluginMapped()
{
    QFile maps(QStringLiteral("/proc/self/maps"));
    if (!maps.open(QIODevice::ReadOnly))
        return true;
    return maps.readAll().contains(QByteArrayLiteral(RIO_QT_TEST_PLUGIN_PATH));
}

} // namespace

class tst_QtPluginUnload : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void unloadedPluginIsNeverCalled()
    {
        riotest::Worker worker;
        auto registry = std::make_unique<rio::QtRegistry<int>>();
        std::atomic<int> hostCalls{0};
        registry->add(worker.context, [&](const int &) { ++hostCalls; },
                      {.connection = Qt::QueuedConnection});
        std::atomic<int> pluginCalls{0};
        rio::HandlerId ids[2];
        QVERIFY(!pluginMapped());
        void *plugin = dlopen(RIO_QT_TEST_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
        QVERIFY2(plugin != nullptr, dlerror());
        using Attach = void (*)(rio::QtRegistry<int> *, QObject *, std::atomic<int> *, rio::HandlerId *);
        using Detach = void (*)(rio::QtRegistry<int> *, const rio::HandlerId *);
        auto attach = reinterpret_cast<Attach>(dlsym(plugin, "rio_qt_plugin_attach"));
        auto detach = reinterpret_cast<Detach>(dlsym(plugin, "rio_qt_plugin_detach"));
        QVERIFY(attach != nullptr && detach != nullptr);
        attach(registry.get(), worker.context, &pluginCalls, ids);
        registry->notify(1);
        worker.flush();
        QCOMPARE(pluginCalls.load(), 2);
        {
            // Deliveries wait: the mailbox lists the plugin's handler, a coalesced event is posted.
            auto gate = worker.block();
            for (int i = 0; i < 10; ++i)
                registry->notify(i);
            detach(registry.get(), ids);
            QCOMPARE(dlclose(plugin), 0);
            QVERIFY2(!pluginMapped(), "the plugin is still mapped after dlclose");
            gate->count_down();
        }
        worker.flush();
        worker.flush();
        QCOMPARE(pluginCalls.load(), 2);
        for (int i = 0; i < 10; ++i)
            registry->notify(i);
        worker.flush();
        registry.reset();
        worker.flush();
        QCOMPARE(pluginCalls.load(), 2);
        QVERIFY(hostCalls.load() >= 3);
    }
};

QTEST_GUILESS_MAIN(tst_QtPluginUnload)
#include "tst_qt_plugin_unload.moc"
