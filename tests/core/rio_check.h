// SPDX-License-Identifier: MIT
#pragma once

// The test harness of the Qt-free core: std:: only, so that the whole core suite builds with
// libc++ (clang -stdlib=libc++) and MinGW-w64 and runs under wine, where Qt Test is not available.
//
//   RIO_TEST(name) { CHECK(cond); CHECK_EQ(a, b); }
//   RIO_TEST_DATA(name, Row, row, {"tag", Row{...}}, ...) { ... row ... }   one case per row
//   RIO_BEFORE_EACH() { ... }                                                 runs before every case
//
// Checks: CHECK(cond), CHECK_EQ(actual, expected) (prints both values), CHECK_MSG(cond, message),
// CHECK_THROWS(Exception, expression), SKIP(reason), EXPECT_FAIL(reason) (the next check of this
// thread is expected to fail: it then does not fail the case, and passing fails it).
//
// A failed check prints `FAIL <case>: <file>:<line>: <what>` at once and throws, which ends the
// case. The failure is recorded first, so it counts even when the throw is caught by code under
// test (a check inside a handler, whose exception the registry isolates); a failed check on a
// thread of the test's own ends the process (the exception leaves the thread), after printing.
//
// rio_check_main.cpp runs every case in registration order, or those named on the command line
// (`name` runs all rows of a data test, `name:tag` one row; `--list` prints the names), with a
// watchdog: a case that runs longer than its time limit (200 s, or RIO_TEST_TIMEOUT seconds)
// prints a FAIL line and ends the process. It prints one PASS, FAIL or SKIP line per case and
// closes with `<executable>: N passed, M failed, K skipped`; the exit code is 0 only when nothing
// failed and something ran.

#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <ostream>
#include <ranges>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace rio::check {

/// A registered test case (one row of a data test is a case of its own).
struct Case
{
    std::string name; ///< the test function's name
    std::string tag;  ///< the data row's tag, empty for a plain test
    std::function<void()> run;
    /// `name`, or `name:tag` for a data row.
    std::string fullName() const { return tag.empty() ? name : name + ':' + tag; }
};

/// Every case of this executable, in registration order.
inline std::vector<Case> &cases()
{
    static std::vector<Case> all;
    return all;
}

/// Runs before every case (RIO_BEFORE_EACH); checks in it fail the case.
inline void (*&beforeEach())()
{
    static void (*hook)() = nullptr;
    return hook;
}

/// Registers a case at static initialisation.
struct Registrar
{
    Registrar(const char *name, void (*run)()) { cases().push_back({name, {}, run}); }
};

/// One data row: its tag (printed with the case, and selectable as `name:tag`) and its value.
template <typename T>
struct Row
{
    std::string tag;
    T value;
};

/// Registers one case per row of a data test at static initialisation.
template <typename T>
struct DataRegistrar
{
    DataRegistrar(const char *name, void (*run)(const T &), std::vector<Row<T>> rows)
    {
        for (Row<T> &row : rows)
            cases().push_back({name, row.tag, [run, value = std::move(row.value)] { run(value); }});
    }
};

/// Registers the RIO_BEFORE_EACH hook.
struct BeforeEachRegistrar
{
    explicit BeforeEachRegistrar(void (*hook)()) { beforeEach() = hook; }
};

// --- Reporting ---------------------------------------------------------------------------------

/// The state of the case that runs now, shared by every thread of the test.
struct Current
{
    std::mutex outputMutex;
    std::string name;             ///< full name of the running case (set before it starts)
    std::atomic<int> failures{0}; ///< failed checks of the running case, on any thread
};

inline Current &current()
{
    static Current state;
    return state;
}

/// Prints one line `<kind> <case>: <text>` (whole, even from several threads).
inline void printLine(const char *kind, const std::string &text)
{
    Current &c = current();
    std::lock_guard lock(c.outputMutex);
    std::printf("%s %s: %s\n", kind, c.name.c_str(), text.c_str());
    std::fflush(stdout);
}

/// Prints an informational line for the running case (what Qt Test's qDebug showed).
template <typename... Args>
void note(const Args &...args)
{
    std::ostringstream s;
    (s << ... << args);
    printLine("INFO", s.str());
}

/// Thrown by a failed check: ends the case (already recorded and printed).
struct Failure
{
    std::string what;
};

/// Thrown by SKIP: ends the case as skipped.
struct Skip
{
    std::string reason;
};

/// The reason of a pending EXPECT_FAIL on this thread, empty when none.
inline std::string &expectedFailure()
{
    static thread_local std::string reason;
    return reason;
}

inline std::string where(const char *file, int line)
{
    std::ostringstream s;
    s << file << ':' << line << ": ";
    return s.str();
}

/// Records and prints a failure of the running case, then throws Failure.
[[noreturn]] inline void fail(const char *file, int line, const std::string &what)
{
    current().failures.fetch_add(1);
    std::string text = where(file, line) + what;
    printLine("FAIL", text);
    throw Failure{std::move(text)};
}

/// The verdict of one check: passes, fails, or applies a pending EXPECT_FAIL. `describe` builds
/// the failure text only when it is needed.
template <typename Describe>
void verdict(bool ok, const char *file, int line, Describe &&describe)
{
    std::string expected = std::exchange(expectedFailure(), std::string());
    if (expected.empty()) {
        if (!ok)
            fail(file, line, describe());
        return;
    }
    if (ok)
        fail(file, line, "passed, but was expected to fail: " + expected);
    printLine("XFAIL", where(file, line) + describe() + " (expected: " + expected + ")");
}

/// Marks the next check on this thread as expected to fail, for `reason`.
inline void expectFail(std::string reason)
{
    expectedFailure() = reason.empty() ? std::string("(no reason given)") : std::move(reason);
}

/// Ends the case as skipped, for `reason`.
[[noreturn]] inline void skip(std::string reason)
{
    throw Skip{std::move(reason)};
}

// --- Printing values ---------------------------------------------------------------------------

template <typename T>
void describeTo(std::ostream &out, const T &value);

template <typename T>
concept Streamable = requires(std::ostream &out, const T &value) { out << value; };

template <typename T>
concept HasIntegralValue = requires(const T &value) {
    { value.value() } -> std::integral;
};

template <typename T>
void describeTo(std::ostream &out, const T &value)
{
    if constexpr (std::is_same_v<T, std::nullptr_t>) {
        out << "nullptr";
    } else if constexpr (std::is_same_v<T, bool>) {
        out << (value ? "true" : "false");
    } else if constexpr (std::is_same_v<T, char> || std::is_same_v<T, signed char> ||
                         std::is_same_v<T, unsigned char>) {
        out << '\'' << value << "' (" << int(value) << ')';
    } else if constexpr (std::is_convertible_v<const T &, std::string_view>) {
        out << '"' << std::string_view(value) << '"';
    } else if constexpr (std::is_enum_v<T>) {
        out << static_cast<long long>(static_cast<std::underlying_type_t<T>>(value));
    } else if constexpr (Streamable<T>) {
        out << value;
    } else if constexpr (HasIntegralValue<T>) {
        out << value.value();
    } else if constexpr (std::ranges::input_range<const T>) {
        out << '{';
        bool first = true;
        for (const auto &element : value) {
            out << (first ? "" : ", ");
            describeTo(out, element);
            first = false;
        }
        out << '}';
    } else {
        out << "(a value that cannot be printed)";
    }
}

/// `value` as CHECK_EQ prints it.
template <typename T>
std::string describe(const T &value)
{
    std::ostringstream s;
    describeTo(s, value);
    return s.str();
}

template <typename A, typename B>
void checkEqual(const A &a, const B &b, const char *aText, const char *bText, const char *file, int line)
{
    verdict(a == b, file, line, [&] {
        return std::string("CHECK_EQ(") + aText + ", " + bText + "): " + describe(a) + " != " + describe(b);
    });
}

// --- Threads -----------------------------------------------------------------------------------

/// std::latch's interface on a mutex and a condition variable. Not std::latch: MinGW-w64's
/// libstdc++ 12 (Debian 12) implements its wait with an atomic wait that never wakes under wine
/// (a two-thread ping-pong hangs on the first round), which would hang every test using it.
class Latch
{
public:
    explicit Latch(std::ptrdiff_t count) : m_count(count) { }
    Latch(const Latch &) = delete;
    Latch &operator=(const Latch &) = delete;

    void count_down(std::ptrdiff_t n = 1)
    {
        std::lock_guard lock(m_mutex);
        m_count -= n;
        if (m_count <= 0)
            m_zero.notify_all();
    }
    void wait()
    {
        std::unique_lock lock(m_mutex);
        m_zero.wait(lock, [this] { return m_count <= 0; });
    }
    void arrive_and_wait(std::ptrdiff_t n = 1)
    {
        count_down(n);
        wait();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_zero;
    std::ptrdiff_t m_count;
};

/// std::barrier's arrive_and_wait on a mutex and a condition variable (see Latch for why).
class Barrier
{
public:
    explicit Barrier(std::ptrdiff_t count) : m_count(count), m_left(count) { }
    Barrier(const Barrier &) = delete;
    Barrier &operator=(const Barrier &) = delete;

    /// Waits until all `count` threads arrived in this phase; then the next phase begins.
    void arrive_and_wait()
    {
        std::unique_lock lock(m_mutex);
        const std::size_t phase = m_phase;
        if (--m_left == 0) {
            m_left = m_count;
            ++m_phase;
            m_next.notify_all();
            return;
        }
        m_next.wait(lock, [&] { return m_phase != phase; });
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_next;
    const std::ptrdiff_t m_count;
    std::ptrdiff_t m_left;
    std::size_t m_phase = 0;
};

/// Polls `condition` until it holds or `timeout` passes (bounded polling, never a sleep as
/// synchronisation); returns whether it held. For CHECK(waitUntil(...)) where Qt Test had QTRY_*.
template <typename Condition>
bool waitUntil(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(20))
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline)
            return condition();
        std::this_thread::yield();
    }
    return true;
}

/// The hang guard: waits for `f` at most `seconds`; on a hang prints a FAIL line naming `what`
/// and ends the process with status 3 (threads blocked forever on stack objects can be neither
/// joined nor left behind by returning).
template <typename T>
T getOrDie(std::future<T> &f, int seconds, const char *what)
{
    if (f.wait_for(std::chrono::seconds(seconds)) != std::future_status::ready) {
        current().failures.fetch_add(1);
        printLine("FAIL", "hung for " + std::to_string(seconds) + " s: " + what);
        std::_Exit(3);
    }
    return f.get();
}

} // namespace rio::check

#define RIO_CHECK_CAT2(a, b) a##b
#define RIO_CHECK_CAT(a, b) RIO_CHECK_CAT2(a, b)

/// Defines and registers a test case.
#define RIO_TEST(name)                                                                                       \
    static void name();                                                                                      \
    static const ::rio::check::Registrar RIO_CHECK_CAT(name, _registrar){#name, &name};                      \
    static void name()

/// Defines a test run once per data row: `param` (a `const Type &`) is the row's value. The rows
/// follow as `{"tag", value}` items, or as one expression of type std::vector<Row<Type>>.
#define RIO_TEST_DATA(name, Type, param, ...)                                                                \
    static void name(const Type &param);                                                                     \
    static const ::rio::check::DataRegistrar<Type> RIO_CHECK_CAT(name, _registrar){                          \
        #name, &name, std::vector<::rio::check::Row<Type>>{__VA_ARGS__}};                                    \
    static void name(const Type &param)

/// Defines the hook that runs before every case of this executable.
#define RIO_BEFORE_EACH()                                                                                    \
    static void rioBeforeEach();                                                                             \
    static const ::rio::check::BeforeEachRegistrar rioBeforeEachRegistrar{&rioBeforeEach};                   \
    static void rioBeforeEach()

/// Fails the case unless `cond` holds.
#define CHECK(cond)                                                                                          \
    ::rio::check::verdict(static_cast<bool>(cond), __FILE__, __LINE__, [] { return "CHECK(" #cond ")"; })

/// Fails the case unless `cond` holds; prints `message` (a string) with it.
#define CHECK_MSG(cond, message)                                                                             \
    ::rio::check::verdict(static_cast<bool>(cond), __FILE__, __LINE__,                                       \
                          [&] { return std::string("CHECK(" #cond "): ") + (message); })

/// Fails the case unless `a == b`; prints both values.
#define CHECK_EQ(a, b) ::rio::check::checkEqual((a), (b), #a, #b, __FILE__, __LINE__)

/// Fails the case unless `expression` throws an `Exception` (or a class derived from it).
#define CHECK_THROWS(Exception, expression)                                                                  \
    do {                                                                                                     \
        bool rioThrew = false;                                                                               \
        try {                                                                                                \
            expression;                                                                                      \
        } catch (const Exception &) {                                                                        \
            rioThrew = true;                                                                                 \
        }                                                                                                    \
        ::rio::check::verdict(rioThrew, __FILE__, __LINE__, [] {                                             \
            return "CHECK_THROWS(" #Exception ", " #expression "): did not throw";                           \
        });                                                                                                  \
    } while (false)

/// Ends the case as skipped, for `reason`.
#define SKIP(reason) ::rio::check::skip(reason)

/// The next check on this thread is expected to fail, for `reason`.
#define EXPECT_FAIL(reason) ::rio::check::expectFail(reason)
