// SPDX-License-Identifier: MIT
#include <registryio/registry.h>

#include <QTest>

#include <atomic>
#include <string>
#include <vector>

class tst_Smoke : public QObject
{
    Q_OBJECT
private slots:
    void addNotifyRemove()
    {
        rio::Registry<int> registry;
        int total = 0;
        const rio::HandlerId id = registry.add([&total](const int &v) { total += v; });
        QVERIFY(id.isValid());
        QCOMPARE(registry.size(), std::size_t{1});
        registry.notify(5);
        registry.notify(7);
        QCOMPARE(total, 12);
        QVERIFY(registry.remove(id));
        QVERIFY(!registry.remove(id));
        registry.notify(100);
        QCOMPARE(total, 12);
        QVERIFY(registry.isEmpty());
    }

    void handlerWithoutArguments()
    {
        rio::Registry<std::string> registry;
        int calls = 0;
        registry.add([&calls] { ++calls; });
        registry.notify("x");
        QCOMPARE(calls, 1);
    }
};

QTEST_APPLESS_MAIN(tst_Smoke)
#include "tst_smoke.moc"
