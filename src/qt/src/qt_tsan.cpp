// SPDX-License-Identifier: MIT
// ThreadSanitizer's view of Qt's event posting (see detail/qt_tsan.h).
#include <registryio/qt/detail/qt_tsan.h>

#include <mutex>

namespace rio::detail {

#if defined(RIO_TSAN)
namespace {
std::mutex tsanPostMutex;
thread_local bool tsanPosting = false;
} // namespace

TsanPostScope::TsanPostScope() noexcept : m_outer(!tsanPosting)
{
    if (m_outer) {
        tsanPostMutex.lock();
        tsanPosting = true;
    }
}

TsanPostScope::~TsanPostScope()
{
    if (m_outer) {
        tsanPosting = false;
        tsanPostMutex.unlock();
    }
}

void tsanSyncWithPosters() noexcept
{
    if (!tsanPosting) {
        tsanPostMutex.lock();
        tsanPostMutex.unlock();
    }
}
#endif

} // namespace rio::detail
