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

if(NOT BUILD_TYPE OR BUILD_TYPE STREQUAL "")
  set(BUILD_TYPE Release)
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/consumer-build")

if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkg_config")
  run(${CMAKE_COMMAND} --install "${RIO_BUILD_DIR}" --prefix "${prefix}" --config ${BUILD_TYPE})
endif()

if(MODE STREQUAL "find_package")
  set(qml_arg -DRIO_CONSUMER_QML=OFF)
  file(GLOB qml_targets "${prefix}/lib*/cmake/RegistryIO/RegistryIOQmlTargets.cmake"
    "${prefix}/lib/*/cmake/RegistryIO/RegistryIOQmlTargets.cmake")
  if(qml_targets)
    set(qml_arg -DRIO_CONSUMER_QML=ON)
  endif()
  run(${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${consumer_build}" -G "${GENERATOR}"
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON -DRIO_CONSUMER_QT=${WITH_QT} ${qml_arg})
elseif(MODE STREQUAL "add_subdirectory")
  run(${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${consumer_build}" -G "${GENERATOR}"
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DRIO_CONSUMER_SOURCE_DIR=${RIO_SOURCE_DIR}
    -DRIO_CONSUMER_QT=${WITH_QT})
elseif(MODE STREQUAL "pkg_config")
  file(GLOB pc_dirs "${prefix}/lib*/pkgconfig" "${prefix}/lib/*/pkgconfig")
  set(ENV{PKG_CONFIG_PATH} "${pc_dirs}")
  run(${PKG_CONFIG} --modversion registryio-core)
  message(STATUS "registryio-core version ${last_output}")
  run(${PKG_CONFIG} --cflags --libs registryio-core)
  separate_arguments(flags UNIX_COMMAND "${last_output}")
  list(FILTER flags INCLUDE REGEX "^-L") # the library directory, for the run path
  string(REPLACE "-L" "" libdir "${flags}")
  separate_arguments(flags UNIX_COMMAND "${last_output}")
  file(MAKE_DIRECTORY "${consumer_build}")
  run(${CXX} -std=c++20 "${CONSUMER_DIR}/main.cpp" ${flags} -Wl,-rpath,${libdir} -o "${consumer_build}/consumer")
  check_program("${consumer_build}/consumer" "consumer: total=12 handlers=0")
  return()
else()
  message(FATAL_ERROR "unknown MODE ${MODE}")
endif()

run(${CMAKE_COMMAND} --build "${consumer_build}" --config ${BUILD_TYPE} -j 2)
check_program("${consumer_build}/consumer" "consumer: total=12 handlers=0")
if(WITH_QT)
  check_program("${consumer_build}/consumer_qt" "consumer_qt: category=registryio event=hello")
endif()
if(EXISTS "${consumer_build}/consumer_qml")
  check_program("${consumer_build}/consumer_qml" "consumer_qml: import RegistryIO ok, total=12")
endif()
