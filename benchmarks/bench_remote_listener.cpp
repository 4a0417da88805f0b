// SPDX-License-Identifier: MIT
// What serving one packet costs a source's thread while 100, 1,000 or 10,000 connections are open:
// a Ping read, screened and answered (a Pong) on one connection, each in turn. Names:
//   listener/ping/<connections>   RegistryIO::Remote's RemoteListener serving a share
//   qtro/ping/<connections>       the peer: plain Qt Remote Objects' own local: server
//   listener/unread/<connections> the listener, each peer leaving the Pongs it was sent unread
//   qtro/unread/<connections>     the same for plain Qt Remote Objects
//   listener/loop/<connections>   the listener, each packet served through the event loop
//   qt/loop/<connections>         the floor: a plain QLocalServer echoing, through the event loop
// A `ping` or `unread` connection is driven alone (its socket waited for, as its read notification
// would; `unread`: each Pong is written while the earlier ones wait in the system); a `loop` one
// through the event loop, whose poll over every descriptor is Qt's and grows with their number
// (qt/loop measures it). The serving thread's CPU time per packet (`cpu_us`), its
// user-space instructions where the system counts them (`instructions`), and, once every case ran,
// the ratios at 1,000 and 10,000 connections to 100 (medians over --benchmark_repetitions) are
// printed. Under `valgrind --tool=callgrind --instr-atstart=no` only the packets are counted
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
#include <QLocalServer>
#include <QLocalSocket>
#include <QRemoteObjectHost>
#include <QSet>
#include <QTcpSocket>
#include <QtEndian>
#include <QtRemoteObjects/qtremoteobjectglobal.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <map>
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

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

namespace {

// How a packet is served: its socket waited for, alone (`Alone`; `Unread`: its peer leaves every
// Pong unread), or through the event loop.
enum class Serve { Alone, Unread, Loop };

// Per case (`listener/ping`) and connection count, each run's CPU time per packet (µs) and
// instructions per packet (-1: not counted): the ratios printed at the end.
struct Figures
{
    std::vector<double> cpu;
    std::vector<double> instructions;
};
std::map<std::string, std::map<int, Figures>> g_figures;

double median(std::vector<double> values)
{
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n == 0 ? -1 : n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double threadCpuUs()
{
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) * 1e6 + double(t.tv_nsec) / 1e3;
}

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
    const timeval timeout{10, 0}; // a peer never waits for good
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return fd;
}

void drain(int fd)
{
    char buffer[4096];
    while (::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) > 0) {
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
            // Served: after what serves it (connected before), its read is over.
            QObject::connect(server, &QIODevice::readyRead, [this] { ++m_served; });
        }
        return true;
    }
    // Runs `packets` Pings, one connection after another, each served here as `serve` says.
    // Recorded as case `name`.
    void run(benchmark::State &state, const std::string &name, Serve serve)
    {
        const bool loop = serve == Serve::Loop;
        // One round first, not measured: each connection's buffers as a connection served holds them.
        const std::size_t warm = m_servers.size();
        const std::string command = (serve == Serve::Unread ? "u" : "r") +
                                    std::to_string(warm + std::size_t(state.max_iterations)) + '\n';
        (void)::write(m_toChild, command.data(), command.size());
        const auto serveOne = [this, loop](std::size_t k) {
            if (loop) {
                for (const quint64 served = m_served; served == m_served;)
                    QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
            } else {
                m_servers[k]->waitForReadyRead(10000); // its read notification: screened and answered
                flush(m_servers[k]); // what its write notification would do (nothing once unbuffered)
            }
        };
        for (std::size_t k = 0; k < warm; ++k)
            serveOne(k);
        std::size_t k = 0;
        const Instructions instructions;
        const double cpuBefore = threadCpuUs();
        instructions.start();
        CALLGRIND_START_INSTRUMENTATION;
        for (auto _ : state) {
            serveOne(k);
            k = (k + 1) % m_servers.size();
        }
        CALLGRIND_STOP_INSTRUMENTATION;
        const long long n = instructions.stop();
        const double packets = double(state.iterations());
        const double cpu = (threadCpuUs() - cpuBefore) / packets;
        state.counters["cpu_us"] = cpu;
        if (n >= 0)
            state.counters["instructions"] = double(n) / packets;
        Figures &figures = g_figures[name][int(m_servers.size())];
        figures.cpu.push_back(cpu);
        figures.instructions.push_back(n >= 0 ? double(n) / packets : -1);
        // (Served through the loop, the last Pong may still wait for its write notification.)
        for (pollfd p{m_fromChild, POLLIN, 0}; loop && ::poll(&p, 1, 0) == 0;)
            QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
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
        while (::read(commands, &command, 1) == 1 && (command == 'r' || command == 'u')) {
            long packets = 0;
            for (char digit = 0; ::read(commands, &digit, 1) == 1 && digit != '\n';)
                packets = packets * 10 + (digit - '0');
            for (long i = 0; i < packets; ++i) {
                const int fd = fds[std::size_t(i) % fds.size()];
                const bool first = std::size_t(i) < fds.size();
                if (command == 'r' || first)
                    drain(fd);                 // what came before (the handshake, the object list)
                if (command == 'u' && first) { // from here, what arrives is only peeked at
                    const int zero = 0;
                    ::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero);
                }
                (void)::write(fd, packet.constData(), std::size_t(packet.size()));
                char pong[256];
                // Its Pong: read, or (`u`) peeked at past those before it, which stay in the system.
                (void)::recv(fd, pong, sizeof pong, command == 'u' ? MSG_PEEK : 0);
                if (command == 'r')
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
    quint64 m_served = 0;
};

void listener(benchmark::State &state, Serve serve)
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
    rig.run(state,
            serve == Serve::Loop     ? "listener/loop"
            : serve == Serve::Unread ? "listener/unread"
                                     : "listener/ping",
            serve);
}

void qtro(benchmark::State &state, Serve serve)
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
    rig.run(state, serve == Serve::Unread ? "qtro/unread" : "qtro/ping", serve);
}

// The floor: Qt's own local socket server, each socket echoing what it reads, through the loop.
void qtLoop(benchmark::State &state)
{
    const int count = int(state.range(0));
    if (!raiseFileLimit(rlim_t(count + 256))) {
        state.SkipWithError("the open-file limit is too low for this many connections");
        return;
    }
    const QString name = QStringLiteral("rio-bench-qt-%1").arg(QCoreApplication::applicationPid());
    QLocalServer server;
    QLocalServer::removeServer(name);
    if (!server.listen(name)) {
        state.SkipWithError("the server does not listen");
        return;
    }
    std::vector<QLocalSocket *> sockets;
    QObject::connect(&server, &QLocalServer::newConnection, [&] {
        while (QLocalSocket *socket = server.nextPendingConnection()) {
            QObject::connect(socket, &QIODevice::readyRead, socket,
                             [socket] { socket->write(socket->readAll()); });
            sockets.push_back(socket);
        }
    });
    Rig rig;
    const bool connected = rig.connect(server.fullServerName(), count, [&](int n) -> QIODevice * {
        return int(sockets.size()) == n ? sockets.back() : nullptr;
    });
    if (!connected) {
        state.SkipWithError("connecting failed");
        return;
    }
    rig.run(state, "qt/loop", Serve::Loop);
}

// The ratios of each case's figures at 1,000 and 10,000 connections to those at 100.
void printRatios()
{
    std::printf("\nserving-thread work per packet at N connections / at 100 (medians; instructions "
                "where counted):\n");
    for (const auto &[name, byCount] : g_figures) {
        const auto base = byCount.find(100);
        if (base == byCount.end())
            continue;
        std::printf("  %-14s", name.c_str());
        for (const auto &[count, figures] : byCount) {
            if (count == 100)
                continue;
            const double instructions = median(figures.instructions);
            const double baseInstructions = median(base->second.instructions);
            std::printf("  %6d: cpu %.2fx", count, median(figures.cpu) / median(base->second.cpu));
            if (instructions > 0 && baseInstructions > 0)
                std::printf(", instructions %.2fx", instructions / baseInstructions);
        }
        std::printf("\n");
    }
}

} // namespace

// A fixed count of packets (RIO_BENCH_PACKETS, else 20,000): each run connects its connections once
// (10,000 take a while).
void registerCases()
{
    const int packets = qEnvironmentVariableIntValue("RIO_BENCH_PACKETS");
    const auto add = [packets](const char *name, auto serving, Serve serve) {
        benchmark::RegisterBenchmark(name, serving, serve)
            ->Arg(100)
            ->Arg(1000)
            ->Arg(10000)
            ->Iterations(packets > 0 ? packets : 20000)
            ->Unit(benchmark::kMicrosecond);
    };
    add("listener/ping", listener, Serve::Alone);
    add("qtro/ping", qtro, Serve::Alone);
    add("listener/unread", listener, Serve::Unread);
    add("qtro/unread", qtro, Serve::Unread);
    add("listener/loop", listener, Serve::Loop);
    add("qt/loop", [](benchmark::State &state, Serve) { qtLoop(state); }, Serve::Loop);
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    registerCases();
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    printRatios();
    return 0;
}
