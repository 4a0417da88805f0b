#pragma once

// Portable spellings of the compiler-specific attributes RegistryIO's headers use, so that they
// compile with GCC, Clang (ELF, Mach-O, MinGW) and MSVC alike. Include it first.

#if defined(__GNUC__) || defined(__clang__)
/// A function that is rarely called: kept out of the hot path's cache lines.
#define RIO_COLD [[gnu::cold]]
/// A function the compiler must not inline.
#define RIO_NOINLINE [[gnu::noinline]]
#elif defined(_MSC_VER)
#define RIO_COLD
#define RIO_NOINLINE __declspec(noinline)
#else
#define RIO_COLD
#define RIO_NOINLINE
#endif

// TLS models exist for ELF only (Windows has emutls or its own TLS, Mach-O its TLV descriptors).
#if (defined(__GNUC__) || defined(__clang__)) && defined(__ELF__)
/// A thread_local of a library loaded at startup: one TLS offset, no __tls_get_addr call.
#define RIO_TLS_INITIAL_EXEC [[gnu::tls_model("initial-exec")]]
/// A thread_local of the executable itself.
#define RIO_TLS_LOCAL_EXEC [[gnu::tls_model("local-exec")]]
#else
#define RIO_TLS_INITIAL_EXEC
#define RIO_TLS_LOCAL_EXEC
#endif

// moc only (never a compiler): given the compiler's predefined macros, Qt 6.4's moc fails on
// libstdc++'s C++20 headers (`Parse error at "std"` in <concepts>) when a standard header is read
// before any Qt header, unless libstdc++'s configuration was read first. moc skips an include it
// cannot find (libc++, MSVC's library). See also cmake/RegistryIOMocPrelude.h.
#if defined(Q_MOC_RUN)
#include <bits/c++config.h>
#endif
