// SPDX-License-Identifier: MIT
// The Qt Quick inspector (registryio-inspect-gui's window, offscreen) against a real running
// application (inspect_target, RegistryIO::Qt only, started with RIO_INSPECT=1): it lists it,
// attaches, shows its handler rows in the in-app inspector's table (registry, file:line), shows its
// frame timeline with the planted stall, detaches (the application goes on) and attaches again;
// the application killed while attached is said to have ended, the last table kept; an
// application that does not serve, and a socket that does not answer, are said so.
#include "inspector_session.h"

#include <registryio/qt/diagnostics_model.h>

#include <QDir>
#include <QLocalServer>
#include <QProcess>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QTest>

namespace {

using rio::inspect::InspectorSession;

constexpr int waitMs = 30'000; // bounds every wait on a loaded machine

struct Target
{
    QProcess process;
    int countLine = 0;
    int stallLine = 0;

    // Starts the target, serving when `serve`, and reads where its handlers were added.
    bool start(bool serve)
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("RIO_INSPECT"));
        if (serve)
            env.insert(QStringLiteral("RIO_INSPECT"), QStringLiteral("1"));
        process.setProcessEnvironment(env);
        process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        process.start(QStringLiteral(RIO_INSPECT_TARGET), {});
        if (!process.waitForStarted(waitMs))
            return false;
        const QList<QByteArray> words = readLine().split(' ');
        if (words.size() != 4 || words[0] != "handlers")
            return false;
        countLine = words[2].toInt();
        stallLine = words[3].toInt();
        return true;
    }
    QByteArray readLine()
    {
        while (!process.canReadLine())
            if (!process.waitForReadyRead(waitMs))
                return {};
        return process.readLine().trimmed();
    }
    [[nodiscard]] QString name() const
    {
        return QStringLiteral("rio-inspect-inspect_target-%1").arg(process.processId());
    }
    // Closes its input: it ends normally.
    bool stop()
    {
        process.closeWriteChannel();
        return process.waitForFinished(waitMs) && process.exitStatus() == QProcess::NormalExit &&
               process.exitCode() == 0;
    }
};

// The inspector's window, loaded as registryio-inspect-gui loads it.
struct Inspector
{
    QQmlApplicationEngine engine;
    InspectorSession *session = nullptr;
    rio::DiagnosticsModel *model = nullptr;
    QQuickWindow *window = nullptr;

    bool load()
    {
        engine.addImportPath(QStringLiteral(RIO_QML_IMPORT_PATH));
        engine.load(QUrl(QStringLiteral("qrc:/registryio/inspector/InspectorWindow.qml")));
        if (engine.rootObjects().isEmpty())
            return false;
        window = qobject_cast<QQuickWindow *>(engine.rootObjects().constFirst());
        session = qobject_cast<InspectorSession *>(window->property("session").value<QObject *>());
        model = session != nullptr ? qobject_cast<rio::DiagnosticsModel *>(session->model()) : nullptr;
        return model != nullptr;
    }
    [[nodiscard]] bool lists(const QString &name) const
    {
        for (const QVariant &a : session->applications())
            if (a.toMap().value(QStringLiteral("name")).toString() == name)
                return true;
        return false;
    }
    // The row of the handler added at `where` (file name:line) in `registry`, -1 if none.
    [[nodiscard]] int rowOf(const QString &registry, const QString &where) const
    {
        for (int row = 0; row < model->rowCount(); ++row) {
            const QModelIndex i = model->index(row, 0);
            if (i.data(rio::DiagnosticsModel::RegistryNameRole).toString() == registry &&
                i.data(rio::DiagnosticsModel::WhereRole).toString() == where)
                return row;
        }
        return -1;
    }
    // Whether an item of the window shows `text` (a delegate of the table, the message...).
    [[nodiscard]] bool shows(const QString &text) const { return shows(window->contentItem(), text); }
    static bool shows(const QQuickItem *item, const QString &text)
    {
        if (item->isVisible() && item->property("text").toString() == text)
            return true;
        const QList<QQuickItem *> children = item->childItems();
        return std::any_of(children.begin(), children.end(),
                           [&](const QQuickItem *c) { return shows(c, text); });
    }
};

QString place(int line)
{
    return QStringLiteral("inspect_target.cpp:%1").arg(line);
}

} // namespace

class tst_QuickInspector : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { rio::inspect::registerInspectorTypes(); }

    void attachShowsTheTableAndTimelineDetachesAndAttachesAgain()
    {
        Target target;
        QVERIFY(target.start(true));
        Inspector inspector;
        QVERIFY(inspector.load());
        QCOMPARE(inspector.model->rowCount(), 0); // never the inspector's own handlers
        QTRY_VERIFY_WITH_TIMEOUT(inspector.lists(target.name()), waitMs);

        QVERIFY(inspector.session->attach(target.name()));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Attached, waitMs);
        QTRY_VERIFY_WITH_TIMEOUT(inspector.rowOf(QStringLiteral("orders"), place(target.stallLine)) >= 0,
                                 waitMs);
        QVERIFY(inspector.rowOf(QStringLiteral("orders"), place(target.countLine)) >= 0);
        QVERIFY(!inspector.model->isLocal());
        QTRY_VERIFY_WITH_TIMEOUT(inspector.shows(place(target.stallLine)), waitMs); // a row of the table
        QVERIFY(inspector.session->message().contains(target.name()));

        // The timeline: the planted stall as a slow run, named by file and line, and frames.
        inspector.session->setTimelineShown(true);
        QVERIFY(target.readLine().startsWith("stalled")); // a stall in the timeline now
        QTRY_VERIFY_WITH_TIMEOUT(
            !inspector.session->frames().isEmpty() &&
                inspector.session->slowRuns().join(u'\n').contains(place(target.stallLine)),
            waitMs);
        QVERIFY(inspector.session->timelineSpan() > 0);

        inspector.session->detach();
        QCOMPARE(inspector.session->state(), InspectorSession::Detached);
        QTRY_COMPARE_WITH_TIMEOUT(inspector.model->rowCount(), 0, waitMs);
        QVERIFY(target.readLine().startsWith("stalled")); // it goes on

        QVERIFY(inspector.session->attach(QStringLiteral("local:") + target.name()));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Attached, waitMs);
        QTRY_VERIFY_WITH_TIMEOUT(inspector.rowOf(QStringLiteral("orders"), place(target.countLine)) >= 0,
                                 waitMs);
        inspector.session->detach();
        QVERIFY(target.stop());
    }

    void theApplicationKilledWhileAttachedIsSaidToHaveEnded()
    {
        Target target;
        QVERIFY(target.start(true));
        Inspector inspector;
        QVERIFY(inspector.load());
        QTRY_VERIFY_WITH_TIMEOUT(inspector.session->attach(target.name()), waitMs); // once it listens
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Attached, waitMs);
        QTRY_VERIFY_WITH_TIMEOUT(inspector.model->rowCount() > 0, waitMs);
        const int rows = inspector.model->rowCount();
        target.process.kill();
        QVERIFY(target.process.waitForFinished(waitMs));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Lost, waitMs);
        QVERIFY2(inspector.session->message().contains(QStringLiteral("ended")),
                 qPrintable(inspector.session->message()));
        QVERIFY(inspector.shows(inspector.session->message()));
        QCOMPARE(inspector.model->rowCount(), rows); // its last table
        QVERIFY(!inspector.lists(target.name()));
        inspector.session->detach();
        QTRY_COMPARE_WITH_TIMEOUT(inspector.model->rowCount(), 0, waitMs);
    }

    void anApplicationThatDoesNotServeIsSaidSo()
    {
        Target target;
        QVERIFY(target.start(false));
        Inspector inspector;
        QVERIFY(inspector.load());
        QVERIFY(!target.readLine().isEmpty()); // well under way
        inspector.session->rescan();
        QVERIFY(!inspector.lists(target.name()));
        QVERIFY(!inspector.session->attach(target.name()));
        QCOMPARE(inspector.session->state(), InspectorSession::Detached);
        QVERIFY2(inspector.session->message().contains(QStringLiteral("Nothing serves at")),
                 qPrintable(inspector.session->message()));
        QVERIFY(target.stop());

        // A socket of this user that never answers as an application serving does.
        QLocalServer silent;
        const QString name = QStringLiteral("rio-inspect-silent-%1").arg(QCoreApplication::applicationPid());
        QLocalServer::removeServer(name);
        QVERIFY(silent.listen(name));
        inspector.session->setTimeout(1000);
        QVERIFY(inspector.session->attach(name));
        QTRY_COMPARE_WITH_TIMEOUT(inspector.session->state(), InspectorSession::Detached, waitMs);
        QVERIFY2(inspector.session->message().contains(QStringLiteral("does not serve")),
                 qPrintable(inspector.session->message()));
        QCOMPARE(inspector.model->rowCount(), 0);
    }
};

QTEST_MAIN(tst_QuickInspector)
#include "tst_quick_inspector.moc"
