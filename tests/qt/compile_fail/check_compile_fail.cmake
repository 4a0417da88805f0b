# SPDX-License-Identifier: MIT
# cmake -DCOMPILE_COMMANDS=<build>/compile_commands.json -DREFERENCE=<source> -DSOURCE=<source>
#       -P check_compile_fail.cmake
# Compiles SOURCE with -fsyntax-only and the command that the build compiles REFERENCE with (its
# compiler, flags, definitions and include paths, read from compile_commands.json). Passes only
# when the compilation fails, its output contains the text of every `// expect: <text>` line of
# SOURCE, and every error line of that output contains one of those texts (so the error is the
# expected one, with no other error beside it).
# The texts are handled as plain strings, never as CMake lists: compiler messages hold `;`, `[`
# and `]`, which lists would split or join.
cmake_minimum_required(VERSION 3.21)
foreach(var IN ITEMS COMPILE_COMMANDS REFERENCE SOURCE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_compile_fail.cmake: -D${var}=... is required")
  endif()
endforeach()

# The reference's entry: from the `{` before its "file" to the `}` after it.
file(READ "${COMPILE_COMMANDS}" json)
string(FIND "${json}" "\"file\": \"${REFERENCE}\"" at)
if(at EQUAL -1)
  message(FATAL_ERROR "no compile command for ${REFERENCE} in ${COMPILE_COMMANDS}")
endif()
string(SUBSTRING "${json}" 0 ${at} head)
string(FIND "${head}" "\n{" begin REVERSE)
string(SUBSTRING "${json}" ${begin} -1 tail)
string(FIND "${tail}" "\n}" end)
math(EXPR end "${end} + 2")
string(SUBSTRING "${tail}" 0 ${end} entry)
string(JSON command GET "${entry}" command)
string(JSON directory GET "${entry}" directory)

# The same command, without its output, dependency files and source, checking SOURCE's syntax
# (templates instantiated) instead.
separate_arguments(words UNIX_COMMAND "${command}")
set(args "")
set(skip_next FALSE)
foreach(word IN LISTS words)
  if(skip_next)
    set(skip_next FALSE)
  elseif(word STREQUAL "-o" OR word STREQUAL "-MT" OR word STREQUAL "-MF")
    set(skip_next TRUE)
  elseif(NOT word STREQUAL "-c" AND NOT word STREQUAL "-MD" AND NOT word STREQUAL "${REFERENCE}")
    list(APPEND args "${word}")
  endif()
endforeach()
list(APPEND args -fsyntax-only -fdiagnostics-color=never "${SOURCE}")
# In the C locale the compiler quotes with ASCII ' (the `// expect:` texts use them).
execute_process(COMMAND "${CMAKE_COMMAND}" -E env LC_ALL=C LANG=C ${args} WORKING_DIRECTORY "${directory}" RESULT_VARIABLE rc
  OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but must not:\n${output}")
endif()

# The expected texts: SOURCE's `// expect: ` lines, one variable each.
file(READ "${SOURCE}" text)
set(marker "// expect: ")
string(LENGTH "${marker}" marker_length)
set(expect_count 0)
while(TRUE)
  string(FIND "${text}" "${marker}" at)
  if(at EQUAL -1)
    break()
  endif()
  math(EXPR at "${at} + ${marker_length}")
  string(SUBSTRING "${text}" ${at} -1 text)
  string(FIND "${text}" "\n" eol)
  string(SUBSTRING "${text}" 0 ${eol} expected)
  string(STRIP "${expected}" "expect_${expect_count}")
  math(EXPR expect_count "${expect_count} + 1")
endwhile()
if(expect_count EQUAL 0)
  message(FATAL_ERROR "${SOURCE} has no `${marker}<text>` line")
endif()
math(EXPR last "${expect_count} - 1")
foreach(i RANGE ${last})
  string(FIND "${output}" "${expect_${i}}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${SOURCE} failed to compile, but without the message\n  ${expect_${i}}\n"
      "Compiler output:\n${output}")
  endif()
endforeach()

# Every error line carries an expected text.
set(rest "${output}")
set(errors 0)
while(NOT rest STREQUAL "")
  string(FIND "${rest}" "\n" eol)
  if(eol EQUAL -1)
    set(line "${rest}")
    set(rest "")
  else()
    string(SUBSTRING "${rest}" 0 ${eol} line)
    math(EXPR eol "${eol} + 1")
    string(SUBSTRING "${rest}" ${eol} -1 rest)
  endif()
  string(FIND "${line}" "error:" is_error)
  if(NOT is_error EQUAL -1)
    math(EXPR errors "${errors} + 1")
    set(known FALSE)
    foreach(i RANGE ${last})
      string(FIND "${line}" "${expect_${i}}" at)
      if(NOT at EQUAL -1)
        set(known TRUE)
      endif()
    endforeach()
    if(NOT known)
      message(FATAL_ERROR "${SOURCE}: an error that names no expected text:\n  ${line}\n"
        "Compiler output:\n${output}")
    endif()
  endif()
endwhile()
message(STATUS "${SOURCE}: ${errors} error(s), each with its expected text")
