// SPDX-License-Identifier: MIT
// QObject::connect habits that carry over to rio::QtRegistry: a copyable rio::Connection,
// addOnce with a member function, Qt::UniqueConnection, and suspending a handler for a while.
#include <registryio/connection.h>
#include <registryio/qt/qt_registry.h>

#include <QCoreApplication>

#include <cstdio>
#include <memory>
#include <string>

namespace {

struct Login
{
    std::string user;
};

struct Saved
{
    int revision;
};

class Greeter : public QObject
{
public:
    void welcome(const Login &login) { std::printf("welcome %s\n", login.user.c_str()); }
};

class StatusBar : public QObject
{
public:
    void showSaved(const Saved &saved) { std::printf("saved %d\n", saved.revision); }
};

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    bool ok = true;

    // addOnce with a member function, like connect(..., Qt::SingleShotConnection).
    rio::QtRegistry<Login> logins;
    Greeter greeter;
    logins.add(&greeter, &Greeter::welcome, {.once = true});
    logins.notify({"alice"});
    logins.notify({"bob"}); // the once-handler is gone
    ok = ok && logins.isEmpty();

    // Qt::UniqueConnection: the same receiver and member function are registered once.
    auto saves = std::make_unique<rio::QtRegistry<Saved>>();
    StatusBar bar;
    const rio::HandlerId id = saves->add(&bar, &StatusBar::showSaved, {.connection = Qt::UniqueConnection});
    const rio::HandlerId again =
        saves->add(&bar, &StatusBar::showSaved, {.connection = Qt::UniqueConnection});

    // Suspend delivery without removing the handler (like blocking a receiver's signals).
    saves->notify({1});
    saves->setSuspended(id, true);
    saves->notify({2}); // skipped
    saves->setSuspended(id, false);
    saves->notify({3});

    std::printf("unique refused: %s\n", !again.isValid() && saves->size() == 1 ? "yes" : "no");

    // rio::Connection: a copyable handle, like QMetaObject::Connection.
    const rio::Connection connection = saves->connection(id);
    const rio::Connection copy = connection;
    std::printf("disconnected: %s\n", copy.disconnect() && !connection.isConnected() ? "yes" : "no");
    const rio::Connection late = saves->connection(saves->add(&bar, &StatusBar::showSaved));
    saves.reset(); // the registry dies; its connections stay safe to use
    std::printf("after the registry died: %s\n", late.isConnected() || late.disconnect() ? "yes" : "no");

    std::printf("api-tour-connect: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
