// SPDX-License-Identifier: MIT
// What serving one packet costs a source's thread while 100, 1,000 or 10,000 connections are open:
// a Ping read, screened and answered (a Pong) on one connection, each in turn. The connection is
// driven alone (its socket waited for, as its read notification would), not through the event
// loop, whose poll over every descriptor is Qt's and grows with their number. Names:
//   listener/ping/<connections>   RegistryIO::Remote's RemoteListener serving a share
//   qtro/ping/<connections>       the peer: plain Qt Remote Objects' own local: server
// CPU time of the serving thread per packet, and its user-space instructions (counter
// `instructions`, where the system counts them); the ratios between the counts are the figures
// (docs/PERFORMANCE.md). The peers are a child process's (raw sockets); the soft open-file limit is
// raised where the hard one allows it, and a count it does not allow is skipped with a message.
#include <registryio/qt/qt_registry.h>
#include <registryio/remote/remote_listener.h>
#include <registryio/remote/remote_share.h>

#include <benchmark/benchmark.h>

#include <QCoreApplication>
#include <QDataStream>
#include <QDir>
#include <QFile>
#include <QLocalSocket>
#include <QRemoteObjectHost>
#include <QSet>
#include <QTcpSocket>
#include <QtEndian>
#include <QtRemoteObjects/qtremoteobjectglobal.h>

#include <cstring>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <memory>
#include <poll.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

// A whole Ping for "orders": what a peer past its handshake sends; the source answers a Pong.
QByteArray ping()
{
    QByteArray body;
    QDataStream out(&body, QIODevice::WriteOnly);
    out.setVersion(QDataStream::Qt_6_2);
    out.setByteOrder(QDataStream::LittleEndian);
    out << quint16(QtRemoteObjects::Ping) << QStringLiteral("orders");
    QByteArray bytes(4, Qt::Uninitialized);
    qToLittleEndian(quint32(body.size()), bytes.data());
    return bytes + body;
}

bool raiseFileLimit(rlim_t wanted)
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return false;
    if (limit.rlim_cur >= wanted)
        return true;
    if (limit.rlim_max < wanted)
        limit.rlim_max = wanted; // allowed to a privileged process only
    limit.rlim_cur = wanted;
    return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

int connectTo(const QByteArray &bytes)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (bytes.size() + 1 > qsizetype(sizeof(address.sun_path)))
        return -1;
    std::memcpy(address.sun_path, bytes.constData(), std::size_t(bytes.size()) + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) != 0) {
        if (fd >= 0)
            ::close(fd);
        return -1;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

void drain(int fd)
{
    char buffer[4096];
    while (::read(fd, buffer, sizeof buffer) > 0) {
    }
}

// The user-space instructions this thread runs between start() and stop() (none where the system
// does not count them): the figure no load changes.
class Instructions
{
public:
    Instructions()
    {
        perf_event_attr attr{};
        attr.type = PERF_TYPE_HARDWARE;
        attr.size = sizeof(attr);
        attr.config = PERF_COUNT_HW_INSTRUCTIONS;
        attr.disabled = 1;
        attr.exclude_kernel = 1;
        attr.exclude_hv = 1;
        m_fd = int(::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
    }
    ~Instructions()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    void start() const
    {
        ::ioctl(m_fd, PERF_EVENT_IOC_RESET, 0);
        ::ioctl(m_fd, PERF_EVENT_IOC_ENABLE, 0);
    }
    [[nodiscard]] long long stop() const
    {
        long long n = -1;
        ::ioctl(m_fd, PERF_EVENT_IOC_DISABLE, 0);
        return m_fd >= 0 && ::read(m_fd, &n, sizeof(n)) == sizeof(n) ? n : -1;
    }

private:
    int m_fd = -1;
};

// N connections to a source: their peers in a child process of their own (20,000 descriptors do not
// fit one process's limit), the source's side here, paired in the order of connecting. The child
// writes a Ping to each connection in turn and reads its Pong, as told through a pipe.
class Rig
{
public:
    ~Rig()
    {
        if (m_child > 0) {
            (void)::write(m_toChild, "q", 1);
            ::waitpid(m_child, nullptr, 0);
        }
        for (const int fd : {m_toChild, m_fromChild})
            if (fd >= 0)
                ::close(fd);
    }
    // Connects `count` peers to `path`, each paired with the socket `newest(n)` finds once the
    // source accepted the nth; false when that fails.
    template <typename Newest>
    bool connect(const QString &path, int count, Newest newest)
    {
        int down[2];
        int up[2];
        if (::pipe(down) != 0 || ::pipe(up) != 0)
            return false;
        m_child = ::fork();
        if (m_child == 0) { // the peers: plain system calls only
            ::close(down[1]);
            ::close(up[0]);
            peers(QFile::encodeName(path), count, down[0], up[1]);
        }
        ::close(down[0]);
        ::close(up[1]);
        m_toChild = down[1];
        m_fromChild = up[0];
        for (int i = 0; i < count; ++i) {
            char connected = 0;
            if (::read(m_fromChild, &connected, 1) != 1 || connected != 'c')
                return false;
            QIODevice *server = nullptr;
            for (int turn = 0; turn < 10000 && server == nullptr; ++turn) {
                QCoreApplication::processEvents();
                server = newest(i + 1);
            }
            if (server == nullptr || ::write(m_toChild, "a", 1) != 1)
                return false;
            m_servers.push_back(server);
        }
        return true;
    }
    // Runs `packets` Pings, one connection after another, each served here.
    void run(benchmark::State &state)
    {
        const std::string command = "r" + std::to_string(state.max_iterations) + '\n';
        (void)::write(m_toChild, command.data(), command.size());
        std::size_t k = 0;
        const Instructions instructions;
        instructions.start();
        for (auto _ : state) {
            m_servers[k]->waitForReadyRead(10000); // its read notification: screened and answered
            flush(m_servers[k]); // what its write notification would do (nothing once unbuffered)
            k = (k + 1) % m_servers.size();
        }
        if (const long long n = instructions.stop(); n >= 0)
            state.counters["instructions"] =
                benchmark::Counter(double(n), benchmark::Counter::kAvgIterations);
        char done = 0;
        (void)::read(m_fromChild, &done, 1);
        state.SetItemsProcessed(state.iterations());
    }

private:
    static void flush(QIODevice *socket)
    {
        if (auto *tcp = qobject_cast<QAbstractSocket *>(socket))
            tcp->flush();
        else if (auto *local = qobject_cast<QLocalSocket *>(socket))
            local->flush();
    }
    [[noreturn]] static void peers(const QByteArray &path, int count, int commands, int replies)
    {
        const QByteArray packet = ping();
        std::vector<int> fds;
        for (int i = 0; i < count; ++i) {
            const int fd = connectTo(path);
            char ack = 0;
            if (fd < 0 || ::write(replies, "c", 1) != 1 || ::read(commands, &ack, 1) != 1)
                ::_exit(1);
            fds.push_back(fd);
        }
        char command = 0;
        while (::read(commands, &command, 1) == 1 && command == 'r') {
            long packets = 0;
            for (char digit = 0; ::read(commands, &digit, 1) == 1 && digit != '\n';)
                packets = packets * 10 + (digit - '0');
            for (long i = 0; i < packets; ++i) {
                const int fd = fds[std::size_t(i) % fds.size()];
                drain(fd); // what came before (the handshake, the object list)
                (void)::write(fd, packet.constData(), std::size_t(packet.size()));
                pollfd p{fd, POLLIN, 0};
                (void)::poll(&p, 1, 10000); // its Pong
                drain(fd);
            }
            (void)::write(replies, "d", 1);
        }
        ::_exit(0);
    }

    pid_t m_child = -1;
    int m_toChild = -1;
    int m_fromChild = -1;
    std::vector<QIODevice *> m_servers;
};

void listenerPing(benchmark::State &state)
{
    const int count = int(state.range(0));
    if (!raiseFileLimit(rlim_t(count + 256))) {
        state.SkipWithError("the open-file limit is too low for this many connections");
        return;
    }
    const QString name = QStringLiteral("rio-bench-listener-%1").arg(QCoreApplication::applicationPid());
    QRemoteObjectHost host;
    auto *listener = new rio::RemoteListener(&host, {.handshakeTimeout = std::chrono::hours(1)});
    rio::QtRegistry<int> registry;
    if (!listener->listen(QUrl(QStringLiteral("local:") + name))) {
        state.SkipWithError("the listener does not listen");
        return;
    }
    rio::RemoteShare<int> share(&host, QStringLiteral("orders"), registry);
    Rig rig;
    const bool connected = rig.connect(QDir::tempPath() + QLatin1Char('/') + name, count, [&](int n) {
        // An accepted connection's socket is the listener's newest child.
        return listener->connectionCount() == n ? qobject_cast<QIODevice *>(listener->children().constLast())
                                                : nullptr;
    });
    if (!connected) {
        state.SkipWithError("connecting failed");
        return;
    }
    rig.run(state);
}

void qtroPing(benchmark::State &state)
{
    const int count = int(state.range(0));
    if (!raiseFileLimit(rlim_t(count + 256))) {
        state.SkipWithError("the open-file limit is too low for this many connections");
        return;
    }
    const QString name = QStringLiteral("rio-bench-qtro-%1").arg(QCoreApplication::applicationPid());
    QRemoteObjectHost host(QUrl(QStringLiteral("local:") + name));
    QObject object;
    host.enableRemoting(&object, QStringLiteral("orders"));
    Rig rig;
    QSet<QLocalSocket *> known;
    const bool connected =
        rig.connect(QDir::tempPath() + QLatin1Char('/') + name, count, [&](int n) -> QIODevice * {
            const QList<QLocalSocket *> sockets = host.findChildren<QLocalSocket *>();
            if (sockets.size() != n)
                return nullptr;
            for (QLocalSocket *socket : sockets) {
                if (!known.contains(socket)) {
                    known.insert(socket);
                    return socket;
                }
            }
            return nullptr;
        });
    if (!connected) {
        state.SkipWithError("connecting failed");
        return;
    }
    rig.run(state);
}

} // namespace

// A fixed count of packets: each run connects its connections once (10,000 take a while).
constexpr int Packets = 20000;
BENCHMARK(listenerPing)
    ->Name("listener/ping")
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->Iterations(Packets)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(qtroPing)
    ->Name("qtro/ping")
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->Iterations(Packets)
    ->Unit(benchmark::kMicrosecond);

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
