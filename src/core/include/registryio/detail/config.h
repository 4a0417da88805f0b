#pragma once

// Portable spellings of the few compiler features RegistryIO's headers use.

#if defined(__GNUC__) || defined(__clang__)
#define RIO_COLD [[gnu::cold, gnu::noinline]]
#define RIO_UNLIKELY_PATH [[gnu::cold]]
#else
#define RIO_COLD
#define RIO_UNLIKELY_PATH
#endif

#if defined(__GNUC__) && defined(__ELF__)
#define RIO_TLS_INITIAL_EXEC [[gnu::tls_model("initial-exec")]]
#else
#define RIO_TLS_INITIAL_EXEC
#endif

// The core library's export macro (Windows DLLs; default visibility elsewhere).
#if __has_include(<registryio/core_export.h>)
#include <registryio/core_export.h>
#endif
#ifndef RIO_CORE_EXPORT
#define RIO_CORE_EXPORT
#endif

// Windows cannot import thread-local data from a DLL: there the read side always enters through
// an exported function instead of reading the reader record inline.
#if defined(_WIN32)
#define RIO_INLINE_READER_TLS 0
#else
#define RIO_INLINE_READER_TLS 1
#endif

// ThreadSanitizer does not model fences: in its builds both sides use sequentially consistent
// atomic operations instead.
#if defined(__SANITIZE_THREAD__)
#define RIO_SEQ_CST_OPS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RIO_SEQ_CST_OPS 1
#endif
#endif
#ifndef RIO_SEQ_CST_OPS
#define RIO_SEQ_CST_OPS 0
#endif
