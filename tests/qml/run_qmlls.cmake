# SPDX-License-Identifier: MIT
# The qmlls set-up docs/QML.md gives, checked over qmlls's stdio LSP by qmlls_check.py:
#   MODE=build    qmlls -b <build>/qml                     (the build tree's import path)
#   MODE=install  cmake --install into a scratch prefix, then qmlls -b <prefix>/lib/qt6/qml
# Arguments: MODE, QMLLS, PYTHON, CHECK (qmlls_check.py), BUILD_DIR, IMPORT_PATH, WORK_DIR,
# QMLDIR (the install's QML directory, relative to the prefix).
if(MODE STREQUAL "build")
  set(dir "${IMPORT_PATH}")
elseif(MODE STREQUAL "install")
  set(prefix "${WORK_DIR}/prefix")
  file(REMOVE_RECURSE "${prefix}")
  execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}"
    OUTPUT_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake --install ${BUILD_DIR} failed (${rc})")
  endif()
  set(dir "${prefix}/${QMLDIR}")
else()
  message(FATAL_ERROR "unknown MODE ${MODE}")
endif()
# The environment an editor would have: no QML_IMPORT_PATH, only the documented argument.
unset(ENV{QML_IMPORT_PATH})
execute_process(COMMAND ${PYTHON} "${CHECK}" --qmlls "${QMLLS}" --workdir "${WORK_DIR}/editor" -- -b "${dir}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
message(STATUS "qmlls -b ${dir}: ${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "qmlls with -b ${dir} did not resolve RegistryIO")
endif()
