// The main demo: the same worker flood reaches two identical receivers, one through a Qt queued
// signal and one through a coalesced registry handler, and a Qt Quick Controls window
// (Main.qml) shows both side by side. The window itself is fed through a QmlRegistry: ten
// snapshots a second, handled by QML handlers in priority order, one of which throws.
//   rio_qml_dashboard                      a window, until it is closed
//   rio_qml_dashboard --seconds N          runs N seconds, checks what every part received, then
//                                          simulates a very long run and checks that no text
//                                          overflows its panel at 1280x800 and 800x600; exits
//                                          (with QT_QPA_PLATFORM=offscreen: no display needed)
//   --rate N         events per second per worker at the start (the window has a slider)
//   --size WxH       window size (default 1280x800)
//   --screenshot F   with --seconds: grabs the window to the PNG file F after N seconds and
//                    checks that it is not blank

#include "flood.h"

#include <registryio/qml_registry.h>

#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QGuiApplication>
#include <QImage>
#include <QQmlApplicationEngine>
#include <QQmlComponent>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSet>
#include <QTimer>
#include <QVariantMap>

#include <malloc.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>

namespace {

// Heap bytes in use by this thread's arena (the main thread's, before any other thread runs).
qint64 heapInUse()
{
    return static_cast<qint64>(mallinfo2().uordblks);
}

qint64 residentBytes()
{
    QFile statm(QStringLiteral("/proc/self/statm"));
    if (!statm.open(QIODevice::ReadOnly))
        return 0;
    const QList<QByteArray> fields = statm.readAll().split(' ');
    return fields.size() > 1 ? fields[1].toLongLong() * sysconf(_SC_PAGESIZE) : 0;
}

// What one pending delivery holds on the heap, measured before the workers start: 2,000 Qt
// queued signals, and 2,000 notifies of one coalesced handler, to receivers that do not run yet.
struct QueueCosts
{
    qint64 perQueuedSignal = 0;
    qint64 perPendingLatest = 0;
};

QueueCosts measureQueueCosts()
{
    constexpr int n = 2000;
    QueueCosts costs;
    // This thread runs no event loop yet: what is posted to `target` stays queued.
    {
        Flood flood(nullptr, nullptr);
        QObject target;
        QObject::connect(
            &flood, &Flood::sampled, &target, [](const Sample &) {}, Qt::QueuedConnection);
        const qint64 before = heapInUse();
        for (int i = 1; i <= n; ++i)
            Q_EMIT flood.sampled({0, i, 0});
        costs.perQueuedSignal = (heapInUse() - before) / n;
        QCoreApplication::removePostedEvents(&target);
    }
    {
        Flood flood(nullptr, nullptr);
        QObject target;
        const rio::HandlerId id = flood.registry.add(
            &target, [](const Sample &) {}, 0, Qt::QueuedConnection, rio::Delivery::Latest);
        const qint64 before = heapInUse();
        for (int i = 1; i <= n; ++i)
            flood.registry.notify({0, i, 0});
        costs.perPendingLatest = heapInUse() - before; // one pending delivery, however many notifies
        flood.registry.remove(id);
        QCoreApplication::removePostedEvents(&target);
    }
    return costs;
}

// Finds QML Text items (Label, Text) that overflow: wider or taller than their own box, or
// outside the nearest Control (Frame, Pane, ToolBar...) around them. Returns one line each.
QStringList overflowingTexts(QQuickItem *item, int *checked)
{
    QStringList found;
    const auto children = item->childItems();
    for (QQuickItem *child : children)
        if (child->isVisible() && child->opacity() > 0)
            found += overflowingTexts(child, checked);
    if (!item->inherits("QQuickText") || item->property("text").toString().isEmpty())
        return found;
    ++*checked;
    const double tolerance = 0.5;
    const QString text = item->property("text").toString().left(60);
    const QSizeF content(item->property("contentWidth").toReal(), item->property("contentHeight").toReal());
    if (content.width() > item->width() + tolerance || content.height() > item->height() + tolerance)
        found << QStringLiteral("'%1': text %2x%3 in a %4x%5 box")
                     .arg(text)
                     .arg(content.width())
                     .arg(content.height())
                     .arg(item->width())
                     .arg(item->height());
    for (QQuickItem *up = item->parentItem(); up != nullptr; up = up->parentItem()) {
        if (up->clip())
            break; // clipped: what lies outside is not drawn
        if (!up->inherits("QQuickControl") && up->parentItem() != nullptr)
            continue;
        const QRectF box = item->mapRectToItem(up, QRectF(0, 0, item->width(), item->height()));
        if (!QRectF(0, 0, up->width(), up->height())
                 .adjusted(-tolerance, -tolerance, tolerance, tolerance)
                 .contains(box))
            found << QStringLiteral("'%1': box (%2,%3 %4x%5) outside its %6 (%7x%8)")
                         .arg(text)
                         .arg(box.x())
                         .arg(box.y())
                         .arg(box.width())
                         .arg(box.height())
                         .arg(QString::fromLatin1(up->metaObject()->className()))
                         .arg(up->width())
                         .arg(up->height());
        break;
    }
    return found;
}

// Not blank: many colours and contrast.
bool looksDrawn(const QImage &image, int *colours, double *spread)
{
    QSet<QRgb> seen;
    double sum = 0, sumSq = 0;
    const QImage rgb = image.convertToFormat(QImage::Format_RGB32);
    for (int y = 0; y < rgb.height(); ++y) {
        const auto *line = reinterpret_cast<const QRgb *>(rgb.constScanLine(y));
        for (int x = 0; x < rgb.width(); ++x) {
            seen.insert(line[x]);
            const double v = qGray(line[x]);
            sum += v;
            sumSq += v * v;
        }
    }
    const double n = double(rgb.width()) * rgb.height();
    *colours = int(seen.size());
    *spread = n > 0 ? std::sqrt(std::max(0.0, sumSq / n - (sum / n) * (sum / n))) : 0;
    return *colours >= 64 && *spread >= 8;
}

// Calls `then` once `done` holds, checking every 10 ms for at most 20 s; `then(false)` on time-out.
void whenTrue(QObject *context, const std::function<bool()> &done, const std::function<void(bool)> &then)
{
    auto *poll = new QTimer(context);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    QObject::connect(poll, &QTimer::timeout, context, [=] {
        const bool ok = done();
        if (!ok && std::chrono::steady_clock::now() < deadline)
            return;
        poll->deleteLater();
        then(ok);
    });
    poll->start(10);
}

} // namespace

int main(int argc, char *argv[])
{
    // Qt Quick's software renderer needs no GPU: the headless run works on any machine.
    if (qgetenv("QT_QPA_PLATFORM") == "offscreen")
        QQuickWindow::setGraphicsApi(QSGRendererInterface::Software);
    QGuiApplication app(argc, argv);

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("RegistryIO dashboard: a Qt signal and a registry, "
                                                    "side by side"));
    parser.addHelpOption();
    const QCommandLineOption secondsOption(QStringLiteral("seconds"),
                                           QStringLiteral("Run N seconds, check, print a summary, exit."),
                                           QStringLiteral("N"));
    const QCommandLineOption rateOption(QStringLiteral("rate"),
                                        QStringLiteral("Events per second per worker at the start."),
                                        QStringLiteral("N"), QStringLiteral("10000"));
    const QCommandLineOption sizeOption(QStringLiteral("size"), QStringLiteral("Window size."),
                                        QStringLiteral("WxH"), QStringLiteral("1280x800"));
    const QCommandLineOption shotOption(QStringLiteral("screenshot"),
                                        QStringLiteral("With --seconds: save the window to this PNG."),
                                        QStringLiteral("file"));
    parser.addOptions({secondsOption, rateOption, sizeOption, shotOption});
    parser.process(app);
    bool secondsOk = true, rateOk = true, wOk = false, hOk = false;
    const int seconds = parser.isSet(secondsOption) ? parser.value(secondsOption).toInt(&secondsOk) : 0;
    const int rate = parser.value(rateOption).toInt(&rateOk);
    const QStringList size = parser.value(sizeOption).split(QLatin1Char('x'));
    const int width = size.value(0).toInt(&wOk), height = size.value(1).toInt(&hOk);
    const QString shot = parser.value(shotOption);
    if (!secondsOk || seconds < 0 || !rateOk || rate < 0 || rate > Flood::kMaxRate || size.size() != 2 ||
        !wOk || !hOk || width < 800 || height < 600 || (!shot.isEmpty() && seconds == 0)) {
        std::fprintf(stderr,
                     "rio_qml_dashboard: bad arguments (--seconds N >= 0, --rate 0..%d, --size WxH "
                     "of at least 800x600, --screenshot needs --seconds)\n",
                     Flood::kMaxRate);
        return 2;
    }

    const QueueCosts costs = measureQueueCosts();
    Receiver qtSide;
    Receiver registrySide;
    Flood flood(&qtSide, &registrySide);
    rio::QmlRegistry stats; // what the window shows, ten snapshots a second

    QQmlApplicationEngine engine;
    if (QDir(QStringLiteral(RIO_QML_IMPORT_PATH)).exists())
        engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH)); // the build tree's module
    engine.setInitialProperties({
        {QStringLiteral("stats"), QVariant::fromValue(&stats)},
        {QStringLiteral("floodRate"), rate},
        {QStringLiteral("maxRate"), Flood::kMaxRate},
        {QStringLiteral("qtCap"), qint64(Flood::kQtCap)},
        {QStringLiteral("updateCostUs"), int(Receiver::kUpdateCost.count())},
        {QStringLiteral("width"), width},
        {QStringLiteral("height"), height},
    });
    engine.load(QUrl(QStringLiteral("qrc:/dashboard/Main.qml")));
    if (engine.rootObjects().isEmpty())
        return 1;
    auto *window = qobject_cast<QQuickWindow *>(engine.rootObjects().constFirst());
    if (window == nullptr)
        return 1;

    std::atomic<qint64> frames{0};
    QObject::connect(
        window, &QQuickWindow::frameSwapped, window, [&frames] { ++frames; }, Qt::DirectConnection);

    // Ten snapshots a second, notified on this thread: the QML handlers run now, in priority order.
    struct Last
    {
        qint64 frames = 0, qtHandled = 0, registryHandled = 0, skipped = 0;
        std::array<qint64, Receiver::kWorkers> published{};
        std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now();
    } last;
    qint64 snapshots = 0;
    const auto started = std::chrono::steady_clock::now();
    auto snapshot = [&] {
        const auto now = std::chrono::steady_clock::now();
        const double dt = std::max(1e-3, std::chrono::duration<double>(now - last.at).count());
        last.at = now;
        flood.setRate(window->property("floodRate").toInt());
        auto perSecond = [dt](qint64 value, qint64 &previous) {
            const double r = double(value - previous) / dt;
            previous = value;
            return r;
        };
        QVariantList published;
        qint64 qtBehind = 0, registryBehind = 0;
        for (std::size_t w = 0; w < Receiver::kWorkers; ++w) {
            const qint64 p = flood.published[w].load(std::memory_order_acquire);
            qtBehind += std::max<qint64>(0, p - qtSide.shownSeq[w].load(std::memory_order_relaxed));
            registryBehind +=
                std::max<qint64>(0, p - registrySide.shownSeq[w].load(std::memory_order_relaxed));
            published << perSecond(p, last.published[w]);
        }
        const qint64 qtQueued = flood.qtQueued();
        const qint64 registryQueued = registryBehind > 0 ? 1 : 0; // Delivery::Latest: never more
        const qint64 skipped = flood.qtSkipped.load();
        const bool capped = skipped != last.skipped;
        last.skipped = skipped;
        ++snapshots;
        stats.notify(QVariantMap{
            {QStringLiteral("seq"), snapshots},
            {QStringLiteral("seconds"), std::chrono::duration<double>(now - started).count()},
            {QStringLiteral("published"), published},
            {QStringLiteral("fps"), perSecond(frames.load(), last.frames)},
            {QStringLiteral("rssBytes"), residentBytes()},
            // Every 3 s the (simulated) export sink is down: its handler throws.
            {QStringLiteral("exportError"),
             snapshots % 30 == 5 ? QStringLiteral("export sink offline (snapshot %1)").arg(snapshots)
                                 : QString()},
            {QStringLiteral("qt"),
             QVariantMap{{QStringLiteral("queued"), qtQueued},
                         {QStringLiteral("latencyMs"), double(qtSide.latencyNs.load()) / 1e6},
                         {QStringLiteral("memoryBytes"), qtQueued * costs.perQueuedSignal},
                         {QStringLiteral("behind"), qtBehind},
                         {QStringLiteral("handled"), qint64(qtSide.handled.load())},
                         {QStringLiteral("perSecond"), perSecond(qtSide.handled.load(), last.qtHandled)},
                         {QStringLiteral("capped"), capped},
                         {QStringLiteral("skipped"), skipped}}},
            {QStringLiteral("registry"),
             QVariantMap{
                 {QStringLiteral("queued"), registryQueued},
                 {QStringLiteral("latencyMs"), double(registrySide.latencyNs.load()) / 1e6},
                 {QStringLiteral("memoryBytes"), registryQueued * costs.perPendingLatest},
                 {QStringLiteral("behind"), registryBehind},
                 {QStringLiteral("handled"), qint64(registrySide.handled.load())},
                 {QStringLiteral("perSecond"), perSecond(registrySide.handled.load(), last.registryHandled)},
                 {QStringLiteral("capped"), false},
                 {QStringLiteral("skipped"), 0}}},
        });
    };
    QTimer ticker;
    QObject::connect(&ticker, &QTimer::timeout, &app, snapshot);
    ticker.start(100);
    flood.setRate(rate);
    flood.start();

    if (seconds == 0) {
        const int status = app.exec();
        flood.stop();
        return status;
    }

    int status = 1;
    bool shotOk = true;
    auto fail = [&](const char *what) {
        std::printf("rio_qml_dashboard: FAILED: %s\n", what);
        std::fflush(stdout);
        app.exit(1);
    };
    // A run of hours, compressed: every number at its widest, long failure messages.
    auto simulateLongRun = [&] {
        const QString longError = QStringLiteral("export sink offline: ") + QString(120, QLatin1Char('x'));
        for (int i = 0; i < 30; ++i) {
            const QVariantMap side{{QStringLiteral("queued"), 98765432109LL},
                                   {QStringLiteral("latencyMs"), 98765432.1},
                                   {QStringLiteral("memoryBytes"), 987654321098765LL},
                                   {QStringLiteral("behind"), 9876543210987LL},
                                   {QStringLiteral("handled"), 9876543210987LL},
                                   {QStringLiteral("perSecond"), 9876543.2},
                                   {QStringLiteral("capped"), true},
                                   {QStringLiteral("skipped"), 9876543210987LL}};
            ++snapshots;
            stats.notify(QVariantMap{
                {QStringLiteral("seq"), 9876543210LL + i},
                {QStringLiteral("seconds"), 987654.3},
                {QStringLiteral("published"), QVariantList{9876543.2, 9876543.2}},
                {QStringLiteral("fps"), 9876.5},
                {QStringLiteral("rssBytes"), 987654321098765LL},
                {QStringLiteral("exportError"), i % 5 == 0 ? longError : QString()},
                {QStringLiteral("qt"), side},
                {QStringLiteral("registry"), side},
            });
        }
    };
    auto checkGeometry = [&] {
        int checked = 0;
        QStringList found;
        for (const QSize s : {QSize(1280, 800), QSize(800, 600)}) {
            window->resize(s);
            window->grabWindow(); // polishes the layouts and renders at this size
            found += overflowingTexts(window->contentItem(), &checked);
        }
        std::printf("geometry after a simulated long run: %d texts checked at 1280x800 and 800x600, "
                    "%lld overflow\n",
                    checked, static_cast<long long>(found.size()));
        for (const QString &f : found)
            std::printf("  overflow: %s\n", qPrintable(f));
        // The check itself: a label planted too long for its frame must be found.
        QQmlComponent planted(&engine);
        planted.setData(
            "import QtQuick.Controls.Fusion\n"
            "Frame { width: 120; height: 40; Label { text: 'a label far too long for its frame' } }",
            QUrl());
        std::unique_ptr<QObject> frame(planted.create());
        auto *item = qobject_cast<QQuickItem *>(frame.get());
        int plantedChecked = 0;
        if (item != nullptr) {
            item->setParentItem(window->contentItem());
            window->grabWindow();
        }
        const bool checkerWorks = item != nullptr && !overflowingTexts(item, &plantedChecked).isEmpty();
        std::printf("geometry check finds a planted overflow: %s\n", checkerWorks ? "yes" : "no");
        return checked > 20 && found.isEmpty() && checkerWorks;
    };
    auto finish = [&] {
        ticker.stop();
        snapshot(); // the final state, on screen
        const qint64 qtEmitted = flood.qtEmitted.load(), skipped = flood.qtSkipped.load();
        const qint64 published = flood.published[0].load() + flood.published[1].load();
        const bool qtComplete =
            qtSide.handled.load() == qtEmitted && qtEmitted + skipped == published && qtSide.inOrder.load();
        const bool registryLatest = registrySide.shownSeq[0].load() == flood.published[0].load() &&
                                    registrySide.handled.load() <= published && registrySide.inOrder.load();
        std::printf("rio_qml_dashboard: %d workers published %lld events in %d s\n", Receiver::kWorkers,
                    static_cast<long long>(published), seconds);
        std::printf("Qt queued signal: %lld emitted (%lld skipped at the cap), every one delivered in "
                    "order: %s\n",
                    static_cast<long long>(qtEmitted), static_cast<long long>(skipped),
                    qtComplete ? "yes" : "no");
        std::printf("registry, Delivery::Latest: %lld updates, the last event delivered, in order: %s\n",
                    static_cast<long long>(registrySide.handled.load()), registryLatest ? "yes" : "no");
        std::printf("held per pending delivery: Qt queued signal %lld B each, coalesced %lld B in all\n",
                    static_cast<long long>(costs.perQueuedSignal),
                    static_cast<long long>(costs.perPendingLatest));
        const int shown = window->property("snapshotsShown").toInt();
        const bool pipelineOk = window->property("orderOk").toBool() &&
                                window->property("panelUpdates").toInt() == shown &&
                                window->property("exportFailures").toInt() >= 1 && shown >= seconds * 5;
        std::printf("window: %d snapshots in priority order 10, 7, 5, 1 (%s): %s; the exporter threw %d "
                    "times, its sibling updated %d times\n",
                    shown, qPrintable(window->property("trace").toStringList().join(QStringLiteral(", "))),
                    window->property("orderOk").toBool() ? "yes" : "no",
                    window->property("exportFailures").toInt(), window->property("panelUpdates").toInt());
        simulateLongRun();
        const bool bounded = window->property("failuresListed").toInt() <= 3;
        std::printf("failure list bounded: %s\n", bounded ? "yes" : "no");
        const bool geometryOk = checkGeometry();
        if (!shot.isEmpty()) { // what hours of running look like, at the smallest size
            const QString base = shot.endsWith(QStringLiteral(".png")) ? shot.chopped(4) : shot;
            window->grabWindow().save(base + QStringLiteral("-long-run.png"));
        }
        status = qtComplete && registryLatest && pipelineOk && bounded && geometryOk && shotOk ? 0 : 1;
        std::printf("rio_qml_dashboard: %s\n", status == 0 ? "ok" : "FAILED");
        std::fflush(stdout);
        app.exit(status);
    };
    QTimer::singleShot(std::chrono::seconds(seconds), &app, [&] {
        if (!shot.isEmpty()) {
            const QImage image = window->grabWindow();
            int colours = 0;
            double spread = 0;
            shotOk = looksDrawn(image, &colours, &spread) && image.save(shot);
            std::printf("screenshot %s: %dx%d, %d colours, grey spread %.1f: %s\n", qPrintable(shot),
                        image.width(), image.height(), colours, spread, shotOk ? "not blank" : "BLANK");
        }
        flood.stop();
        // One last event, from this thread: both receivers must get it.
        const qint64 last = flood.published[0].load() + 1;
        flood.publish({0, last, nowNs()});
        flood.published[0].store(last);
        whenTrue(
            &app,
            [&] {
                return qtSide.handled.load() == flood.qtEmitted.load() &&
                       registrySide.shownSeq[0].load() == flood.published[0].load();
            },
            [&](bool drained) { drained ? finish() : fail("the receivers did not drain in 20 s"); });
    });
    app.exec();
    flood.stop();
    return status;
}
