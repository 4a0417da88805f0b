# SPDX-License-Identifier: MIT
include_guard(GLOBAL)
include(RioTestHooks) # Qt6 (Core, Test) is found by the top-level CMakeLists.txt

# The Qt-free part: rio_sanitize, rio_add_fallback_test, rio_add_core_test.
include(RioCoreTesting)

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
  # Never part of a unity build (CMAKE_UNITY_BUILD): a test is one source, and its own entry in
  # compile_commands.json is what the compile-fail tests (tests/qt/compile_fail) compile with.
  set_target_properties(${name} PROPERTIES UNITY_BUILD OFF)
  # RegistryIO::TestHooks: the libraries' test-only *_testing_p.h headers (never installed).
  target_link_libraries(${name} PRIVATE ${T_LIBS} Qt6::Test RegistryIO::TestHooks)
  rio_target_defaults(${name})
  rio_precompile_headers(${name})
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  # Qt Test's own watchdog (5 minutes per test function by default) given CTest's timeout.
  math(EXPR functionTimeoutMs "${T_TIMEOUT} * 1000")
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "QT_QPA_PLATFORM=offscreen;QTEST_FUNCTION_TIMEOUT=${functionTimeoutMs};${T_ENV}")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
  # `serial`: the test wants both cores to itself, in every ctest run (sanitizer stages too).
  if("serial" IN_LIST T_LABELS)
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
  if("sanitize" IN_LIST T_LABELS)
    add_dependencies(rio_sanitize ${name})
  endif()
endfunction()
