// SPDX-License-Identifier: MIT
// The API surface: adding with every overload, guards, counts, bad input, QDebug and metatype.
#include <registryio/qt/debug.h>
#include <registryio/qt/qt_registry.h>
#include <registryio/qt/signal_forwarding.h>

#include <QFuture>
#include <QSignalSpy>
#include <QTest>
#include <QVariant>

#include <stdexcept>
#include <string>

class Receiver : public QObject
{
    Q_OBJECT
public:
    int last = 0;
    int calls = 0;
    void onEvent(const int &value)
    {
        last = value;
        ++calls;
    }
    void onAny() { ++calls; }

Q_SIGNALS:
    void valueChanged(int value);
    void pinged();
};

struct Pair
{
    int a = 0;
    QString b;
};

class tst_QtApi : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void addNotifyRemoveAndCount()
    {
        rio::QtRegistry<int> registry;
        QSignalSpy countSpy(&registry, &rio::QtRegistryBase::countChanged);
        int sum = 0;
        const rio::HandlerId a = registry.add([&sum](const int &v) { sum += v; });
        const rio::HandlerId b = registry.add([&sum] { sum += 100; }, 5);
        QCOMPARE(registry.count(), 2);
        QCOMPARE(registry.size(), std::size_t{2});
        QCOMPARE(countSpy.count(), 2);
        QVERIFY(a.isValid() && b.isValid() && a != b);
        registry.notify(1);
        QCOMPARE(sum, 101);
        QVERIFY(registry.remove(a));
        QVERIFY(!registry.remove(a));
        QVERIFY(!registry.contains(a));
        QVERIFY(registry.contains(b));
        registry.notify(1);
        QCOMPARE(sum, 201);
        registry.clear();
        QVERIFY(registry.isEmpty());
        QCOMPARE(registry.property("count").toInt(), 0);
        QCOMPARE(countSpy.count(), 4);
    }

    void priorityOrder()
    {
        rio::QtRegistry<int> registry;
        QString order;
        registry.add([&order] { order += 'b'; }, 0);
        registry.add([&order] { order += 'a'; }, 10);
        registry.add([&order] { order += 'c'; }, 0);
        registry.add([&order] { order += 'z'; }, -3);
        registry.notify(0);
        QCOMPARE(order, QStringLiteral("abcz"));
    }

    void onceRunsOnce()
    {
        rio::QtRegistry<int> registry;
        int calls = 0;
        registry.addOnce([&calls] { ++calls; });
        registry.notify(1);
        registry.notify(2);
        QCOMPARE(calls, 1);
        QCOMPARE(registry.count(), 0);
    }

    void guardsRemove()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        int calls = 0;
        {
            rio::HandlerGuard g1 = registry.addScoped([&calls] { ++calls; });
            rio::HandlerGuard g2 =
                registry.addScoped(&context, [&calls] { ++calls; }, {.connection = Qt::DirectConnection});
            rio::HandlerGuard g3 =
                registry.addScoped(&context, [&calls] { ++calls; }, {.delivery = rio::Delivery::Latest});
            QCOMPARE(registry.count(), 3);
            registry.notify(1);
            QCOMPARE(calls, 3);
        }
        QCOMPARE(registry.count(), 0);
        registry.notify(1);
        QCOMPARE(calls, 3);
    }

    // A closure that owns a guard of the same registry: removing it through its own guard
    // destroys the closure, which removes the inner handler (no deadlock on the guard link).
    void closureOwningAGuardOfTheSameRegistry()
    {
        rio::QtRegistry<int> registry;
        auto inner = std::make_shared<rio::HandlerGuard>(registry.addScoped([] { }));
        rio::HandlerGuard outer = registry.addScoped([owned = inner] { static_cast<void>(owned); });
        inner.reset();
        QCOMPARE(registry.count(), 2);
        QVERIFY(outer.reset());
        registry.synchronize();
        QCOMPARE(registry.count(), 0);
    }

    void guardOutlivesRegistry()
    {
        rio::HandlerGuard guard;
        {
            rio::QtRegistry<int> registry;
            guard = registry.addScoped([] { });
        }
        QVERIFY(!guard.reset());
    }

    void memberFunctions()
    {
        rio::QtRegistry<int> registry;
        Receiver receiver;
        registry.add(&receiver, &Receiver::onEvent);
        registry.add(&receiver, &Receiver::onAny, {.connection = Qt::DirectConnection});
        registry.notify(7);
        QCOMPARE(receiver.last, 7);
        QCOMPARE(receiver.calls, 2);
    }

    void badInputIsRefusedAndChangesNothing()
    {
        rio::QtRegistry<int> registry;
        QObject context;
        std::function<void(const int &)> empty;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, registry.add(empty));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, registry.add(nullptr, [] { }));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, registry.add(&context, [] { },
                                                                     {.connection = Qt::DirectConnection,
                                                                      .delivery = rio::Delivery::Latest}));
        QVERIFY_THROWS_EXCEPTION(
            std::invalid_argument,
            registry.add(&context, [] { },
                         {.connection = Qt::BlockingQueuedConnection, .delivery = rio::Delivery::Latest}));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 registry.add(&context, [] { }, {.connection = Qt::UniqueConnection}));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, registry.setExceptionHandler({}));
        // A priority of a wider integer type beyond int's range is refused, never truncated.
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, registry.add([] { }, 1LL << 40));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, registry.addOnce([] { }, -(1LL << 40)));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, (void)registry.addScoped([] { }, 3'000'000'000U));
        QCOMPARE(registry.count(), 0);
        QVERIFY(!registry.remove(rio::HandlerId{}));
        QVERIFY(!registry.removeAndWait(rio::HandlerId{12345}));
    }

    // A priority of any integer type in int's range: bool and the character types included.
    void priorityOfAnyIntegerType()
    {
        rio::QtRegistry<int> registry;
        QString order;
        registry.add([&] { order += u'b'; }, true);
        registry.add([&] { order += u'c'; }, 'c');
        registry.add([&] { order += u'u'; }, U'u');
        registry.addOnce([&] { order += u'n'; }, -3LL);
        const rio::HandlerGuard guard = registry.addScoped([&] { order += u'z'; }, std::size_t{0});
        registry.notify(1);
        QCOMPARE(order, QStringLiteral("ucbzn"));
    }

    void contextDeathRemoves()
    {
        rio::QtRegistry<int> registry;
        auto *context = new QObject;
        int calls = 0;
        registry.add(context, [&calls] { ++calls; });
        QCOMPARE(registry.count(), 1);
        delete context;
        QCOMPARE(registry.count(), 0);
        registry.notify(1);
        QCOMPARE(calls, 0);
    }

    void registryAsContextOfItsOwnHandler()
    {
        auto *registry = new rio::QtRegistry<int>;
        registry->add(registry, [] { });
        delete registry; // must not touch the registry after its typed half is gone
        QVERIFY(true);
    }

    void debugOutput()
    {
        QString text;
        QDebug(&text) << rio::HandlerId{42} << rio::HandlerId{};
        QCOMPARE(text.trimmed(), QStringLiteral("rio::HandlerId(42) rio::HandlerId(invalid)"));
        text.clear();
        QDebug(&text) << rio::ExceptionInfo{rio::HandlerId{3}, "boom", {}};
        QCOMPARE(text.trimmed(), QStringLiteral("rio::ExceptionInfo(rio::HandlerId(3), \"boom\")"));
    }

    void handlerIdInQVariant()
    {
        const QVariant v = QVariant::fromValue(rio::HandlerId{9});
        QVERIFY(v.canConvert<rio::HandlerId>());
        QCOMPARE(v.value<rio::HandlerId>(), rio::HandlerId{9});
        QVERIFY(QMetaType::fromName("rio::HandlerId").isValid());
        QCOMPARE(QVariant::fromValue(rio::HandlerId{9}), QVariant::fromValue(rio::HandlerId{9}));
    }

    void forwardSignals()
    {
        rio::QtRegistry<int> ints;
        rio::QtRegistry<Pair> pairs;
        Receiver sender;
        int got = 0;
        QString text;
        ints.add([&got](const int &v) { got = v; });
        pairs.add([&text](const Pair &p) { text = p.b + QString::number(p.a); });
        const QMetaObject::Connection c1 = rio::forward(&sender, &Receiver::valueChanged, ints);
        const QMetaObject::Connection c2 = rio::forward(
            &sender, &Receiver::valueChanged, pairs, [](int v) { return Pair{v * 2, QStringLiteral("x")}; });
        QVERIFY(c1);
        QVERIFY(c2);
        Q_EMIT sender.valueChanged(21);
        QCOMPARE(got, 21);
        QCOMPARE(text, QStringLiteral("x42"));
        QObject::disconnect(c1);
        Q_EMIT sender.valueChanged(1);
        QCOMPARE(got, 21);

        rio::QtRegistry<int> pings;
        int pinged = 0;
        pings.add([&pinged] { ++pinged; });
        rio::forward(&sender, &Receiver::pinged, pings);
        Q_EMIT sender.pinged();
        QCOMPARE(pinged, 1);
        const Receiver *none = nullptr;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, rio::forward(none, &Receiver::pinged, pings));
    }

    void forwardDisconnectsWhenRegistryDies()
    {
        Receiver sender;
        QMetaObject::Connection c;
        {
            rio::QtRegistry<int> registry;
            c = rio::forward(&sender, &Receiver::valueChanged, registry);
        }
        Q_EMIT sender.valueChanged(1); // must not reach the dead registry
        QVERIFY(!QObject::disconnect(c));
    }
};

QTEST_GUILESS_MAIN(tst_QtApi)
#include "tst_qt_api.moc"
