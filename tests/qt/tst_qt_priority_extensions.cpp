// SPDX-License-Identifier: MIT
// A priority of a 128-bit integer type, which std::integral admits under the GNU dialect that
// CMake gives consumers by default (-std=gnu++20; this test is built so): a value outside int's
// range is refused whole, never narrowed first, and adds nothing.

#include <registryio/qt/qt_registry.h>
#include <registryio/qt/unix_signals.h>

#include <QTest>

#include <concepts>
#include <csignal>
#include <stdexcept>

#if defined(__SIZEOF_INT128__)
__extension__ typedef __int128 Int128;           // NOLINT(modernize-use-using): __extension__ needs it
__extension__ typedef unsigned __int128 UInt128; // NOLINT(modernize-use-using)
#endif

class tst_QtPriorityExtensions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void wideIntegersOutsideIntAreRefused()
    {
#if defined(__SIZEOF_INT128__)
        static_assert(std::integral<Int128>, "built with the GNU dialect");
        const Int128 big = static_cast<Int128>(1) << 64;
        rio::QtRegistry<int> registry;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, registry.add([](int){}, big));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, registry.addOnce([](int){}, -big));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 (void)registry.addScoped([](int){}, static_cast<UInt128>(big) + 5));
        QCOMPARE(registry.size(), std::size_t{0});
        registry.add([](int){}, static_cast<Int128>(5));
        QCOMPARE(registry.size(), std::size_t{1});

        rio::UnixSignals source;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, source.add(SIGUSR1, []{}, big));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, source.addOnce(SIGUSR1, []{}, -big));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 (void)source.addScoped(SIGUSR1, []{}, static_cast<UInt128>(big) + 5));
        QCOMPARE(source.listenerCount(SIGUSR1), std::size_t{0});
#else
        QSKIP("no 128-bit integer type");
#endif
    }
};

QTEST_GUILESS_MAIN(tst_QtPriorityExtensions)

#include "tst_qt_priority_extensions.moc"
