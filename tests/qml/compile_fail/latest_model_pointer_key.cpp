// SPDX-License-Identifier: MIT
// A pointer key other than a C string (of char, char8_t, char16_t, char32_t or wchar_t) or a
// QObject * would be keyed by its address, which is reused: a LatestModelWriter refuses it with a
// message saying what to pass.
// expect: LatestModel key: a pointer would be keyed by its address
#include <registryio/qml/latest_model.h>

struct Level
{
    int sensor = 0;
};

void write(const rio::LatestModelWriter<Level> &writer, const unsigned char *name)
{
    writer.write(name, Level{1});
}
