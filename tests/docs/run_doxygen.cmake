# SPDX-License-Identifier: MIT
# Runs doxygen on docs/Doxyfile with the output redirected to OUTPUT_DIR; fails on any warning.
# Public header folders of layers that do not exist in this checkout are dropped from INPUT.
# With -DQHELPGENERATOR=<Qt's qhelpgenerator> it also writes OUTPUT_DIR/registryio.qch (a Qt help
# file for Qt Creator) and checks that it is one and holds every layer's classes and the QML types.
# With -DVERSION=<the project's version> it also checks that the Doxyfile's version and help
# namespace are that version's.
cmake_minimum_required(VERSION 3.25)
file(READ "${SOURCE_DIR}/docs/Doxyfile" config)
if(VERSION)
  string(REGEX MATCH "^([0-9]+)\\.([0-9]+)\\.([0-9]+)$" _ "${VERSION}")
  set(short "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")
  # Each key once, on a line of its own, with exactly this value.
  foreach(pair IN ITEMS "PROJECT_NUMBER|${VERSION}"
      "QHP_NAMESPACE|io.registryio.${CMAKE_MATCH_1}${CMAKE_MATCH_2}${CMAKE_MATCH_3}"
      "QHP_CUST_FILTER_NAME|\"RegistryIO ${short}\"" "QHP_CUST_FILTER_ATTRS|registryio ${short}"
      "QHP_SECT_FILTER_ATTRS|registryio ${short}")
    string(REPLACE "|" ";" pair "${pair}")
    list(GET pair 0 key)
    list(GET pair 1 want)
    string(REGEX MATCHALL "(^|\n)${key} *=[^\n]*" lines "${config}")
    list(LENGTH lines count)
    string(REGEX REPLACE "^\n?${key} *= *" "" value "${lines}")
    string(STRIP "${value}" value)
    if(NOT count EQUAL 1 OR NOT value STREQUAL want)
      message(FATAL_ERROR "docs/Doxyfile: ${key} must be set once, to ${want} (the project's version ${VERSION})")
    endif()
  endforeach()
endif()
file(REMOVE_RECURSE "${OUTPUT_DIR}")
file(MAKE_DIRECTORY "${OUTPUT_DIR}")
string(APPEND config "\nOUTPUT_DIRECTORY = ${OUTPUT_DIR}\nWARN_LOGFILE =\n")
set(inputs "")
foreach(dir IN ITEMS src/core/include src/qt/include qml/include src/remote/include qml/remote/include
    docs/QML_TYPES.md)
  if(EXISTS "${SOURCE_DIR}/${dir}")
    string(APPEND inputs " ${dir}")
  endif()
endforeach()
string(APPEND config "INPUT =${inputs}\n")
if(QHELPGENERATOR)
  string(APPEND config "GENERATE_QHP = YES\n") # html/index.qhp, compiled below
endif()
file(WRITE "${OUTPUT_DIR}/Doxyfile" "${config}")
execute_process(COMMAND "${DOXYGEN}" "${OUTPUT_DIR}/Doxyfile" WORKING_DIRECTORY "${SOURCE_DIR}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "doxygen failed (exit ${rc}); fix the doc comments of the public headers:\n${err}${out}")
endif()
if(NOT EXISTS "${OUTPUT_DIR}/html/index.html")
  message(FATAL_ERROR "doxygen wrote no ${OUTPUT_DIR}/html/index.html")
endif()
message(STATUS "API reference: ${OUTPUT_DIR}/html/index.html")
if(QHELPGENERATOR)
  set(qch "${OUTPUT_DIR}/registryio.qch")
  # QT_HASH_SEED=0: qhelpgenerator writes some rows in the order of a QHash, which is seeded
  # afresh by every process otherwise, so that two builds of one tree would differ.
  execute_process(COMMAND ${CMAKE_COMMAND} -E env QT_HASH_SEED=0
    "${QHELPGENERATOR}" "${OUTPUT_DIR}/html/index.qhp" -o "${qch}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  # It reports progress on stderr; a warning or an error fails the test.
  if(NOT rc EQUAL 0 OR "${out}${err}" MATCHES "[Ww]arning|[Ee]rror" OR NOT EXISTS "${qch}")
    message(FATAL_ERROR "qhelpgenerator failed (exit ${rc}) on ${OUTPUT_DIR}/html/index.qhp:\n${err}${out}")
  endif()
  file(READ "${qch}" magic LIMIT 15)
  if(NOT magic MATCHES "^SQLite format 3")
    message(FATAL_ERROR "${qch} is not a Qt help file (an SQLite database)")
  endif()
  # The help project qhelpgenerator compiled: the classes of every layer and the QML types page.
  file(READ "${OUTPUT_DIR}/html/index.qhp" qhp)
  # The namespace's own page too: its enumerations and free functions.
  foreach(name IN ITEMS "rio::Registry" "rio::QtRegistry" "rio::QmlRegistry" "rio::RemoteShare" "RemoteQmlRegistry"
      "QML types" "rio::Delivery_" "rio::prepareThread_")
    string(FIND "${qhp}" "${name}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${qch}: its help project (html/index.qhp) names no ${name}")
    endif()
  endforeach()
  # No implementation field of a public class (the m_ members a base class keeps for its
  # subclasses) is part of the reference.
  string(REGEX MATCH "::m_[A-Za-z]+" field "${qhp}")
  if(field)
    message(FATAL_ERROR "${qch}: its help project (html/index.qhp) documents a field ${field}")
  endif()
  file(SIZE "${qch}" size)
  message(STATUS "Qt help file: ${qch} (${size} bytes)")
endif()
