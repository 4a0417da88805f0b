// SPDX-License-Identifier: MIT
#include <registryio/qt/detail/frame_pacer.h>
#include <registryio/qt/latest_value.h>

#include <utility>

namespace rio {

LatestValueBase::LatestValueBase(QObject *parent)
    : QObject(parent),
      m_pacer(std::make_unique<detail::FramePacer>(this, [](QObject *self, const QVariant &value) {
          static_cast<LatestValueBase *>(self)->m_value.setValue(value);
      }))
{ }

LatestValueBase::~LatestValueBase() = default;

void LatestValueBase::offer(QVariant value)
{
    m_pacer->offer(std::move(value));
}

} // namespace rio
