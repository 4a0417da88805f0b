// Fixed-iteration driver for instruction counts:
//   rio_callgrind_driver <library> <handlers> <iterations> [notify|add_remove]
// notifies <iterations> times (or adds and removes one handler <iterations> times). callgrind.py runs it
// twice with different iteration counts under valgrind --tool=callgrind; the difference of the totals divided
// by the difference of the iterations is the cost of one notify, free of start-up and set-up.

#include "common/peers.h"
#if RIO_BENCH_HAVE_QT_REGISTRY
#include "common/qt_registry_peer.h"
#endif

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using namespace rio::bench;

template <typename Peer>
[[gnu::noinline]] void notifyLoop(Peer &peer, long iterations)
{
    for (long i = 0; i < iterations; ++i)
        peer.notify(static_cast<Event>(i));
}

template <typename Peer>
[[gnu::noinline]] void addRemoveLoop(Peer &peer, long iterations)
{
    for (long i = 0; i < iterations; ++i) {
        auto id = peer.add();
        peer.remove(id);
    }
}

template <typename Peer>
int run(int handlers, long iterations, bool addRemove)
{
    Peer peer;
    for (int i = 0; i < handlers; ++i)
        peer.add();
    if (addRemove) {
        addRemoveLoop(peer, iterations);
        return 0;
    }
    const std::uint64_t before = threadCount.load(std::memory_order_relaxed);
    notifyLoop(peer, iterations);
    const std::uint64_t calls = threadCount.load(std::memory_order_relaxed) - before;
    if (calls != static_cast<std::uint64_t>(handlers) * static_cast<std::uint64_t>(iterations)) {
        std::fprintf(stderr, "wrong number of handler calls: %llu\n", static_cast<unsigned long long>(calls));
        return 1;
    }
    return 0;
}

} // namespace

// Every library this driver knows, RegistryIO's Qt facade included when it was built.
template <typename F>
void forEachDriverPeer(F &&f)
{
    forEachPeer(f);
#if RIO_BENCH_HAVE_QT_REGISTRY
    f.template operator()<QtRegistryPeer>();
#endif
}

int main(int argc, char **argv)
{
    if (argc == 2 && std::string_view(argv[1]) == "--list") {
        forEachDriverPeer([]<typename Peer>() { std::printf("%s\n", Peer::key.data()); });
        return 0;
    }
    if (argc != 4 && argc != 5) {
        std::fprintf(stderr, "usage: %s <library> <handlers> <iterations> [notify|add_remove]\n", argv[0]);
        return 2;
    }
    const std::string_view library = argv[1];
    const int handlers = std::atoi(argv[2]);
    const long iterations = std::atol(argv[3]);
    const std::string_view op = argc == 5 ? argv[4] : "notify";
    if (op != "notify" && op != "add_remove") {
        std::fprintf(stderr, "unknown operation: %s\n", argv[4]);
        return 2;
    }
    int status = -1;
    forEachDriverPeer([&]<typename Peer>() {
        if (library == Peer::key)
            status = run<Peer>(handlers, iterations, op == "add_remove");
    });
    if (status < 0) {
        std::fprintf(stderr, "unknown library: %.*s\n", static_cast<int>(library.size()), library.data());
        return 2;
    }
    return status;
}
