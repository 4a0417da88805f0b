// SPDX-License-Identifier: MIT
// A translation unit of its own (never merged by a unity build): an anonymous-namespace `Sample`
// named as tst_qml_latest_model.cpp's, of another size, which Qt gives the same QMetaType id.

#include <registryio/qml/latest_model.h>

#include <memory>

namespace {
struct Sample
{
    char c;
};
} // namespace

QMetaType twinSampleType()
{
    return QMetaType::fromType<Sample>();
}

void writeTwinSample(rio::LatestModel &model, int key, char c)
{
    const auto event = std::make_unique<Sample>(Sample{c}); // on the heap: a read past it is seen
    model.writer<Sample>().write(key, *event);
}
