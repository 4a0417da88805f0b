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
