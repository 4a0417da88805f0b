// SPDX-License-Identifier: MIT
// Diagnostics switched on for the whole process before the first registry, by RIO_DIAGNOSTICS=1
// or by the logging rule registryio.diagnostics.debug=true (this test runs once with each; run
// without either it checks that diagnostics stay off): every registry's handlers are timed.
#include <registryio/qt/diagnostics.h>
#include <registryio/qt/qt_registry.h>

#include <QTest>

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
};

QTEST_GUILESS_MAIN(tst_DiagnosticsEnv)
#include "tst_diagnostics_env.moc"
