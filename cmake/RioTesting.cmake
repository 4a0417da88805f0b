# SPDX-License-Identifier: MIT
include_guard(GLOBAL)
include(RioTestHooks)
find_package(Qt6 6.4 REQUIRED COMPONENTS Core Test)

# Tests labelled `sanitize` are the ones .ci/run also runs under ThreadSanitizer and
# AddressSanitizer+UBSan; building this target builds exactly them.
if(NOT TARGET rio_sanitize)
  add_custom_target(rio_sanitize)
endif()

# rio_add_test(<name> SOURCES <files...> [LIBS <targets...>] [LABELS <labels...>]
#              [TIMEOUT <seconds>] [ENV <VAR=value...>] [ARGS <args...>])
# One Qt Test executable per concern, registered with CTest under the same name.
function(rio_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;ENV;ARGS" ${ARGN})
  # A test of a layer that this configuration does not build (RIO_BUILD_QT/QML off) is skipped.
  foreach(lib IN LISTS T_LIBS)
    if(lib MATCHES "^RegistryIO::" AND NOT TARGET ${lib})
      message(STATUS "${name}: skipped, ${lib} is not built in this configuration")
      return()
    endif()
  endforeach()
  add_executable(${name} ${T_SOURCES})
  # RegistryIO::TestHooks: the libraries' test-only *_testing_p.h headers (never installed).
  target_link_libraries(${name} PRIVATE ${T_LIBS} Qt6::Test RegistryIO::TestHooks)
  rio_target_defaults(${name})
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "QT_QPA_PLATFORM=offscreen;${T_ENV}")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
  if("sanitize" IN_LIST T_LABELS)
    add_dependencies(rio_sanitize ${name})
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
  add_test(NAME ${name}_fallback COMMAND ${name})
  set_tests_properties(${name}_fallback PROPERTIES TIMEOUT ${timeout} ENVIRONMENT "${env};RIO_FENCE=fallback")
  if(labels)
    set_tests_properties(${name}_fallback PROPERTIES LABELS "${labels}")
  endif()
endfunction()
