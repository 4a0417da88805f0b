// SPDX-License-Identifier: MIT
// Diagnostics switched on for the whole process before the first registry, by RIO_DIAGNOSTICS=1
// or by the logging rule registryio.diagnostics.debug=true (this test runs once with each; run
// without either it checks that diagnostics stay off): every registry's handlers are timed.
// Before the application object exists, the main thread runs a core registry's handler (timed
// with RIO_DIAGNOSTICS=1): the thread still counts as the main thread once the object exists.
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>
#include <registryio/registry.h>

#include <QTest>

#include <chrono>
#include <cstdlib>

class tst_DiagnosticsEnv : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void switchedOnBeforeTheFirstRegistry()
    {
        const bool env = qEnvironmentVariableIsSet("RIO_DIAGNOSTICS");
        const bool rules =
            qEnvironmentVariable("QT_LOGGING_RULES").contains(QStringLiteral("registryio.diagnostics"));
        const bool expected = env || rules;
        rio::QtRegistry<int> registry;
        QCOMPARE(registry.isDiagnosticsEnabled(), expected);
        QCOMPARE(rio::Diagnostics::isEnabled(), expected);
        const rio::HandlerId id = registry.add([] { });
        registry.notify(1);
        const rio::RegistryInfo info = rio::Diagnostics::snapshot(registry.registryId());
        QCOMPARE(info.handlers.size(), 1);
        QCOMPARE(info.handlers.front().id, id);
        QCOMPARE(info.handlers.front().timed, expected);
        QCOMPARE(info.handlers.front().calls, quint64{expected ? 1u : 0u});
    }

    // The main thread's threshold (16 ms by default) applies to a 40 ms run, whatever ran on the
    // thread before the application object existed.
    void theMainThreadIsTheMainThreadFromItsFirstTimedRun()
    {
        const bool expected = rio::Diagnostics::isEnabled();
        rio::QtRegistry<int> registry;
        const rio::HandlerId id = registry.add([] {
            const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(40);
            while (std::chrono::steady_clock::now() < until) {
            }
        });
        registry.notify(1);
        const rio::RegistryInfo info = rio::Diagnostics::snapshot(registry.registryId());
        QCOMPARE(info.handlers.size(), 1);
        QCOMPARE(info.handlers.front().slowRuns, quint64{expected ? 1u : 0u});
        if (!expected)
            return;
        const QList<rio::SlowHandlerReport> runs = rio::Diagnostics::recentSlowRuns();
        QVERIFY(!runs.isEmpty());
        QCOMPARE(runs.back().handler.id, id);
        QCOMPARE(runs.back().threadName, QStringLiteral("main"));
    }
};

int main(int argc, char *argv[])
{
    {
        rio::Registry<int> early; // the main thread's first timed run, with no application yet
        early.add([](int) { });
        early.notify(1);
        rio::QtRegistry<int> earlyQt; // and its first add to a QtRegistry, which names it
        earlyQt.add([](int) { });
        earlyQt.notify(1);
    }
    QCoreApplication app(argc, argv);
    tst_DiagnosticsEnv test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}
#include "tst_diagnostics_env.moc"
