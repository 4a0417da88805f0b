// SPDX-License-Identifier: MIT
// A UnixSignals that outlives its QCoreApplication: two applications in sequence in one process,
// which QtTest's main cannot do, hence this plain main with its own checks.
//
// Chosen behaviour (docs/SIGNALS.md): when the application of the instance's thread goes away,
// the instance drops its listeners, which restores the dispositions (the default action of
// SIGTERM and SIGINT is back), and warns; add() then throws until a new application exists, and
// under a new application add() re-arms the instance.

#include <registryio/qt/unix_signals.h>

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QStringList>

#include <csignal>
#include <cstdio>
#include <memory>
#include <stdexcept>

namespace {

int failures = 0;
QStringList warnings;

#define CHECK(condition)                                                                                     \
    do {                                                                                                     \
        if (!(condition)) {                                                                                  \
            std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #condition);                        \
            ++failures;                                                                                      \
        }                                                                                                    \
    } while (false)

void capture(QtMsgType type, const QMessageLogContext &, const QString &message)
{
    if (type == QtWarningMsg)
        warnings << message;
    std::fprintf(stderr, "%s\n", qPrintable(message));
}

bool isDefault(int signal)
{
    struct sigaction current{};
    ::sigaction(signal, nullptr, &current);
    return (current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_DFL;
}

// Runs the event loop (no sleeping) until `done()` or 5 s passed.
template <typename Done>
bool spinUntil(Done done)
{
    QDeadlineTimer deadline(5000);
    while (!done()) {
        if (deadline.hasExpired())
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    }
    return true;
}

} // namespace

int main(int argc, char **argv)
{
    qInstallMessageHandler(capture);
    std::unique_ptr<rio::UnixSignals> source;
    {
        QCoreApplication first(argc, argv);
        source = std::make_unique<rio::UnixSignals>();
        int calls = 0;
        source->add(SIGTERM, [] { });
        source->add(SIGINT, [] { });
        source->add(SIGUSR1, [&calls] { ++calls; });
        ::raise(SIGUSR1);
        CHECK(spinUntil([&] { return calls == 1; }));
        CHECK(!isDefault(SIGTERM));
    }
    // The application went: the instance let go of the signals, and said so.
    CHECK(isDefault(SIGTERM));
    CHECK(isDefault(SIGINT));
    CHECK(isDefault(SIGUSR1));
    CHECK(source->listenerCount(SIGTERM) == 0);
    CHECK(source->listenerCount(SIGUSR1) == 0);
    CHECK(warnings.filter("rio::UnixSignals").size() == 1);

    // Without an application, add() is refused and changes nothing.
    bool refused = false;
    try {
        source->add(SIGUSR1, [] { });
    } catch (const std::logic_error &) {
        refused = true;
    }
    CHECK(refused);
    CHECK(isDefault(SIGUSR1));
    CHECK(source->listenerCount(SIGUSR1) == 0);

    std::unique_ptr<rio::UnixSignals> later;
    {
        QCoreApplication second(argc, argv);
        // Under a new application, add() re-arms the instance.
        int calls = 0;
        const rio::HandlerId id = source->add(SIGUSR1, [&calls] { ++calls; });
        ::raise(SIGUSR1);
        CHECK(spinUntil([&] { return calls == 1; }));
        CHECK(source->remove(id));
        CHECK(isDefault(SIGUSR1));
        source.reset(); // destroyed under the second application

        // A second instance made now goes through the same when this application goes.
        later = std::make_unique<rio::UnixSignals>();
        later->add(SIGTERM, [] { });
        CHECK(!isDefault(SIGTERM));
    }
    CHECK(isDefault(SIGTERM));
    CHECK(warnings.filter("rio::UnixSignals").size() == 2);
    later.reset(); // destroyed with no application at all: no crash, no warning
    CHECK(warnings.filter("rio::UnixSignals").size() == 2);

    std::fprintf(stderr, failures == 0 ? "PASS tst_unix_signals_apps\n" : "FAILED: %d checks\n", failures);
    return failures == 0 ? 0 : 1;
}
