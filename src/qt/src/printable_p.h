// SPDX-License-Identifier: MIT
#pragma once

#include <QString>

#include <algorithm>

namespace rio::detail {

// `text` with its control characters (C0, DEL and C1: a terminal's escape sequences, line breaks)
// written as escapes (\n, \r, \t, \xHH), so that a name from elsewhere (an application's
// registry, file or thread name) cannot forge lines or drive the terminal it is printed on.
// Hidden: a helper of the library's own files and its tools, never part of its ABI.
Q_DECL_HIDDEN inline QString printable(const QString &text)
{
    const auto control = [](QChar c) {
        return c.unicode() < 0x20 || (c.unicode() >= 0x7f && c.unicode() < 0xa0);
    };
    if (std::none_of(text.begin(), text.end(), control))
        return text;
    QString out;
    for (const QChar c : text) {
        if (!control(c))
            out += c;
        else if (c == u'\n')
            out += QStringLiteral("\\n");
        else if (c == u'\r')
            out += QStringLiteral("\\r");
        else if (c == u'\t')
            out += QStringLiteral("\\t");
        else
            out += QStringLiteral("\\x%1").arg(c.unicode(), 2, 16, QLatin1Char('0'));
    }
    return out;
}

// `text` as a table shows it: at most `most` characters, a longer one cut in the middle (its
// start and its end kept, a path's file name included) around "…".
Q_DECL_HIDDEN inline QString shown(const QString &text, qsizetype most = 256)
{
    if (text.size() <= most)
        return text;
    const qsizetype half = (most - 1) / 2;
    return text.left(half) + QChar(0x2026) + text.right(most - 1 - half);
}

} // namespace rio::detail
