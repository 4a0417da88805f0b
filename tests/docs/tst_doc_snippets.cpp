// SPDX-License-Identifier: MIT
// The code in the user pages (README.md and docs/, but the maintainers' pages) is real code. Every
// fenced block there is marked: `<!-- snippet: <path>[#<region>] -->` before a block makes it
// equal the named region of that file (the lines between two comment lines ending in `[region]`,
// dedented), or the whole file when no region is named; the files are examples that build and run
// as tests, so the docs compile and stay true. In README.md a block may instead be marked
// `<!-- ci: <name> -->`: a command CI runs as written (scripts/readme-block.sh prints it), so a
// script must name it.
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QTest>

#include <optional>

namespace {

const QString sourceDir = QStringLiteral(RIO_SOURCE_DIR);

std::optional<QString> readText(const QString &relativePath)
{
    QFile file(QDir(sourceDir).filePath(relativePath));
    if (!file.open(QIODevice::ReadOnly))
        return std::nullopt;
    return QString::fromUtf8(file.readAll());
}

// One fenced code block of a markdown file, with the snippet reference in front of it (if any).
struct Block
{
    QString document;
    int line = 0; // 1-based line of the opening fence
    QString language;
    QString reference; // empty when the block is not marked
    QString ci;        // the name of a `<!-- ci: name -->` marker, if any
    QString code;
};

QList<Block> codeBlocks(const QString &document, const QString &text)
{
    static const QRegularExpression marker(QStringLiteral(R"(^\s*<!--\s*snippet:\s*(\S+)\s*-->\s*$)"));
    static const QRegularExpression ciMarker(QStringLiteral(R"(^\s*<!--\s*ci:\s*(\S+)\s*-->\s*$)"));
    static const QRegularExpression fence(QStringLiteral(R"(^\s*```\s*([\w+-]*)\s*$)"));
    const QStringList lines = text.split(QLatin1Char('\n'));
    QList<Block> blocks;
    QString pending;
    QString pendingCi;
    for (int i = 0; i < lines.size(); ++i) {
        if (const auto m = marker.match(lines[i]); m.hasMatch()) {
            pending = m.captured(1);
            continue;
        }
        if (const auto m = ciMarker.match(lines[i]); m.hasMatch()) {
            pendingCi = m.captured(1);
            continue;
        }
        const auto open = fence.match(lines[i]);
        if (!open.hasMatch()) {
            if (!lines[i].trimmed().isEmpty()) {
                pending.clear(); // a marker applies to the block right after it
                pendingCi.clear();
            }
            continue;
        }
        Block block{document, i + 1, open.captured(1), pending, pendingCi, {}};
        QStringList code;
        for (++i; i < lines.size() && !lines[i].trimmed().startsWith(QLatin1String("```")); ++i)
            code << lines[i];
        block.code = code.join(QLatin1Char('\n'));
        blocks << block;
        pending.clear();
        pendingCi.clear();
    }
    return blocks;
}

QString stripTrailingNewlines(QString s)
{
    while (s.endsWith(QLatin1Char('\n')))
        s.chop(1);
    return s;
}

// The region `name` of `text`: lines strictly between the first two comment lines that end in
// `[name]`, with their common indentation removed. nullopt when the markers are missing.
std::optional<QString> region(const QString &text, const QString &name)
{
    if (name.isEmpty()) {
        // A whole file: without its licence line, which the docs do not repeat.
        static const QRegularExpression spdx(QStringLiteral(R"(^\S+ SPDX-License-Identifier: [^\n]*\n)"));
        return stripTrailingNewlines(QString(text).remove(spdx));
    }
    const QString tag = QLatin1Char('[') + name + QLatin1Char(']');
    const QStringList lines = text.split(QLatin1Char('\n'));
    QList<int> markers;
    for (int i = 0; i < lines.size() && markers.size() < 2; ++i) {
        const QString t = lines[i].trimmed();
        const bool comment = t.startsWith(QLatin1String("//")) || t.startsWith(QLatin1Char('#'));
        if (comment && t.endsWith(tag))
            markers << i;
    }
    if (markers.size() < 2)
        return std::nullopt;
    QStringList body = lines.mid(markers[0] + 1, markers[1] - markers[0] - 1);
    qsizetype indent = -1;
    for (const QString &l : body) {
        if (l.trimmed().isEmpty())
            continue;
        qsizetype n = 0;
        while (n < l.size() && l[n] == QLatin1Char(' '))
            ++n;
        indent = indent < 0 ? n : std::min(indent, n);
    }
    for (QString &l : body)
        l = l.trimmed().isEmpty() ? QString() : l.mid(std::max<qsizetype>(indent, 0));
    return stripTrailingNewlines(body.join(QLatin1Char('\n')));
}

// README.md and every docs/**/*.md.
QStringList documents()
{
    QStringList docs{QStringLiteral("README.md")};
    QDirIterator it(QDir(sourceDir).filePath(QStringLiteral("docs")), {QStringLiteral("*.md")}, QDir::Files,
                    QDirIterator::Subdirectories);
    QStringList found;
    while (it.hasNext())
        found << QDir(sourceDir).relativeFilePath(it.next());
    found.sort();
    return docs + found;
}

// The maintainers' pages (as tests/docs/doc_shape.py tells them): ARCHITECTURE, CONTRIBUTING,
// PERFORMANCE, CHANGELOG, and pages under a folder named for maintainers, internals or development.
bool isUserPage(const QString &document)
{
    static const QRegularExpression maintainers(
        QStringLiteral(R"((ARCHITECTURE|CONTRIBUTING|PERFORMANCE|CHANGELOG)[^/]*\.md$)"),
        QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression folder(QStringLiteral("maint|intern|develop"),
                                           QRegularExpression::CaseInsensitiveOption);
    return !maintainers.match(document).hasMatch() && !folder.match(QFileInfo(document).path()).hasMatch();
}

} // namespace

class tst_DocSnippets : public QObject
{
    Q_OBJECT

private slots:
    void regionExtractionFindsMarkedLines()
    {
        const QString file = QStringLiteral("a\n    //! [x]\n    int v = 1;\n      f(v);\n    //! [x]\nb\n");
        QCOMPARE(region(file, QStringLiteral("x")).value_or(QString()),
                 QStringLiteral("int v = 1;\n  f(v);"));
        QVERIFY(!region(file, QStringLiteral("y")).has_value());
        QCOMPARE(region(file, QString()).value_or(QString()), stripTrailingNewlines(file));
    }

    void markedBlocksMatchTheirSource_data()
    {
        QTest::addColumn<QString>("reference");
        QTest::addColumn<QString>("code");
        for (const QString &doc : documents()) {
            const auto text = readText(doc);
            QVERIFY2(text, qPrintable(doc));
            for (const Block &b : codeBlocks(doc, *text))
                if (!b.reference.isEmpty())
                    QTest::addRow("%s:%d %s", qPrintable(doc), b.line, qPrintable(b.reference))
                        << b.reference << b.code;
        }
    }

    void markedBlocksMatchTheirSource()
    {
        QFETCH(QString, reference);
        QFETCH(QString, code);
        const QString path = reference.section(QLatin1Char('#'), 0, 0);
        const QString name = reference.section(QLatin1Char('#'), 1);
        const auto text = readText(path);
        QVERIFY2(text, qPrintable(QStringLiteral("cannot read ") + path));
        const auto expected = region(*text, name);
        QVERIFY2(expected, qPrintable(QStringLiteral("no region [%1] in %2").arg(name, path)));
        if (code != *expected) {
            const QStringList got = code.split(QLatin1Char('\n'));
            const QStringList want = expected->split(QLatin1Char('\n'));
            qsizetype i = 0;
            while (i < got.size() && i < want.size() && got[i] == want[i])
                ++i;
            QFAIL(qPrintable(QStringLiteral("block differs from %1 at its line %2:\n  doc:  %3\n  file: %4")
                                 .arg(reference)
                                 .arg(i + 1)
                                 .arg(i < got.size() ? got[i] : QStringLiteral("<end>"),
                                      i < want.size() ? want[i] : QStringLiteral("<end>"))));
        }
    }

    // Relative links of README.md and docs/*.md point at files that exist.
    void relativeLinksResolve()
    {
        static const QRegularExpression link(QStringLiteral(R"(\]\(([^)\s]+)\))"));
        QStringList broken;
        for (const QString &doc : documents()) {
            const auto text = readText(doc);
            QVERIFY2(text, qPrintable(doc));
            const QDir base = QFileInfo(QDir(sourceDir).filePath(doc)).dir();
            // Code is not prose: drop fenced blocks and inline code spans first.
            static const QRegularExpression code(QStringLiteral(R"(```.*?```|`[^`\n]*`)"),
                                                 QRegularExpression::DotMatchesEverythingOption);
            const QString prose = QString(*text).remove(code);
            for (auto it = link.globalMatch(prose); it.hasNext();) {
                const QString target = it.next().captured(1).section(QLatin1Char('#'), 0, 0);
                if (target.isEmpty() || target.contains(QLatin1String("://")) ||
                    target.startsWith(QLatin1String("mailto:")))
                    continue;
                if (!QFileInfo::exists(base.filePath(target)))
                    broken << doc + QLatin1String(" -> ") + target;
            }
        }
        QVERIFY2(broken.isEmpty(),
                 qPrintable(QStringLiteral("broken links:\n  ") + broken.join(QStringLiteral("\n  "))));
    }

    // Every block of a user page is tested: a snippet of a program that builds and runs, or (in
    // README.md) a command CI runs as written, whose name a script of scripts/ reads.
    void userPageBlocksAreAllTested()
    {
        QString scripts;
        for (const QString &name : QDir(QDir(sourceDir).filePath(QStringLiteral("scripts")))
                                       .entryList({QStringLiteral("*.sh")}, QDir::Files))
            scripts += readText(QStringLiteral("scripts/") + name).value_or(QString());
        QStringList untested;
        int blocks = 0;
        for (const QString &doc : documents()) {
            if (!isUserPage(doc))
                continue;
            const auto text = readText(doc);
            QVERIFY2(text, qPrintable(doc));
            for (const Block &b : codeBlocks(doc, *text)) {
                ++blocks;
                const QString where = QStringLiteral("%1:%2").arg(doc).arg(b.line);
                if (!b.reference.isEmpty())
                    continue;
                if (b.ci.isEmpty())
                    untested << where + QStringLiteral(": an unmarked block");
                else if (doc != QLatin1String("README.md"))
                    untested << where + QStringLiteral(": a ci block outside README.md");
                else if (!QRegularExpression(QStringLiteral("\\b%1\\b").arg(QRegularExpression::escape(b.ci)))
                              .match(scripts)
                              .hasMatch())
                    untested << where + QStringLiteral(": ci block %1, which no script of scripts/ runs")
                                            .arg(b.ci);
            }
        }
        QVERIFY2(untested.isEmpty(), qPrintable(untested.join(QLatin1Char('\n'))));
        QVERIFY(blocks > 0);
        const auto readme = readText(QStringLiteral("README.md"));
        QVERIFY(readme);
        for (const char *start : {"examples/quickstart/main.cpp", "examples/quickstart-qml/Main.qml",
                                  "examples/quickstart-remote/Main.qml"})
            QVERIFY2(readme->contains(QStringLiteral("<!-- snippet: ") + QLatin1String(start)),
                     qPrintable(QStringLiteral("README.md has no quick start from ") + QLatin1String(start)));
    }
};

QTEST_GUILESS_MAIN(tst_DocSnippets)
#include "tst_doc_snippets.moc"
