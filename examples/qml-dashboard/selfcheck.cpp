// SPDX-License-Identifier: MIT
#include "selfcheck.h"

#include <registryio/qt/diagnostics.h>
#include <registryio/qt/diagnostics_model.h>

#include <QDebug>
#include <QJsonObject>
#include <QQmlComponent>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSet>
#include <QTimer>
#include <QUrl>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

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

bool checkGeometry(QQuickWindow *window, QQmlEngine *engine)
{
    int checked = 0;
    QStringList found;
    for (const QSize s : {QSize(1280, 960), QSize(1280, 800), QSize(800, 600)}) {
        window->resize(s);
        window->grabWindow(); // polishes the layouts and renders at this size
        found += overflowingTexts(window->contentItem(), &checked);
    }
    std::printf("geometry after a simulated long run: %d texts checked at 1280x960, 1280x800 and 800x600, "
                "%lld overflow\n",
                checked, static_cast<long long>(found.size()));
    for (const QString &f : found)
        std::printf("  overflow: %s\n", qPrintable(f));
    QQmlComponent planted(engine);
    planted.setData("import QtQuick.Controls.Fusion\n"
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
}

QVariantMap longRunSnapshot(qint64 seq, bool failing)
{
    const QVariantMap side{
        {QStringLiteral("queued"), 98765432109LL},          {QStringLiteral("latencyMs"), 98765432.1},
        {QStringLiteral("memoryBytes"), 987654321098765LL}, {QStringLiteral("behind"), 9876543210987LL},
        {QStringLiteral("perSecond"), 9876543.2},           {QStringLiteral("capped"), true},
        {QStringLiteral("skipped"), 9876543210987LL}};
    const QVariantMap table{{QStringLiteral("rows"), 9876543210LL},
                            {QStringLiteral("current"), 9876543210LL},
                            {QStringLiteral("behind"), 9876543210987LL}};
    return {
        {QStringLiteral("seq"), seq},
        {QStringLiteral("seconds"), 987654.3},
        {QStringLiteral("published"), QVariantList{9876543.2, 9876543.2}},
        {QStringLiteral("fps"), 9876.5},
        {QStringLiteral("rssBytes"), 987654321098765LL},
        {QStringLiteral("exportError"),
         failing ? QStringLiteral("export sink offline: ") + QString(120, QLatin1Char('x')) : QString()},
        {QStringLiteral("qt"), side},
        {QStringLiteral("registry"), side},
        {QStringLiteral("ui"), side},
        {QStringLiteral("qtTable"), table},
        {QStringLiteral("latestTable"), table},
    };
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

bool inspectorListsFailing(QQuickWindow *window, const QString &registry)
{
    auto *model = window->findChild<rio::DiagnosticsModel *>();
    if (model == nullptr && window->contentItem() != nullptr)
        model = window->contentItem()->findChild<rio::DiagnosticsModel *>();
    if (model == nullptr) {
        std::printf("inspector: no DiagnosticsModel in the window: no\n");
        return false;
    }
    // The inspector's own cost, as its heading shows it: its last timed refresh.
    const double applyNs = model->applyNs(), snapshotNs = model->snapshotNs();
    model->refresh();
    for (int row = 0; row < model->rowCount(); ++row) {
        const rio::HandlerInfo h = model->handlerAt(row);
        if (h.registryName == registry && h.failures >= 1) {
            const QString where = model->index(row, rio::DiagnosticsModel::WhereColumn).data().toString();
            std::printf("inspector: lists the failing %s handler (%s) with %llu failures: yes\n",
                        qPrintable(registry), qPrintable(where), static_cast<unsigned long long>(h.failures));
            // The same handler as a JSON dump and qDebug() show it (RIO_DIAGNOSTICS_JSON=<path>
            // writes every handler's at exit).
            const QJsonObject json = rio::toJson(h);
            QString text;
            QDebug(&text) << h;
            const bool same = json.value(QStringLiteral("failures")).toInteger() == qint64(h.failures) &&
                              json.value(QStringLiteral("originLine")).toInt() == h.originLine &&
                              text.contains(QStringLiteral("failures %1").arg(h.failures));
            std::printf("as JSON: {\"originFile\": \"%s\", \"originLine\": %d, \"failures\": %lld}: %s\n",
                        qPrintable(QUrl(h.originFile).fileName()), h.originLine,
                        static_cast<long long>(json.value(QStringLiteral("failures")).toInteger()),
                        same ? "yes" : "no");
            std::printf("inspector's own cost per refresh: %s on the GUI thread, %s for the snapshot on its "
                        "worker (%d rows)\n",
                        qPrintable(rio::DiagnosticsModel::formatDuration(applyNs)),
                        qPrintable(rio::DiagnosticsModel::formatDuration(snapshotNs)), model->rowCount());
            return same;
        }
    }
    std::printf("inspector: lists no failing %s handler among %d rows: no\n", qPrintable(registry),
                model->rowCount());
    return false;
}
