# SPDX-License-Identifier: MIT
# Runs qmllint on every .qml file of the repository (qml/, tests/qml/, examples/) with the build
# tree's RegistryIO module on the import path. Any warning fails. Invoked by the `qml_lint` test:
#   cmake -DQMLLINT=<exe> -DSOURCE_DIR=<repo> -DIMPORT_PATH=<build>/qml -P run_qmllint.cmake
file(GLOB_RECURSE files
  "${SOURCE_DIR}/qml/*.qml"
  "${SOURCE_DIR}/tests/qml/*.qml"
  "${SOURCE_DIR}/examples/*.qml")
list(SORT files)
if(NOT files)
  message(FATAL_ERROR "qml_lint: no .qml files found under ${SOURCE_DIR}")
endif()
if(NOT EXISTS "${IMPORT_PATH}/RegistryIO/qmldir")
  message(FATAL_ERROR "qml_lint: ${IMPORT_PATH}/RegistryIO/qmldir is missing; build RegistryIOQml first")
endif()
execute_process(COMMAND "${QMLLINT}" -I "${IMPORT_PATH}" ${files}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
list(LENGTH files n)
if(NOT rc EQUAL 0 OR NOT "${out}${err}" STREQUAL "")
  message(FATAL_ERROR "qml_lint: qmllint failed (exit ${rc}) on ${n} files:\n${out}${err}")
endif()
message(STATUS "qml_lint: ${n} files clean")

# The QML compiler (qmllint --compiler, what qmlcachegen's AOT compiler does) must compile every
# binding of the examples, on Qt 6.4 and on Qt 6.8: no "Could not compile", and no property that
# "can be shadowed" (RegistryIO's properties are FINAL). Functions without type annotations are
# left to the interpreter, by design (Qt 6.8 reports one as "Functions without type annotations
# won't be compiled" and then "Could not compile binding" for it: not counted). A
# *method* reached through a property or a returned object (`handle.remove()`) "can be shadowed"
# for Qt 6.8 whatever its type: 6.8 still compiles the binding and looks the method up at run
# time, so those are not counted either (the examples call registries by id, which 6.8 types).
# Except the dashboard demo: its panels take the C++ side objects and sample arrays as `var`
# (typing them needs the demo's C++ types registered in a QML module of its own: not done yet).
file(GLOB_RECURSE examples "${SOURCE_DIR}/examples/*.qml")
list(FILTER examples EXCLUDE REGEX "/examples/qml-dashboard/")
list(SORT examples)
set(refused "")
foreach(f IN LISTS examples)
  execute_process(COMMAND "${QMLLINT}" --compiler warning -I "${IMPORT_PATH}" "${f}"
    OUTPUT_VARIABLE out ERROR_VARIABLE err)
  file(READ "${f}" source)
  # The compiler's messages in order: an unannotated function's "Could not compile binding"
  # comes right after its "Functions without type annotations won't be compiled" (Qt 6.8).
  string(REGEX MATCHALL "[^\n]*(Could not compile|can be shadowed|Functions without type annotations)[^\n]*"
    hits "${out}${err}")
  set(untyped OFF)
  foreach(h IN LISTS hits)
    if(h MATCHES "Functions without type annotations")
      set(untyped ON)
      continue()
    endif()
    if(untyped AND h MATCHES "Could not compile binding")
      set(untyped OFF)
      continue() # an unannotated function: the interpreter's, by design
    endif()
    set(untyped OFF)
    if(h MATCHES "Cannot load property [A-Za-z_0-9]+ from (QVariant of )?rio::QmlRegistry::latest")
      continue() # a QmlRegistry's events are QVariants: the interpreter reads their fields (a typed registry's latest is compiled)
    endif()
    if(h MATCHES "Member ([A-Za-z_0-9]+) of .* can be shadowed")
      if(source MATCHES "\\.${CMAKE_MATCH_1} *\\(")
        continue() # a method call: compiled, looked up at run time on Qt 6.8
      endif()
    endif()
    string(APPEND refused "${h}\n")
  endforeach()
endforeach()
if(NOT refused STREQUAL "")
  message(FATAL_ERROR "qml_lint: the QML compiler refuses bindings of the examples:\n${refused}")
endif()
list(LENGTH examples n)
message(STATUS "qml_lint: the QML compiler compiles the bindings of ${n} example files")
