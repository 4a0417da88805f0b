# SPDX-License-Identifier: MIT
# cmake -P script behind the package_* tests (see CMakeLists.txt next to it).
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "FAILED (${rc}): ${cmd}\n${out}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

# Runs a consumer program and checks it printed `expected`.
function(check_program exe expected)
  run(${exe})
  if(NOT last_output MATCHES "${expected}")
    message(FATAL_ERROR "${exe} printed:\n${last_output}\nexpected to match: ${expected}")
  endif()
  message(STATUS "${exe}: ${last_output}")
endfunction()

# The installed headers are the public layers only: registryio/, registryio/qt/, registryio/qml/,
# registryio/remote/ (each with its detail/ folder), and nothing test-only.
function(check_installed_headers prefix)
  file(GLOB_RECURSE headers RELATIVE "${prefix}/include" "${prefix}/include/*")
  if(NOT headers)
    message(FATAL_ERROR "no headers installed under ${prefix}/include")
  endif()
  foreach(h IN LISTS headers)
    if(h MATCHES "testing" OR NOT h MATCHES "^registryio/((qt|qml|remote)/)?(detail/)?[a-z_]+\\.h$")
      message(FATAL_ERROR "installed header outside the public layers, or test-only: include/${h}")
    endif()
  endforeach()
  # A first release ships no tombstones: no overload or name that exists only to fail.
  foreach(h IN LISTS headers)
    file(STRINGS "${prefix}/include/${h}" tombstones REGEX "[Rr]emovedForm|was removed[;,]|RemovedDeliveryOptions")
    if(tombstones)
      message(FATAL_ERROR "include/${h} declares a removed form:\n${tombstones}")
    endif()
  endforeach()
  list(LENGTH headers n)
  message(STATUS "${n} installed headers, none test-only, no removed form")
endfunction()

if(NOT BUILD_TYPE OR BUILD_TYPE STREQUAL "")
  set(BUILD_TYPE Release)
endif()
# BUILD_CONSUMERS OFF (modes find_package and fetchcontent): everything up to the consumer's
# configure, nothing compiled or run; QT (mode find_package): only the consumers whose build
# depends on Qt's version (below).
if(NOT DEFINED BUILD_CONSUMERS)
  set(BUILD_CONSUMERS ON)
endif()
# The consumer includes public headers only, by layer: registryio/, registryio/qt/, registryio/qml/,
# registryio/remote/.
file(GLOB consumer_sources "${CONSUMER_DIR}/*.cpp" "${CONSUMER_DIR}/*.h")
foreach(source IN LISTS consumer_sources)
  file(STRINGS "${source}" includes REGEX "^#include <registryio/")
  foreach(line IN LISTS includes)
    if(NOT line MATCHES "^#include <registryio/((qt|qml|remote)/)?[a-z_]+\\.h>$")
      message(FATAL_ERROR "${source}: not a public RegistryIO header: ${line}")
    endif()
  endforeach()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/consumer-build")

if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkg_config")
  run(${CMAKE_COMMAND} --install "${RIO_BUILD_DIR}" --prefix "${prefix}" --config ${BUILD_TYPE})
  check_installed_headers("${prefix}")
endif()

# The installed Qt Quick inspector finds the installed QML module with no import path set: its
# window loads (a failed load ends it at once with 1) and it is still running after 15 s.
if(MODE STREQUAL "find_package" AND EXISTS "${prefix}/bin/registryio-inspect-gui")
  execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=QML_IMPORT_PATH --unset=QML2_IMPORT_PATH
    QT_QPA_PLATFORM=offscreen "${prefix}/bin/registryio-inspect-gui"
    TIMEOUT 15 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc MATCHES "^[0-9]+$" OR out MATCHES "not installed")
    message(FATAL_ERROR "the installed registryio-inspect-gui did not load its window (${rc}):\n${out}")
  endif()
endif()

if(MODE STREQUAL "find_package")
  # A missing component is a clear error that says what to install: the config folder as the
  # Core's development package alone installs it (the Core's targets only), asked for Qml.
  file(COPY "${prefix}/" DESTINATION "${WORK_DIR}/core-only")
  file(GLOB other_layers "${WORK_DIR}/core-only/lib*/cmake/RegistryIO/RegistryIO[QR]*.cmake"
    "${WORK_DIR}/core-only/lib/*/cmake/RegistryIO/RegistryIO[QR]*.cmake")
  file(REMOVE ${other_layers})
  file(WRITE "${WORK_DIR}/missing/CMakeLists.txt"
    "cmake_minimum_required(VERSION 3.25)\nproject(missing CXX)\nfind_package(RegistryIO REQUIRED COMPONENTS Qml)\n")
  execute_process(COMMAND ${CMAKE_COMMAND} -S "${WORK_DIR}/missing" -B "${WORK_DIR}/missing/build"
    -G "${GENERATOR}" -DCMAKE_PREFIX_PATH=${WORK_DIR}/core-only -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(REGEX REPLACE "[ \t\r\n]+" " " flat "${out}")
  if(rc EQUAL 0 OR NOT flat MATCHES "component Qml is not installed here: with Debian's packages install libregistryio-dev")
    message(FATAL_ERROR "a missing component did not fail clearly (${rc}):\n${out}")
  endif()
  message(STATUS "a missing component fails, naming the package to install")
  set(qml_arg -DRIO_CONSUMER_QML=OFF)
  file(GLOB qml_targets "${prefix}/lib*/cmake/RegistryIO/RegistryIOQmlTargets.cmake"
    "${prefix}/lib/*/cmake/RegistryIO/RegistryIOQmlTargets.cmake")
  if(qml_targets)
    set(qml_arg -DRIO_CONSUMER_QML=ON)
  endif()
  # find_package(RegistryIO COMPONENTS Remote) is checked when the install has the component.
  set(remote_arg -DRIO_CONSUMER_REMOTE=OFF)
  file(GLOB remote_targets "${prefix}/lib*/cmake/RegistryIO/RegistryIORemoteTargets.cmake"
    "${prefix}/lib/*/cmake/RegistryIO/RegistryIORemoteTargets.cmake")
  if(remote_targets AND WITH_QT)
    set(remote_arg -DRIO_CONSUMER_REMOTE=ON)
  endif()
  set(remote_qml_arg -DRIO_CONSUMER_REMOTE_QML=OFF)
  file(GLOB remote_qml_targets "${prefix}/lib*/cmake/RegistryIO/RegistryIORemoteQmlTargets.cmake"
    "${prefix}/lib/*/cmake/RegistryIO/RegistryIORemoteQmlTargets.cmake")
  if(remote_qml_targets AND WITH_QT)
    set(remote_qml_arg -DRIO_CONSUMER_REMOTE_QML=ON)
  endif()
  run(${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${consumer_build}" -G "${GENERATOR}"
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON -DRIO_CONSUMER_QT=${WITH_QT} ${qml_arg} ${remote_arg} ${remote_qml_arg})
  message(STATUS "the consumer configured against the install with every component it has")
elseif(MODE STREQUAL "fetchcontent")
  set(qml_arg -DRIO_CONSUMER_QML=${WITH_QML})
  set(remote_arg -DRIO_CONSUMER_REMOTE=${WITH_REMOTE})
  set(remote_qml_arg -DRIO_CONSUMER_REMOTE_QML=OFF)
  if(WITH_QML AND WITH_REMOTE)
    set(remote_qml_arg -DRIO_CONSUMER_REMOTE_QML=ON)
  endif()
  # The main build's flags and ccache (the libraries are built again from the checkout: a rerun
  # in this folder hits), as a unity build: what scripts/demo.sh builds, and what a consumer that
  # turns it on gets.
  set(launcher "")
  find_program(ccache ccache)
  if(ccache)
    set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${ccache})
  endif()
  run(${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${consumer_build}" -G "${GENERATOR}"
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=${CXX_FLAGS}"
    -DCMAKE_UNITY_BUILD=ON ${launcher} -DRIO_CONSUMER_FETCH_SOURCE=${RIO_SOURCE_DIR} -DRIO_CONSUMER_QT=${WITH_QT}
    ${qml_arg} ${remote_arg} ${remote_qml_arg})
  message(STATUS "the consumer configured with RegistryIO as a subproject, every component")
elseif(MODE STREQUAL "fetchcontent_core")
  # The Core alone as a subproject (RIO_BUILD_QT off) looks up no Qt package and no documentation
  # tool: configured only, its cache read.
  run(${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${consumer_build}" -G "${GENERATOR}"
    -DCMAKE_CXX_COMPILER=${CXX} -DRIO_CONSUMER_FETCH_SOURCE=${RIO_SOURCE_DIR} -DRIO_CONSUMER_QT=OFF)
  file(STRINGS "${consumer_build}/CMakeCache.txt" looked_up REGEX "^(Qt6[A-Za-z]*_DIR|RIO_DOXYGEN|RIO_QHELPGENERATOR)[:=]")
  if(looked_up)
    message(FATAL_ERROR "a Core-only subproject looked up Qt or documentation tools:\n${looked_up}")
  endif()
  message(STATUS "a Core-only subproject: no Qt package, no documentation tool looked up")
  return()
elseif(MODE STREQUAL "pkg_config")
  # Each installed .pc file on its own: compile and link a consumer with nothing but
  # `pkg-config --cflags --libs registryio-<layer>`, an rpath to the installed libraries, and run it.
  file(GLOB pc_dirs "${prefix}/lib*/pkgconfig" "${prefix}/lib/*/pkgconfig")
  set(ENV{PKG_CONFIG_PATH} "${pc_dirs}")
  file(MAKE_DIRECTORY "${consumer_build}")
  set(layers core)
  if(WITH_QT)
    list(APPEND layers qt)
    if(EXISTS "${pc_dirs}/registryio-qml.pc")
      list(APPEND layers qml)
    endif()
    if(EXISTS "${pc_dirs}/registryio-remote.pc")
      list(APPEND layers remote)
    elseif(WITH_REMOTE)
      message(FATAL_ERROR "the install has RegistryIO::Remote but no registryio-remote.pc")
    endif()
  endif()
  set(source_core main.cpp)
  set(expect_core "consumer: total=12 handlers=0")
  set(source_qt main_qt.cpp)
  set(expect_qt "consumer_qt: category=registryio event=hello")
  set(source_qml main_qml.cpp)
  set(expect_qml "consumer_qml: import RegistryIO ok, total=12")
  set(source_remote main_remote.cpp)
  set(expect_remote "consumer_remote: connected event=hello")
  foreach(layer IN LISTS layers)
    run(${PKG_CONFIG} --modversion registryio-${layer})
    message(STATUS "registryio-${layer} version ${last_output}")
    run(${PKG_CONFIG} --cflags --libs registryio-${layer})
    separate_arguments(flags UNIX_COMMAND "${last_output}")
    run(${PKG_CONFIG} --variable=libdir registryio-${layer})
    string(STRIP "${last_output}" libdir)
    set(extra "")
    if(layer STREQUAL "qml")
      run(${PKG_CONFIG} --variable=qmlimportdir registryio-qml)
      string(STRIP "${last_output}" qmlimportdir)
      set(extra "-DRIO_QML_IMPORT_PATH=\"${qmlimportdir}\"")
    endif()
    run(${CXX} -std=c++20 "${CONSUMER_DIR}/${source_${layer}}" ${flags} ${extra} -Wl,-rpath,${libdir}
      -o "${consumer_build}/consumer_${layer}")
    check_program("${consumer_build}/consumer_${layer}" "${expect_${layer}}")
  endforeach()
  return()
else()
  message(FATAL_ERROR "unknown MODE ${MODE}")
endif()

if(NOT BUILD_CONSUMERS)
  return() # configured only (RIO_PACKAGE_TESTS_BUILD off in tests/package/CMakeLists.txt)
endif()

# A subproject is configured with every component (the consumer's CMake checks), but only the
# Core and Qt consumers and moc over every public header are built: the other layers' programs
# and QML checks are package_find_package's. Each library built here is compiled once more, never
# a ccache hit of the main build's: every compile names the subproject's build folder (its
# generated headers, its unity sources), which relative to the folder Ninja runs in (the
# consumer's) cannot be the main build's own, and CMake refuses the two as one folder.
set(targets "")
if(MODE STREQUAL "fetchcontent")
  set(targets --target consumer)
  if(WITH_QT)
    list(APPEND targets consumer_qt consumer_moc)
  endif()
  set(remote_arg "")
  set(remote_qml_arg "")
  set(qml_arg "")
endif()
set(cxx_consumers ON)
if(MODE STREQUAL "find_package" AND BUILD_CONSUMERS STREQUAL "QT")
  # Only what Qt's version changes (BUILD_CONSUMERS QT): moc over every installed header, every
  # installed header compiled with warnings as errors, the QML modules linted and compiled
  # against the installed ones and run. The C++ consumers and the example are CMake packaging,
  # the same on any Qt.
  set(cxx_consumers OFF)
  set(targets --target consumer_moc)
  if(qml_arg STREQUAL "-DRIO_CONSUMER_QML=ON")
    list(APPEND targets consumer_qml_app consumer_qml_plain)
    if(remote_qml_arg STREQUAL "-DRIO_CONSUMER_REMOTE_QML=ON")
      list(APPEND targets consumer_headers consumer_remote_qml)
    endif()
  endif()
  set(remote_arg "")
  set(qml_arg "")
endif()
run(${CMAKE_COMMAND} --build "${consumer_build}" --config ${BUILD_TYPE} -j 2 ${targets})
if(cxx_consumers)
  check_program("${consumer_build}/consumer" "consumer: total=12 handlers=0")
endif()
if(WITH_QT)
  if(cxx_consumers)
    check_program("${consumer_build}/consumer_qt" "consumer_qt: category=registryio event=hello")
  endif()
  check_program("${consumer_build}/consumer_moc" "consumer_moc: total=12")
endif()
if(EXISTS "${consumer_build}/consumer_remote")
  check_program("${consumer_build}/consumer_remote" "consumer_remote: connected event=hello")
elseif(remote_arg STREQUAL "-DRIO_CONSUMER_REMOTE=ON")
  message(FATAL_ERROR "the install has RegistryIO::Remote but consumer_remote was not built")
endif()
if(EXISTS "${consumer_build}/consumer_remote_qml")
  check_program("${consumer_build}/consumer_remote_qml"
    "consumer_remote_qml: import RegistryIO.Remote ok, connected=0 total=5")
elseif(remote_qml_arg STREQUAL "-DRIO_CONSUMER_REMOTE_QML=ON")
  message(FATAL_ERROR "the install has RegistryIO::RemoteQml but consumer_remote_qml was not built")
endif()
if(qml_arg STREQUAL "-DRIO_CONSUMER_QML=ON")
  # The QML checks below (the consumers, their qmllint, the compiled-binding count) never vanish
  # silently when the install has the QML layer.
  foreach(program IN ITEMS consumer_qml consumer_qml_app plain/consumer_qml_plain)
    if(NOT EXISTS "${consumer_build}/${program}")
      message(FATAL_ERROR "the install has RegistryIO::Qml but ${program} was not built")
    endif()
  endforeach()
endif()
if(EXISTS "${consumer_build}/consumer_qml")
  check_program("${consumer_build}/consumer_qml" "consumer_qml: import RegistryIO ok, total=12")
endif()
if(EXISTS "${consumer_build}/consumer_qml_app")
  check_program("${consumer_build}/consumer_qml_app" "consumer_qml_app: total=12 ticks=3")
  # Its QML lints clean against the installed module, with no set-up but rio_target_qml().
  run(${CMAKE_COMMAND} --build "${consumer_build}" --config ${BUILD_TYPE} --target consumer_qml_app_qmllint)
  message(STATUS "consumer_qml_app_qmllint: ${last_output}")
  if(last_output MATCHES "Warning:")
    message(FATAL_ERROR "qmllint warned on the consumer's QML module:\n${last_output}")
  endif()
endif()
if(EXISTS "${consumer_build}/plain/consumer_qml_plain")
  # rio_target_qml() is all the set-up: the import path reaches qmllint and qmlcachegen.
  check_program("${consumer_build}/plain/consumer_qml_plain" "consumer_qml_plain: handlers=1 watching=1")
  run(${CMAKE_COMMAND} --build "${consumer_build}" --config ${BUILD_TYPE} --target consumer_qml_plain_qmllint)
  if(last_output MATCHES "Warning:")
    message(FATAL_ERROR "qmllint warned on a module set up with rio_target_qml():\n${last_output}")
  endif()
  file(GLOB_RECURSE plain_cache "${consumer_build}/plain/*Plain_qml.cpp")
  if(NOT plain_cache)
    message(FATAL_ERROR "no qmlcachegen output for Plain.qml under ${consumer_build}/plain")
  endif()
  list(GET plain_cache 0 plain_cache)
  file(READ "${plain_cache}" plain_code)
  # aotBuiltFunctions lists one entry per compiled binding, each with its function, then a
  # terminating entry without one. Qt 6.4 writes an entry as `{ 0, QMetaType::fromType<int>(),
  # {  }, [](...` and Qt 6.8 as `{ 0, 0, [](...`: the pattern takes both, not the terminator.
  string(REGEX MATCHALL "\\{ [0-9]+, (QMetaType::fromType<[^(]+\\(\\), \\{[^}]*\\}, *\n *\\[\\]|[0-9]+, \\[\\]\\()"
    entries "${plain_code}")
  list(LENGTH entries compiled)
  message(STATUS "qmlcachegen compiled ${compiled} of 5 bindings of Plain.qml")
  if(NOT compiled EQUAL 5)
    message(FATAL_ERROR "qmlcachegen compiled ${compiled} of the 5 bindings on RegistryIO types in ${plain_cache}")
  endif()
endif()

# An example of the tree built on its own against the install, as a user opens it in Qt Creator:
# its CMakeLists.txt finds RegistryIO when it is the top-level project.
if(MODE STREQUAL "find_package" AND cxx_consumers)
  set(example basic)
  set(example_program rio_example_basic)
  set(example_expect "basic: ok")
  if(qml_arg STREQUAL "-DRIO_CONSUMER_QML=ON")
    set(example quickstart-qml)
    set(example_program rio_example_quickstart_qml)
    set(example_expect "log: audit 42; mail 9.99; audit 43; \nquickstart-qml: ok")
  endif()
  set(example_build "${WORK_DIR}/example-${example}")
  run(${CMAKE_COMMAND} -S "${RIO_SOURCE_DIR}/examples/${example}" -B "${example_build}" -G "${GENERATOR}"
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
  run(${CMAKE_COMMAND} --build "${example_build}" --config ${BUILD_TYPE} -j 2)
  check_program("${example_build}/${example_program}" "${example_expect}")
endif()
