// SPDX-License-Identifier: MIT
// What the headless run checks beyond the delivery counts: the window's geometry after a
// simulated long run, and that a screenshot is not blank.
#pragma once

#include <QImage>
#include <QObject>
#include <QStringList>
#include <QVariantMap>

#include <functional>

class QQmlEngine;
class QQuickItem;
class QQuickWindow;

/// Finds Text items (Text, Label) under `item` that overflow: wider or taller than their own box,
/// or outside the nearest Control (Frame, Pane, ToolBar...) around them. One line each; counts
/// the texts it checked into `checked`.
QStringList overflowingTexts(QQuickItem *item, int *checked);

/// Resizes `window` to 1280x960 (the inspector shown), 1280x800 and 800x600 (the snapshots'
/// handlers hidden) and checks no text overflows at any of them;
/// then plants an overflowing label and checks it is found (so the check cannot pass vacuously).
/// Prints what it found. True when all is well.
bool checkGeometry(QQuickWindow *window, QQmlEngine *engine);

/// A snapshot as Monitor::snapshot() makes, of a run of hours: every number at its widest, and
/// (if `failing`) a long export error.
QVariantMap longRunSnapshot(qint64 seq, bool failing);

/// Checks that the window's inspector (its DiagnosticsModel, refreshed now) lists a handler of
/// the registry `registry` that failed, and prints the row's place and failures. True when it does.
bool inspectorListsFailing(QQuickWindow *window, const QString &registry);

/// Not blank: many colours (`colours`) and contrast (`spread`: standard deviation of grey).
bool looksDrawn(const QImage &image, int *colours, double *spread);

/// Calls `then(true)` once `done()` holds, checking every 10 ms; `then(false)` after 20 s.
void whenTrue(QObject *context, const std::function<bool()> &done, const std::function<void(bool)> &then);
