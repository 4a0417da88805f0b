# SPDX-License-Identifier: MIT
# RegistryIO::TestHooks: the one way tests reach the libraries' test-only injection points and
# private headers. Each hook is declared in a `*_testing_p.h` header next to the library's sources
# (src/core/src, src/qt/src), exported from the library (so a DLL build links), and never installed;
# the Remote layer's wire codec (src/remote/src/remote_codec_p.h) is reached the same way. This
# target puts those folders on a test's include path, in the build tree only, and is not exported.
include_guard(GLOBAL)
if(NOT TARGET rio_test_hooks)
  add_library(rio_test_hooks INTERFACE)
  add_library(RegistryIO::TestHooks ALIAS rio_test_hooks)
  target_include_directories(rio_test_hooks INTERFACE
    "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src/core/src>"
    "$<$<TARGET_EXISTS:RegistryIOQt>:$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src/qt/src>>"
    "$<$<TARGET_EXISTS:RegistryIORemote>:$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src/remote/src>>")
endif()
