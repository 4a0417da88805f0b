# SPDX-License-Identifier: MIT
# Warnings on our own code, never on third-party headers. Errors only with RIO_WERROR (ON in
# scripts/test.sh, scripts/demo.sh and CI; OFF for users, whose newer compilers may warn about
# things ours do not).
option(RIO_WERROR "Treat compiler warnings in RegistryIO's own targets as errors" OFF)

function(rio_target_defaults target)
  if(MSVC)
    # /permissive-: standard conformance (two-phase lookup, no non-standard conversions).
    target_compile_options(${target} PRIVATE /W4 /permissive- $<$<BOOL:${RIO_WERROR}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic $<$<BOOL:${RIO_WERROR}>:-Werror>)
  endif()
endfunction()

# rio_generate_export_header(<target> <path> <PREFIX>): generates
# ${PROJECT_BINARY_DIR}/include/registryio/<path>_export.h (for example qt/qt_export.h) with <PREFIX>_EXPORT (and
# <PREFIX>_NO_EXPORT, <PREFIX>_DEPRECATED), puts it on the target's include path, and defines
# <PREFIX>_STATIC_DEFINE for the target and its users when it is a static library (so that a
# static build neither dllexports nor dllimports). RioInstall.cmake installs the generated folder.
include(GenerateExportHeader)
function(rio_generate_export_header target path prefix)
  set(dir "${PROJECT_BINARY_DIR}/include")
  generate_export_header(${target}
    BASE_NAME ${prefix}
    EXPORT_MACRO_NAME ${prefix}_EXPORT
    EXPORT_FILE_NAME "${dir}/registryio/${path}_export.h")
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${dir}>)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "STATIC_LIBRARY")
    target_compile_definitions(${target} PUBLIC ${prefix}_STATIC_DEFINE)
  endif()
  set_property(GLOBAL APPEND PROPERTY RIO_EXPORT_HEADERS "${path}_export.h")
endfunction()

# rio_example(<target> [TEST <name> PASS <regex> [ARGS <args...>] [LABELS <labels...>]
#             [FAIL <regex>]])
# An example program of RegistryIO's build: the project's warnings, ${CMAKE_BINARY_DIR}/examples;
# with TEST, also a CTest test (label `example`) whose output must match PASS. Each example's
# CMakeLists.txt creates its targets with plain CMake (so it also builds on its own against an
# installed RegistryIO) and calls this only when it exists.
function(rio_example target)
  # PARSE_ARGV keeps a `;` inside PASS: a regular expression is one string, never a list of
  # alternatives any one of which would pass (a list property splits at `;`, except in brackets).
  cmake_parse_arguments(PARSE_ARGV 1 E "" "TEST;PASS;FAIL" "ARGS;LABELS")
  string(REPLACE ";" "[;]" E_PASS "${E_PASS}")
  rio_target_defaults(${target})
  set_target_properties(${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/examples")
  if(RIO_BUILD_TESTS AND E_TEST)
    add_test(NAME ${E_TEST} COMMAND ${target} ${E_ARGS})
    set_tests_properties(${E_TEST} PROPERTIES LABELS "example;${E_LABELS}" TIMEOUT 60
      ENVIRONMENT "QT_QPA_PLATFORM=offscreen" PASS_REGULAR_EXPRESSION "${E_PASS}")
    if(E_FAIL)
      set_tests_properties(${E_TEST} PROPERTIES FAIL_REGULAR_EXPRESSION "${E_FAIL}")
    endif()
  endif()
endfunction()
