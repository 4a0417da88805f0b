// SPDX-License-Identifier: MIT
// Pattern: configuration hot reload. A config store validates and publishes a new immutable
// configuration; every component that cares re-reads it. Components subscribe with guards, so
// a component that goes away stops listening on its own.
#include <registryio/registry.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

struct Config
{
    int version = 1;
    std::string logLevel = "info";
    int poolSize = 4;
};
using ConfigPtr = std::shared_ptr<const Config>;

//! [store]
class ConfigStore
{
public:
    // Any thread may read the current configuration.
    ConfigPtr current() const { return m_current.load(); }
    // Handlers get the new config; they may keep the pointer (it is immutable).
    rio::Registry<ConfigPtr> &changed() { return m_changed; }

    // Validates first: a bad config is refused and nothing changes. Reloads are serialised, so
    // subscribers see versions in order (and must not reload from inside a handler).
    void reload(Config next)
    {
        if (next.poolSize <= 0)
            throw std::invalid_argument("poolSize must be positive");
        std::lock_guard lock(m_reloadMutex);
        next.version = current()->version + 1;
        auto published = std::make_shared<const Config>(std::move(next));
        m_current.store(published);
        m_changed.notify(published);
    }

private:
    std::atomic<ConfigPtr> m_current{std::make_shared<const Config>()};
    std::mutex m_reloadMutex;
    rio::Registry<ConfigPtr> m_changed;
};
//! [store]

class Logger
{
public:
    explicit Logger(ConfigStore &store)
        : m_level(store.current()->logLevel), m_guard(store.changed().addScoped([this](const ConfigPtr &c) {
              if (c->logLevel != m_level) {
                  m_level = c->logLevel;
                  std::printf("logger: level %s (v%d)\n", m_level.c_str(), c->version);
              }
          }))
    { }
    const std::string &level() const { return m_level; }

private:
    std::string m_level;
    rio::HandlerGuard m_guard;
};

//! [subscriber]
class ConnectionPool
{
public:
    explicit ConnectionPool(ConfigStore &store)
        : m_size(store.current()->poolSize), m_guard(store.changed().addScoped([this](const ConfigPtr &c) {
              if (c->poolSize != m_size) {
                  std::printf("pool: %d -> %d connections (v%d)\n", m_size, c->poolSize, c->version);
                  m_size = c->poolSize;
              }
          }))
    { }
    int size() const { return m_size; }

private:
    int m_size;
    rio::HandlerGuard m_guard;
};
//! [subscriber]

int main()
{
    ConfigStore store;
    Logger logger(store);
    ConnectionPool pool(store);

    // e.g. after a file watcher saw the config file change
    store.reload({.logLevel = "debug", .poolSize = 16});

    try {
        store.reload({.logLevel = "trace", .poolSize = 0});
    } catch (const std::invalid_argument &e) {
        std::printf("reload rejected: %s; still v%d\n", e.what(), store.current()->version);
    }

    const bool ok = logger.level() == "debug" && pool.size() == 16 && store.current()->version == 2;
    std::printf("config-hot-reload: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
