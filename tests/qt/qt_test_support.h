// SPDX-License-Identifier: MIT
#pragma once

// Shared helpers of the Qt facade tests: a running QThread with a context object, a capture of
// the `registryio` logging category, and the sanitizer switches.

#include <registryio/qt/detail/qt_tsan.h>

#include <QCoreApplication>
#include <QFile>
#include <QMetaObject>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QThread>
#include <QVariant>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define RIO_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define RIO_TEST_SANITIZED 1
#endif
#endif
#ifndef RIO_TEST_SANITIZED
#define RIO_TEST_SANITIZED 0
#endif
#if defined(__SANITIZE_THREAD__)
#define RIO_TEST_SANITIZED_THREAD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RIO_TEST_SANITIZED_THREAD 1
#endif
#endif
#ifndef RIO_TEST_SANITIZED_THREAD
#define RIO_TEST_SANITIZED_THREAD 0
#endif

namespace riotest {

// A started QThread with an event loop and a context object living on it. The objects are
// created and deleted on the thread itself (no moveToThread), so ThreadSanitizer sees every
// handover: Qt's own synchronisation is invisible to it (see detail/qt_tsan.h).
class Worker
{
public:
    Worker()
    {
        m_thread.setObjectName(QStringLiteral("rio-test-worker"));
        m_thread.start();
        m_thread.ready.wait();
        context = m_thread.context;
        runner = m_thread.runner;
    }
    ~Worker()
    {
        m_thread.quit();
        m_thread.quitCalled.count_down(); // orders our wake-up write before glib closes its eventfd
        m_thread.wait();
        m_thread.finished.wait(); // QThread::wait synchronises invisibly to TSan; the latch does not
    }
    Worker(const Worker &) = delete;
    Worker &operator=(const Worker &) = delete;

    // Runs `f` on the worker thread and waits for it.
    template <typename F>
    void run(F f)
    {
        std::latch done(1);
        {
            [[maybe_unused]] const rio::detail::TsanPostScope posting; // see detail/qt_tsan.h
            QMetaObject::invokeMethod(runner, rio::detail::Handover([&] {
                                          f();
                                          done.count_down();
                                      }));
        }
        done.wait();
    }

    // Waits until everything queued to the worker before this call has run.
    void flush()
    {
        run([] { });
    }

    // Blocks the worker's event loop until the returned latch counts down.
    std::shared_ptr<std::latch> block()
    {
        auto gate = std::make_shared<std::latch>(1);
        auto entered = std::make_shared<std::latch>(1);
        {
            [[maybe_unused]] const rio::detail::TsanPostScope posting;
            QMetaObject::invokeMethod(runner, rio::detail::Handover([gate, entered] {
                                          entered->count_down();
                                          gate->wait();
                                      }));
        }
        entered->wait();
        return gate;
    }

    // Hands the context over to the test (which must destroy it on the thread); the worker no
    // longer deletes it at the end.
    QObject *takeContext()
    {
        QObject *taken = nullptr;
        run([&] { taken = std::exchange(m_thread.context, nullptr); });
        context = nullptr;
        return taken;
    }

    // Deletes the context on the worker thread.
    void destroyContext()
    {
        QObject *c = takeContext();
        run([c] { delete c; });
    }

    QThread *thread() { return &m_thread; }

    QObject *context = nullptr;
    QObject *runner = nullptr; // runs test code on the thread

private:
    class Thread : public QThread
    {
    public:
        void run() override
        {
            context = new QObject;
            runner = new QObject;
            ready.count_down();
            exec();
            quitCalled.wait();
            delete context;
            delete runner;
            finished.count_down();
        }
        std::latch ready{1};
        std::latch finished{1};
        std::latch quitCalled{1};
        QObject *context = nullptr;
        QObject *runner = nullptr;
    };

    Thread m_thread;
};

// Counts (and keeps) messages of one logging category (default `registryio`), from any thread.
class LogCapture
{
public:
    explicit LogCapture(const char *category = "registryio") : m_category(category)
    {
        instance().store(this);
        m_previous = qInstallMessageHandler(&LogCapture::handle);
    }
    ~LogCapture()
    {
        qInstallMessageHandler(m_previous);
        instance().store(nullptr);
    }
    LogCapture(const LogCapture &) = delete;
    LogCapture &operator=(const LogCapture &) = delete;

    int count() const
    {
        std::lock_guard lock(m_mutex);
        return static_cast<int>(m_messages.size());
    }
    QStringList messages() const
    {
        std::lock_guard lock(m_mutex);
        return m_messages;
    }

private:
    static std::atomic<LogCapture *> &instance()
    {
        static std::atomic<LogCapture *> current{nullptr};
        return current;
    }
    static void handle(QtMsgType type, const QMessageLogContext &context, const QString &message)
    {
        LogCapture *self = instance().load();
        if (self != nullptr && context.category != nullptr &&
            qstrcmp(context.category, self->m_category) == 0) {
            std::lock_guard lock(self->m_mutex);
            self->m_messages.append(message);
            return;
        }
        if (self != nullptr && self->m_previous != nullptr)
            self->m_previous(type, context, message);
    }

    const char *m_category;
    QtMessageHandler m_previous = nullptr;
    mutable std::mutex m_mutex;
    QStringList m_messages;
};

// Ends the process with a failure when the scope it guards does not finish in time: a test of a
// deadlock fails instead of hanging (the stuck thread cannot be recovered).
class Watchdog
{
public:
    explicit Watchdog(const char *what, std::chrono::seconds limit = std::chrono::seconds(30))
        : m_thread([this, what, limit] {
              std::unique_lock lock(m_mutex);
              if (!m_done.wait_for(lock, limit, [this] { return m_finished; })) {
                  std::fprintf(stderr, "FAIL!  : %s did not finish (deadlock)\n", what);
                  std::fflush(stderr);
                  std::_Exit(1);
              }
          })
    { }
    ~Watchdog()
    {
        {
            std::lock_guard lock(m_mutex);
            m_finished = true;
        }
        m_done.notify_all();
        m_thread.join();
    }
    Watchdog(const Watchdog &) = delete;
    Watchdog &operator=(const Watchdog &) = delete;

private:
    std::mutex m_mutex;
    std::condition_variable m_done;
    bool m_finished = false;
    std::thread m_thread;
};

// Resident set size of this process in KiB, from /proc/self/status.
inline long residentKiB()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLong();
    }
    return -1;
}

// An event value Qt keeps inside its QVariant (small, relocatable), so that copying the QVariant
// runs its copy constructor: user code, which counts its copies and calls `onCopy` once (on the
// thread that set it).
struct InlineVariantValue
{
    int value = 0;
    static inline std::atomic<int> copies{0};
    static inline thread_local std::function<void()> onCopy;

    InlineVariantValue() = default;
    explicit InlineVariantValue(int v) noexcept : value(v) { }
    InlineVariantValue(const InlineVariantValue &other) : value(other.value)
    {
        copies.fetch_add(1, std::memory_order_relaxed);
        if (auto f = std::exchange(onCopy, nullptr))
            f();
    }
    InlineVariantValue(InlineVariantValue &&other) noexcept = default;
    InlineVariantValue &operator=(const InlineVariantValue &) = default;
    InlineVariantValue &operator=(InlineVariantValue &&) noexcept = default;
    ~InlineVariantValue() = default;
    bool operator==(const InlineVariantValue &) const = default;
};

} // namespace riotest

Q_DECLARE_TYPEINFO(riotest::InlineVariantValue, Q_RELOCATABLE_TYPE);

namespace riotest {

// A QVariant of an InlineVariantValue, and the value one holds (read without a copy).
inline QVariant inlineVariant(int v)
{
    return QVariant::fromValue(InlineVariantValue(v));
}
inline int inlineVariantValue(const QVariant &event)
{
    return static_cast<const InlineVariantValue *>(event.constData())->value;
}

} // namespace riotest
