// SPDX-License-Identifier: MIT
// Read by moc only, never by a compiler: AUTOMOC passes it to moc with `--include` for a target
// given to rio_target_moc() or rio_target_qml() (and for RegistryIO's own targets), with Qt
// before 6.5.3 only.
//
// Why: given the compiler's predefined macros (AUTOMOC's moc_predefs.h), Qt 6.4's moc (up to 6.5.2) fails on
// libstdc++'s C++20 headers, `Parse error at "std"` in <concepts>, whenever a standard header is
// read before the first Qt header, e.g. in a file whose first include is <registryio/registry.h>:
// it then never reads libstdc++'s configuration macros (_GLIBCXX_VISIBILITY, ...). Reading them
// here first fixes that whatever the include order, and keeps the predefined macros (so moc
// still sees the platform, unlike running it without them). moc skips an include it cannot
// find, so with libc++ or MSVC's library this file does nothing.
#include <bits/c++config.h>
