# SPDX-License-Identifier: MIT
# The API reference: HTML and the Qt help file registryio.qch (for Qt Creator and Qt Assistant),
# from docs/Doxyfile over every public header and docs/QML_TYPES.md.
#   -DRIO_BUILD_DOCS=ON   builds them with the libraries (target rio_docs) and installs the .qch
#                         with the development files: <DOCDIR>/registryio.qch (share/doc/RegistryIO),
#                         which Qt Creator registers under Preferences > Help > Documentation
# Needs doxygen and Qt's qhelpgenerator (Debian: doxygen, qt6-documentation-tools).
include_guard(GLOBAL)
include(GNUInstallDirs)
option(RIO_BUILD_DOCS "Build the API reference and registryio.qch, and install the .qch" OFF)
find_program(RIO_DOXYGEN doxygen)
find_program(RIO_QHELPGENERATOR qhelpgenerator
  HINTS "${QT6_INSTALL_PREFIX}/${QT6_INSTALL_LIBEXECS}" /usr/lib/qt6/libexec /usr/lib/qt6/bin)
if(NOT RIO_BUILD_DOCS)
  return()
endif()
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
