// SPDX-License-Identifier: MIT
#pragma once

// DropReason's one name table: the JSON's keys, which the item model and the inspector show too.

#include <registryio/drop_reason.h>

#include <QString>

namespace rio::detail {

// DropReason's names in its order, as the JSON writes them ("contextDestroyed").
inline constexpr const char *dropReasonNames[dropReasonCount] = {"overflow",  "removed",  "contextDestroyed",
                                                                 "suspended", "noMemory", "discarded"};

// A reason's name as words for display ("context destroyed").
inline QString dropReasonWords(int reason)
{
    QString words = QLatin1String(dropReasonNames[reason]);
    for (qsizetype i = words.size() - 1; i > 0; --i) {
        if (words[i].isUpper()) {
            words[i] = words[i].toLower();
            words.insert(i, u' ');
        }
    }
    return words;
}

} // namespace rio::detail
