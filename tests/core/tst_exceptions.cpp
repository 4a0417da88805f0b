// SPDX-License-Identifier: MIT
// Throwing handlers: isolated from their siblings and the caller, reported to the callback.
#include "rio_check.h"
#include <registryio/registry.h>

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

RIO_TEST(notifyLetsNoHandlerExceptionEscape)
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
    CHECK(!escaped);
    CHECK_EQ(after, 1);
}

RIO_TEST(stdExceptionIsReportedWithIdMessageAndPointer)
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

    CHECK_EQ(calls, (std::vector<std::string>{"before", "thrower", "after"}));
    CHECK_EQ(reports.size(), std::size_t{1});
    CHECK_EQ(reports[0].id, thrower);
    CHECK_EQ(reports[0].message, std::string("value 42"));
    CHECK(reports[0].exception != nullptr);
    bool caughtRightType = false;
    try {
        std::rethrow_exception(reports[0].exception);
    } catch (const std::out_of_range &e) {
        caughtRightType = std::string(e.what()) == "value 42";
    } catch (...) {
    }
    CHECK(caughtRightType);
    CHECK(registry.contains(thrower)); // a throwing handler stays registered
}

RIO_TEST(derivedStdExceptionKeepsItsDynamicType)
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
    CHECK(!message.empty());
    int code = 0;
    try {
        std::rethrow_exception(seen);
    } catch (const std::system_error &e) {
        code = e.code().value();
    } catch (...) {
    }
    CHECK_EQ(code, int(std::errc::invalid_argument));
}

RIO_TEST(nonStdThrowsHaveAnEmptyMessage)
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

    CHECK_EQ(reached, 1);
    CHECK_EQ(reports.size(), std::size_t{3});
    CHECK_EQ(reports[0].id, throwsInt);
    CHECK_EQ(reports[1].id, throwsStruct);
    CHECK_EQ(reports[2].id, throwsCString);
    for (const Report &r : reports) {
        CHECK(r.message.empty());
        CHECK(r.exception != nullptr);
    }
    int intValue = 0;
    try {
        std::rethrow_exception(reports[0].exception);
    } catch (int v) {
        intValue = v;
    } catch (...) {
    }
    CHECK_EQ(intValue, 7);
    int structCode = 0;
    try {
        std::rethrow_exception(reports[1].exception);
    } catch (const NotAStdException &e) {
        structCode = e.code;
    } catch (...) {
    }
    CHECK_EQ(structCode, 99);
    std::string cString;
    try {
        std::rethrow_exception(reports[2].exception);
    } catch (const char *s) {
        cString = s;
    } catch (...) {
    }
    CHECK_EQ(cString, std::string("text"));
}

RIO_TEST(siblingsRunWhenSeveralThrow)
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
    CHECK_EQ(calls, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    std::vector<rio::HandlerId> expected = throwers;
    expected.insert(expected.end(), throwers.begin(), throwers.end());
    CHECK_EQ(reported, expected);
}

RIO_TEST(withoutCallbackFailuresAreSilentlyIsolated)
{
    rio::Registry<int> registry;
    int reached = 0;
    registry.add([] { throw std::runtime_error("nobody listens"); }, 1);
    registry.add([] { throw 1; }, 1);
    registry.add([&reached] { ++reached; });
    registry.notify(0);
    registry.notify(0);
    CHECK_EQ(reached, 2);
}

RIO_TEST(callbackReplacedAndCleared)
{
    rio::Registry<int> registry;
    int first = 0;
    int second = 0;
    int reached = 0;
    registry.add([] { throw std::logic_error("x"); });
    registry.add([&reached] { ++reached; });

    registry.setExceptionHandler([&first](const rio::ExceptionInfo &) { ++first; });
    registry.notify(0);
    CHECK_EQ(first, 1);

    registry.setExceptionHandler([&second](const rio::ExceptionInfo &) { ++second; });
    registry.notify(0);
    CHECK_EQ(first, 1);
    CHECK_EQ(second, 1);

    registry.clearExceptionHandler();
    registry.notify(0);
    CHECK_EQ(first, 1);
    CHECK_EQ(second, 1);
    CHECK_EQ(reached, 3);

    registry.clearExceptionHandler(); // clearing twice is harmless
    registry.setExceptionHandler([&first](const rio::ExceptionInfo &) { ++first; });
    registry.notify(0);
    CHECK_EQ(first, 2);
    CHECK_EQ(second, 1);
}

RIO_TEST(callbackThatThrowsIsSwallowed)
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
    CHECK_EQ(callbackCalls, 2);
    CHECK_EQ(calls, (std::vector<std::string>{"a", "b", "c"}));
}

RIO_TEST(throwingOnceHandlerIsReportedAndRemoved)
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
    CHECK_EQ(calls, 1);
    CHECK_EQ(reported, std::vector<rio::HandlerId>{once});
    CHECK(!registry.contains(once));
}

// The callback may itself use the registry: notify it recursively or remove the culprit.
RIO_TEST(callbackRemovesTheThrowingHandler)
{
    rio::Registry<int> registry;
    registry.setExceptionHandler(
        [&registry](const rio::ExceptionInfo &info) { CHECK(registry.remove(info.handlerId)); });
    int calls = 0;
    const rio::HandlerId thrower = registry.add([&calls] {
        ++calls;
        throw std::runtime_error("remove me");
    });
    registry.notify(0);
    registry.notify(0);
    CHECK_EQ(calls, 1);
    CHECK(!registry.contains(thrower));
}

RIO_TEST(eachRegistryHasItsOwnCallback)
{
    rio::Registry<int> a;
    rio::Registry<int> b;
    int fromA = 0;
    int fromB = 0;
    a.setExceptionHandler([&fromA](const rio::ExceptionInfo &) { ++fromA; });
    b.setExceptionHandler([&fromB](const rio::ExceptionInfo &) { ++fromB; });
    a.add([] { throw 1; });
    a.notify(0);
    CHECK_EQ(fromA, 1);
    CHECK_EQ(fromB, 0);
}
