// SPDX-License-Identifier: MIT
// Throwing handlers: isolated from their siblings and the caller, reported to the callback.
#include <registryio/registry.h>

#include <QTest>

#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

struct NotAStdException
{
    int code;
};

struct Report
{
    rio::HandlerId id;
    std::string message;
    std::exception_ptr exception;
};

} // namespace

class tst_Exceptions : public QObject
{
    Q_OBJECT
private slots:
    void notifyLetsNoHandlerExceptionEscape()
    {
        rio::Registry<int> registry;
        int after = 0;
        registry.add([] { throw std::runtime_error("first"); }, 2);
        registry.add([] { throw 42; }, 1);
        registry.add([&after] { ++after; });
        bool escaped = false;
        try {
            registry.notify(0);
        } catch (...) {
            escaped = true;
        }
        QVERIFY(!escaped);
        QCOMPARE(after, 1);
    }

    void stdExceptionIsReportedWithIdMessageAndPointer()
    {
        rio::Registry<int> registry;
        std::vector<Report> reports;
        registry.setExceptionHandler([&reports](const rio::ExceptionInfo &info) {
            reports.push_back({info.handlerId, info.message, info.exception});
        });
        std::vector<std::string> calls;
        registry.add([&calls] { calls.push_back("before"); }, 1);
        const rio::HandlerId thrower = registry.add([&calls](const int &v) {
            calls.push_back("thrower");
            throw std::out_of_range("value " + std::to_string(v));
        });
        registry.add([&calls] { calls.push_back("after"); }, -1);

        registry.notify(42); // noexcept: an escaping exception would terminate the test

        QCOMPARE(calls, (std::vector<std::string>{"before", "thrower", "after"}));
        QCOMPARE(reports.size(), std::size_t{1});
        QCOMPARE(reports[0].id, thrower);
        QCOMPARE(reports[0].message, std::string("value 42"));
        QVERIFY(reports[0].exception != nullptr);
        bool caughtRightType = false;
        try {
            std::rethrow_exception(reports[0].exception);
        } catch (const std::out_of_range &e) {
            caughtRightType = std::string(e.what()) == "value 42";
        } catch (...) {
        }
        QVERIFY(caughtRightType);
        QVERIFY(registry.contains(thrower)); // a throwing handler stays registered
    }

    void derivedStdExceptionKeepsItsDynamicType()
    {
        rio::Registry<int> registry;
        std::exception_ptr seen;
        std::string message;
        registry.setExceptionHandler([&](const rio::ExceptionInfo &info) {
            seen = info.exception;
            message = info.message;
        });
        registry.add([] { throw std::system_error(std::make_error_code(std::errc::invalid_argument)); });
        registry.notify(0);
        QVERIFY(!message.empty());
        int code = 0;
        try {
            std::rethrow_exception(seen);
        } catch (const std::system_error &e) {
            code = e.code().value();
        } catch (...) {
        }
        QCOMPARE(code, int(std::errc::invalid_argument));
    }

    void nonStdThrowsHaveAnEmptyMessage()
    {
        rio::Registry<int> registry;
        std::vector<Report> reports;
        registry.setExceptionHandler([&reports](const rio::ExceptionInfo &info) {
            reports.push_back({info.handlerId, info.message, info.exception});
        });
        const rio::HandlerId throwsInt = registry.add([] { throw 7; }, 3);
        const rio::HandlerId throwsStruct = registry.add([] { throw NotAStdException{99}; }, 2);
        const rio::HandlerId throwsCString = registry.add([] { throw "text"; }, 1);
        int reached = 0;
        registry.add([&reached] { ++reached; }, 0);
        registry.notify(0);

        QCOMPARE(reached, 1);
        QCOMPARE(reports.size(), std::size_t{3});
        QCOMPARE(reports[0].id, throwsInt);
        QCOMPARE(reports[1].id, throwsStruct);
        QCOMPARE(reports[2].id, throwsCString);
        for (const Report &r : reports) {
            QVERIFY(r.message.empty());
            QVERIFY(r.exception != nullptr);
        }
        int intValue = 0;
        try {
            std::rethrow_exception(reports[0].exception);
        } catch (int v) {
            intValue = v;
        } catch (...) {
        }
        QCOMPARE(intValue, 7);
        int structCode = 0;
        try {
            std::rethrow_exception(reports[1].exception);
        } catch (const NotAStdException &e) {
            structCode = e.code;
        } catch (...) {
        }
        QCOMPARE(structCode, 99);
        std::string cString;
        try {
            std::rethrow_exception(reports[2].exception);
        } catch (const char *s) {
            cString = s;
        } catch (...) {
        }
        QCOMPARE(cString, std::string("text"));
    }

    void siblingsRunWhenSeveralThrow()
    {
        rio::Registry<int> registry;
        std::vector<rio::HandlerId> reported;
        registry.setExceptionHandler(
            [&reported](const rio::ExceptionInfo &info) { reported.push_back(info.handlerId); });
        std::vector<int> calls;
        std::vector<rio::HandlerId> throwers;
        for (int i = 0; i < 10; ++i) {
            const rio::HandlerId id = registry.add([&calls, i] {
                calls.push_back(i);
                if (i % 3 == 0)
                    throw std::runtime_error("fails");
            });
            if (i % 3 == 0)
                throwers.push_back(id);
        }
        registry.notify(0);
        registry.notify(1);
        QCOMPARE(calls, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
        std::vector<rio::HandlerId> expected = throwers;
        expected.insert(expected.end(), throwers.begin(), throwers.end());
        QCOMPARE(reported, expected);
    }

    void withoutCallbackFailuresAreSilentlyIsolated()
    {
        rio::Registry<int> registry;
        int reached = 0;
        registry.add([] { throw std::runtime_error("nobody listens"); }, 1);
        registry.add([] { throw 1; }, 1);
        registry.add([&reached] { ++reached; });
        registry.notify(0);
        registry.notify(0);
        QCOMPARE(reached, 2);
    }

    void callbackReplacedAndCleared()
    {
        rio::Registry<int> registry;
        int first = 0;
        int second = 0;
        int reached = 0;
        registry.add([] { throw std::logic_error("x"); });
        registry.add([&reached] { ++reached; });

        registry.setExceptionHandler([&first](const rio::ExceptionInfo &) { ++first; });
        registry.notify(0);
        QCOMPARE(first, 1);

        registry.setExceptionHandler([&second](const rio::ExceptionInfo &) { ++second; });
        registry.notify(0);
        QCOMPARE(first, 1);
        QCOMPARE(second, 1);

        registry.clearExceptionHandler();
        registry.notify(0);
        QCOMPARE(first, 1);
        QCOMPARE(second, 1);
        QCOMPARE(reached, 3);

        registry.clearExceptionHandler(); // clearing twice is harmless
        registry.setExceptionHandler([&first](const rio::ExceptionInfo &) { ++first; });
        registry.notify(0);
        QCOMPARE(first, 2);
        QCOMPARE(second, 1);
    }

    void callbackThatThrowsIsSwallowed()
    {
        rio::Registry<int> registry;
        int callbackCalls = 0;
        registry.setExceptionHandler([&callbackCalls](const rio::ExceptionInfo &info) {
            ++callbackCalls;
            if (info.message == "std")
                throw std::runtime_error("callback fails too");
            throw 5;
        });
        std::vector<std::string> calls;
        registry.add([&calls] {
            calls.push_back("a");
            throw std::runtime_error("std");
        });
        registry.add([&calls] {
            calls.push_back("b");
            throw 'c';
        });
        registry.add([&calls] { calls.push_back("c"); });
        registry.notify(0);
        QCOMPARE(callbackCalls, 2);
        QCOMPARE(calls, (std::vector<std::string>{"a", "b", "c"}));
    }

    void throwingOnceHandlerIsReportedAndRemoved()
    {
        rio::Registry<int> registry;
        std::vector<rio::HandlerId> reported;
        registry.setExceptionHandler(
            [&reported](const rio::ExceptionInfo &info) { reported.push_back(info.handlerId); });
        int calls = 0;
        const rio::HandlerId once = registry.addOnce([&calls] {
            ++calls;
            throw std::runtime_error("once");
        });
        registry.notify(0);
        registry.notify(0);
        QCOMPARE(calls, 1);
        QCOMPARE(reported, std::vector<rio::HandlerId>{once});
        QVERIFY(!registry.contains(once));
    }

    // The callback may itself use the registry: notify it recursively or remove the culprit.
    void callbackRemovesTheThrowingHandler()
    {
        rio::Registry<int> registry;
        registry.setExceptionHandler(
            [&registry](const rio::ExceptionInfo &info) { QVERIFY(registry.remove(info.handlerId)); });
        int calls = 0;
        const rio::HandlerId thrower = registry.add([&calls] {
            ++calls;
            throw std::runtime_error("remove me");
        });
        registry.notify(0);
        registry.notify(0);
        QCOMPARE(calls, 1);
        QVERIFY(!registry.contains(thrower));
    }

    void eachRegistryHasItsOwnCallback()
    {
        rio::Registry<int> a;
        rio::Registry<int> b;
        int fromA = 0;
        int fromB = 0;
        a.setExceptionHandler([&fromA](const rio::ExceptionInfo &) { ++fromA; });
        b.setExceptionHandler([&fromB](const rio::ExceptionInfo &) { ++fromB; });
        a.add([] { throw 1; });
        a.notify(0);
        QCOMPARE(fromA, 1);
        QCOMPARE(fromB, 0);
    }
};

QTEST_APPLESS_MAIN(tst_Exceptions)
#include "tst_exceptions.moc"
