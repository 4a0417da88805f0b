# SPDX-License-Identifier: MIT
# The Qt-free part of the test setup: the rio_sanitize target, the fallback-fence copies of a
# test, and the core tests' harness (tests/core/rio_check.h), so that tests/core configures
# without Qt (the libc++ and MinGW stages). RioTesting.cmake adds the Qt Test suites on top.
include_guard(GLOBAL)
include(RioTestHooks)
include(RioPrecompileHeaders)

# Tests labelled `sanitize` are the ones scripts/test.sh also runs under ThreadSanitizer and
# AddressSanitizer+UBSan; building this target builds exactly them.
if(NOT TARGET rio_sanitize)
  add_custom_target(rio_sanitize)
endif()
# Every core test (label `core`): what the libc++ and MinGW stages build.
if(NOT TARGET rio_core_tests)
  add_custom_target(rio_core_tests)
endif()

# rio_add_core_test(<name> [SOURCES <extra files...>] [LIBS <targets...>] [LABELS <labels...>]
#                   [TIMEOUT <seconds>])
# One executable per concern from <name>.cpp and the harness's main(), registered with CTest
# under the same name and the label `core`. Under a cross build, CMAKE_CROSSCOMPILING_EMULATOR
# (wine) runs it.
function(rio_add_core_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  # The harness's main(), compiled once for every test.
  if(NOT TARGET rio_check_main)
    add_library(rio_check_main OBJECT rio_check_main.cpp rio_check.h)
    rio_target_defaults(rio_check_main)
    set_target_properties(rio_check_main PROPERTIES AUTOMOC OFF)
  endif()
  add_executable(${name} ${name}.cpp ${T_SOURCES} $<TARGET_OBJECTS:rio_check_main>)
  target_link_libraries(${name} PRIVATE RegistryIO::Core RegistryIO::TestHooks ${T_LIBS})
  rio_target_defaults(${name})
  rio_precompile_headers(${name})
  set_target_properties(${name} PROPERTIES AUTOMOC OFF)
  add_dependencies(rio_core_tests ${name})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  # The exit code decides (0 only when something ran and nothing failed); a FAIL line fails the
  # test even if the process somehow exits 0.
  set_tests_properties(${name} PROPERTIES LABELS "core;${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    FAIL_REGULAR_EXPRESSION "(^|\n)FAIL ")
  if("sanitize" IN_LIST T_LABELS)
    add_dependencies(rio_sanitize ${name})
  endif()
  if("serial" IN_LIST T_LABELS)
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()

# rio_add_fallback_test(<name>): the test <name> again as <name>_fallback, with RIO_FENCE=fallback
# (readers use sequentially consistent fences, writers no heavy fence), same labels and timeout,
# so the sanitizer stages also judge the protocol of platforms without membarrier.
function(rio_add_fallback_test name)
  if(NOT TARGET ${name})
    return()
  endif()
  get_test_property(${name} LABELS labels)
  get_test_property(${name} TIMEOUT timeout)
  get_test_property(${name} ENVIRONMENT env)
  get_test_property(${name} FAIL_REGULAR_EXPRESSION failRegex)
  get_test_property(${name} RUN_SERIAL serial)
  if(NOT env)
    set(env "")
  endif()
  list(APPEND env "RIO_FENCE=fallback")
  add_test(NAME ${name}_fallback COMMAND ${name})
  set_tests_properties(${name}_fallback PROPERTIES TIMEOUT ${timeout} ENVIRONMENT "${env}")
  if(labels)
    set_tests_properties(${name}_fallback PROPERTIES LABELS "${labels}")
  endif()
  if(failRegex)
    set_tests_properties(${name}_fallback PROPERTIES FAIL_REGULAR_EXPRESSION "${failRegex}")
  endif()
  if(serial)
    set_tests_properties(${name}_fallback PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()
