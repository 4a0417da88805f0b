// SPDX-License-Identifier: MIT
// A small Qt daemon: reloads its configuration on SIGHUP and, on SIGINT or SIGTERM, stops taking
// work, flushes what it has buffered and exits cleanly, all from its event loop.
//
//   rio_graceful_shutdown [config-file]   run until SIGINT/SIGTERM; `kill -HUP <pid>` reloads
//   rio_graceful_shutdown --self-test     sends itself SIGHUP, then SIGTERM, and checks the result

#include <registryio/qt/unix_signals.h>

#include <QCoreApplication>
#include <QFile>
#include <QTemporaryDir>
#include <QTextStream>
#include <QTimer>

#include <csignal>
#include <cstdio>
#include <functional>

#include <unistd.h>

namespace {

void say(const QString &line)
{
    std::printf("%s\n", qPrintable(line));
    std::fflush(stdout);
}

// Produces one work item per tick and writes them out in batches; `batch` comes from the
// configuration file (a line `batch=N`).
class Service : public QObject
{
public:
    explicit Service(QString configPath) : m_configPath(std::move(configPath))
    {
        reload();
        connect(&m_ticker, &QTimer::timeout, this, &Service::produce);
        m_ticker.start(5);
    }

    void reload()
    {
        QFile file(m_configPath);
        int batch = 4;
        if (file.open(QIODevice::ReadOnly | QIODevice::Text)) {
            const QString text = QString::fromUtf8(file.readAll());
            for (const QString &line : text.split('\n')) {
                if (line.startsWith("batch="))
                    batch = qMax(1, line.mid(6).toInt());
            }
        }
        m_batch = batch;
        ++m_reloads;
        say(QString("configuration loaded: batch=%1").arg(m_batch));
    }

    void shutDown(int signal)
    {
        if (m_stopping)
            return; // a second SIGTERM while flushing changes nothing
        m_stopping = true;
        m_ticker.stop();
        say(QString("%1 received: stopping, %2 item(s) buffered")
                .arg(signal == SIGINT ? "SIGINT" : "SIGTERM")
                .arg(m_buffer.size()));
        flush();
        say(QString("flushed: wrote %1 of %2 produced item(s)").arg(m_written).arg(m_produced));
        QCoreApplication::exit(m_written == m_produced ? 0 : 1);
    }

    int produced() const { return m_produced; }
    int reloads() const { return m_reloads; }
    std::function<void()> onProduced;

private:
    void produce()
    {
        m_buffer.append(QString("item-%1").arg(++m_produced));
        if (m_buffer.size() >= m_batch)
            flush();
        if (onProduced)
            onProduced();
    }

    void flush()
    {
        if (m_buffer.isEmpty())
            return;
        m_written += static_cast<int>(m_buffer.size()); // a real service writes to disk here
        m_buffer.clear();
    }

    QString m_configPath;
    QTimer m_ticker;
    QStringList m_buffer;
    int m_batch = 4;
    int m_produced = 0;
    int m_written = 0;
    int m_reloads = 0;
    bool m_stopping = false;
};

bool writeConfig(const QString &path, int batch)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text))
        return false;
    file.write(QString("batch=%1\n").arg(batch).toUtf8());
    return true;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments().mid(1);
    const bool selfTest = args.contains("--self-test");

    QTemporaryDir dir;
    QString configPath = args.value(0);
    if (selfTest || configPath.isEmpty()) {
        configPath = dir.filePath("service.conf");
        writeConfig(configPath, 4);
    }

    Service service(configPath);

    // Created before the loop runs; handlers run on this (the main) thread, so they may touch
    // the service freely. Signals sent before exec() starts are delivered once it does.
    //! [signals]
    rio::UnixSignals unixSignals;
    unixSignals.add(SIGHUP, [&service] {
        say("SIGHUP received: reloading configuration");
        service.reload();
    });
    unixSignals.add(SIGINT, [&service](int signal) { service.shutDown(signal); });
    unixSignals.add(SIGTERM, [&service](int signal) { service.shutDown(signal); });
    //! [signals]

    if (selfTest) {
        // Drive the scenario from the work itself: after 5 items change the configuration and
        // send SIGHUP; once the reload is seen and 3 more items exist, send SIGTERM.
        int reloadSeenAt = -1;
        service.onProduced = [&] {
            if (service.produced() == 5) {
                writeConfig(configPath, 2);
                ::kill(::getpid(), SIGHUP);
            } else if (service.reloads() == 2 && reloadSeenAt < 0) {
                reloadSeenAt = service.produced();
            } else if (reloadSeenAt >= 0 && service.produced() == reloadSeenAt + 3) {
                ::kill(::getpid(), SIGTERM);
            }
        };
    } else {
        say(QString("running as pid %1; kill -HUP to reload, kill -TERM or Ctrl+C to stop").arg(::getpid()));
    }

    const int code = app.exec();
    say(code == 0 ? "clean exit" : "exit with unflushed work");
    return code;
}
