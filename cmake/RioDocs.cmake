# SPDX-License-Identifier: MIT
# The API reference: HTML and the Qt help file registryio.qch (for Qt Creator and Qt Assistant),
# from docs/Doxyfile over every public header and docs/QML_TYPES.md.
#   -DRIO_BUILD_DOCS=ON   builds them with the libraries (target rio_docs) and installs the .qch
#                         into RIO_INSTALL_QCHDIR: Qt's documentation folder (QT6_INSTALL_DOCS,
#                         /usr/share/qt6/doc on Debian), where Qt Creator and Qt Assistant find it;
#                         the same bytes from every build of one tree
# Needs doxygen and Qt's qhelpgenerator (Debian: doxygen, qt6-documentation-tools).
include_guard(GLOBAL)
include(GNUInstallDirs)
option(RIO_BUILD_DOCS "Build the API reference and registryio.qch, and install the .qch" OFF)
# Looked up only when something uses them: this build's docs, or the docs tests (tests/docs).
if(RIO_BUILD_DOCS OR RIO_BUILD_TESTS)
  find_program(RIO_DOXYGEN doxygen)
  find_program(RIO_QHELPGENERATOR qhelpgenerator
    HINTS "${QT6_INSTALL_PREFIX}/${QT6_INSTALL_LIBEXECS}" /usr/lib/qt6/libexec /usr/lib/qt6/bin)
endif()
if(NOT RIO_BUILD_DOCS)
  return()
endif()
if(NOT DEFINED QT6_INSTALL_DOCS)
  find_package(Qt6 6.4 QUIET COMPONENTS Core) # defines QT6_INSTALL_DOCS
endif()
set(rio_qch_default "${CMAKE_INSTALL_DATAROOTDIR}/doc/RegistryIO")
if(QT6_INSTALL_DOCS)
  set(rio_qch_default "${QT6_INSTALL_DOCS}")
endif()
set(RIO_INSTALL_QCHDIR "${rio_qch_default}"
  CACHE STRING "Where registryio.qch is installed (relative to the prefix): Qt's documentation folder")
if(NOT RIO_DOXYGEN OR NOT RIO_QHELPGENERATOR)
  message(FATAL_ERROR "RIO_BUILD_DOCS needs doxygen (${RIO_DOXYGEN}) and Qt's qhelpgenerator "
    "(${RIO_QHELPGENERATOR}): apt-get install doxygen qt6-documentation-tools")
endif()
set(rio_docs_dir "${PROJECT_BINARY_DIR}/docs")
file(GLOB_RECURSE rio_docs_inputs CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/src/*/include/*.h"
  "${PROJECT_SOURCE_DIR}/qml/remote/include/*.h" "${PROJECT_SOURCE_DIR}/qml/include/*.h")
add_custom_command(OUTPUT "${rio_docs_dir}/registryio.qch"
  COMMAND ${CMAKE_COMMAND} -DDOXYGEN=${RIO_DOXYGEN} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DVERSION=${PROJECT_VERSION}
    -DOUTPUT_DIR=${rio_docs_dir} -DQHELPGENERATOR=${RIO_QHELPGENERATOR}
    -P ${PROJECT_SOURCE_DIR}/tests/docs/run_doxygen.cmake
  DEPENDS ${rio_docs_inputs} "${PROJECT_SOURCE_DIR}/docs/Doxyfile" "${PROJECT_SOURCE_DIR}/docs/QML_TYPES.md"
    "${PROJECT_SOURCE_DIR}/tests/docs/run_doxygen.cmake"
  COMMENT "API reference and registryio.qch (doxygen, qhelpgenerator)" VERBATIM)
add_custom_target(rio_docs ALL DEPENDS "${rio_docs_dir}/registryio.qch")
set_target_properties(rio_docs PROPERTIES RIO_QCH "${rio_docs_dir}/registryio.qch") # RioInstall.cmake
