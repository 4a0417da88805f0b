// SPDX-License-Identifier: MIT
// QtRegistry's one registration shape: every form resolves to a registration (HandlerId or
// HandlerGuard), none is ambiguous, a braced or lvalue options argument reaches HandlerOptions,
// and the usual mistakes (a priority or a connection type where the options go) do not compile.
// What the compiler says about those is checked by the compile-fail tests in compile_fail/, which
// compile their sources with this file's command.
#include <registryio/qt/qt_registry.h>

#include <QFuture>
#include <QObject>
#include <QTest>

#include <concepts>
#include <functional>
#include <vector>

namespace {

using Registry = rio::QtRegistry<int>;

class Gauge : public QObject
{
public:
    std::vector<int> *seen = nullptr;
    void take(const int &value) const { seen->push_back(value); }
    void poke() { }
};

void freeHandler(const int &) { }
QFuture<void> futureHandler(const int &)
{
    return {};
}

// A handler of class type.
struct Functor
{
    void operator()(const int &) const { }
};

template <typename T>
constexpr bool isId = std::same_as<T, rio::HandlerId>;
template <typename T>
constexpr bool isGuard = std::same_as<T, rio::HandlerGuard>;

// Every current form, with every kind of last argument, resolves to a real registration.
[[maybe_unused]] void currentFormsResolve(Registry &r, QObject *context, Gauge *gauge)
{
    auto lambda = [](const int &) { };
    std::function<void(const int &)> function = lambda;
    rio::HandlerOptions options;
    const rio::HandlerOptions constOptions;
    static_assert(isId<decltype(r.add(lambda))> && isId<decltype(r.add(lambda, 1))>);
    static_assert(isId<decltype(r.add(&freeHandler, 2))> && isId<decltype(r.add(futureHandler))>);
    static_assert(isId<decltype(r.add(Functor{}, short(3)))> && isId<decltype(r.add(function))>);
    static_assert(isId<decltype(r.add(context, lambda))> && isId<decltype(r.add(context, lambda, {}))>);
    static_assert(isId<decltype(r.add(context, lambda, {5}))>);
    static_assert(isId<decltype(r.add(context, lambda, {.priority = 5}))>);
    static_assert(isId<decltype(r.add(context, lambda, options))>);
    static_assert(isId<decltype(r.add(context, lambda, constOptions))>);
    static_assert(isId<decltype(r.add(context, lambda, rio::HandlerOptions{}))>);
    static_assert(isId<decltype(r.add(gauge, lambda, {.once = true}))>);
    static_assert(isId<decltype(r.add(context, &freeHandler))>);
    static_assert(isId<decltype(r.add(gauge, &Gauge::take))> &&
                  isId<decltype(r.add(gauge, &Gauge::poke, {}))>);
    static_assert(isId<decltype(r.add(gauge, &Gauge::take, {3}))>);
    static_assert(isId<decltype(r.add(gauge, &Gauge::take, options))>);
    static_assert(isId<decltype(r.add(context, &QObject::deleteLater))>);
    static_assert(isId<decltype(r.addOnce(lambda))> && isId<decltype(r.addOnce(lambda, 4))>);
    static_assert(isId<decltype(r.addOnce(&freeHandler, 4))>);
    static_assert(isGuard<decltype(r.addScoped(lambda))> && isGuard<decltype(r.addScoped(lambda, 1))>);
    static_assert(isGuard<decltype(r.addScoped(context, lambda))>);
    static_assert(isGuard<decltype(r.addScoped(context, lambda, {2}))>);
    static_assert(isGuard<decltype(r.addScoped(context, lambda, options))>);
    static_assert(isGuard<decltype(r.addScoped(gauge, &Gauge::take))>);
    static_assert(isGuard<decltype(r.addScoped(gauge, &Gauge::poke, {.priority = 1}))>);
}

// The usual mistakes with the one shape do not compile: a priority, a connection type or a
// Delivery where the HandlerOptions go, more than one argument after the handler, and a context
// or receiver given to addOnce. The compile-fail tests in compile_fail/ check what the compiler
// says about them (it names rio::HandlerOptions).
template <typename R>
constexpr bool takesMistake =
    requires(R &r, QObject *context) { r.add(context, freeHandler, 1); } ||
    requires(R &r, QObject *context) { r.add(context, freeHandler, Qt::QueuedConnection); } ||
    requires(R &r, QObject *context) { r.add(context, freeHandler, rio::Delivery::Latest); } ||
    requires(R &r, QObject *context) { r.add(context, freeHandler, 1, Qt::QueuedConnection); } ||
    requires(R &r, Gauge *gauge) { r.add(gauge, &Gauge::take, 1); } ||
    requires(R &r, QObject *context) { r.addScoped(context, freeHandler, 1); } ||
    requires(R &r, QObject *context) { r.addOnce(context, freeHandler); } ||
    requires(R &r, Gauge *gauge) { r.addOnce(gauge, &Gauge::take); };
static_assert(!takesMistake<Registry>);

// Nor does what is no form at all.
template <typename R>
constexpr bool takesNonsense = requires(R &r, QObject *context) { r.add(context, freeHandler, "text"); } ||
                               requires(R &r, QObject *context) { r.add(context, freeHandler, 1, 2); } ||
                               requires(R &r, QObject *context) { r.addOnce(context, freeHandler, 1, 2); } ||
                               requires(R &r, QObject *context) { r.add(context, 42, 1); } ||
                               requires(R &r) { r.add(freeHandler, 1, Qt::QueuedConnection); };
static_assert(!takesNonsense<Registry>);

} // namespace

class tst_QtRegistrationForms : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // A braced options argument is a HandlerOptions: `{5}` is its priority.
    void bracedOptionsAreHandlerOptions()
    {
        Registry registry;
        Gauge gauge;
        std::vector<int> seen;
        gauge.seen = &seen;
        registry.add(&gauge, [&seen](const int &) { seen.push_back(1); }, {1});
        registry.add(&gauge, [&seen](const int &) { seen.push_back(5); }, {5});
        registry.add(&gauge, [&seen](const int &) { seen.push_back(0); }, {});
        registry.add(&gauge, &Gauge::take, {3});
        registry.notify(7);
        QCOMPARE(seen, (std::vector<int>{5, 7, 1, 0}));
    }

    // addOnce(f, priority) is still the context-free once form: it runs once, at its priority.
    void addOnceWithPriorityRunsOnce()
    {
        Registry registry;
        std::vector<int> seen;
        registry.add([&seen](const int &) { seen.push_back(0); });
        registry.addOnce([&seen](const int &) { seen.push_back(9); }, 9);
        registry.notify(1);
        registry.notify(2);
        QCOMPARE(seen, (std::vector<int>{9, 0, 0}));
        QCOMPARE(registry.size(), std::size_t(1));
    }

    // Functions (and functions returning a future) are handlers of the context-free form.
    void functionsAreHandlers()
    {
        Registry registry;
        registry.add(&freeHandler, 2);
        registry.add(futureHandler);
        QCOMPARE(registry.size(), std::size_t(2));
        registry.notify(1);
    }
};

QTEST_GUILESS_MAIN(tst_QtRegistrationForms)
#include "tst_qt_registration_forms.moc"
