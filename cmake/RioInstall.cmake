# SPDX-License-Identifier: MIT
# Install and export rules for RegistryIO. Included at the end of the top-level CMakeLists.txt, so
# every layer's target exists (or does not, in configurations that leave it out) by now.
#
# Layout under CMAKE_INSTALL_PREFIX (GNUInstallDirs; LIBDIR is lib, or lib/<multiarch> for /usr):
#   include/registryio/..., registryio/qt/..., registryio/qml/...   public headers by layer
#   LIBDIR/libRegistryIOCore.so*, ...Qt, ...Qml   the libraries
#   LIBDIR/cmake/RegistryIO/                    RegistryIOConfig.cmake, RegistryIOConfigVersion.cmake,
#                                               RegistryIO{Core,Qt,Qml,Remote}Targets*.cmake,
#                                               RegistryIOFunctions.cmake
#   LIBDIR/pkgconfig/registryio-{core,qt,qml,remote}.pc  pkg-config files, one per library
#   share/qlogging-categories6/registryio.categories  the logging categories (KDebugSettings)
#   RIO_INSTALL_QCHDIR/registryio.qch           the API reference for Qt Creator (RIO_BUILD_DOCS;
#                                               Qt's documentation folder, share/qt6/doc on Debian)
#   RIO_INSTALL_QMLDIR/RegistryIO/               the QML module: qmldir, plugin, .qmltypes, .qml
#                                               (default LIBDIR/qt6/qml: Debian's Qt layout, so a
#                                               /usr install needs no QML2_IMPORT_PATH)
#
# Consumers: find_package(RegistryIO 0.3 CONFIG REQUIRED COMPONENTS Core Qt Qml Remote).
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The soname carries what a release may break (README, "Versioning and compatibility"): while the
# version is 0.x a minor release may break the ABI, so it is libRegistryIOCore.so.0.3; from 1.0,
# the major version alone.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(rio_soversion "${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}")
else()
  set(rio_soversion "${PROJECT_VERSION_MAJOR}")
endif()
foreach(rio_lib IN ITEMS RegistryIOCore RegistryIOQt RegistryIOQml RegistryIORemote RegistryIORemoteQml)
  if(TARGET ${rio_lib})
    set_target_properties(${rio_lib} PROPERTIES SOVERSION "${rio_soversion}")
  endif()
endforeach()

# On as a subproject too (add_subdirectory, FetchContent): the parent's install then holds the
# shared libraries its programs need; a parent that installs nothing of RegistryIO sets it OFF.
option(RIO_INSTALL "Generate RegistryIO's install and export rules" ON)
if(NOT RIO_INSTALL)
  return()
endif()

set(RIO_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/RegistryIO"
  CACHE STRING "Where RegistryIOConfig.cmake is installed (relative to the prefix)")
set(RIO_INSTALL_QMLDIR "${CMAKE_INSTALL_LIBDIR}/qt6/qml"
  CACHE STRING "QML import path the RegistryIO module is installed under (relative to the prefix)")

set(rio_root "${RegistryIO_SOURCE_DIR}")
# The folder of the library itself, as the platform's loader spells it (Windows has no run path:
# DLLs are found next to the executable or on PATH).
if(APPLE)
  set(rio_rpath_origin "@loader_path")
else()
  set(rio_rpath_origin "$ORIGIN")
endif()
set(rio_installed_components "")

# Qt6 components a target links against, so the package config asks for exactly those. Qt's
# private modules (Qt6::QmlPrivate) are left out: only the library's own sources include their
# headers, and their targets come with the public component (find_package(Qt6 COMPONENTS Qml)
# defines Qt6::QmlPrivate too), so a consumer needs neither their package nor a .pc file.
function(rio_qt_components_of target out)
  get_target_property(libs ${target} INTERFACE_LINK_LIBRARIES)
  get_target_property(private_libs ${target} LINK_LIBRARIES)
  set(components "")
  foreach(lib IN LISTS libs private_libs)
    if(lib MATCHES "Qt6::([A-Za-z]+)")
      set(component ${CMAKE_MATCH_1})
      if(NOT component MATCHES "Private$")
        list(APPEND components ${component})
      endif()
    endif()
  endforeach()
  list(REMOVE_DUPLICATES components)
  set(${out} "${components}" PARENT_SCOPE)
endfunction()

# One export set (and targets file) per layer, so a component is loaded only when asked for.
function(rio_install_library target component)
  # Installed libraries find each other next to themselves (RUNPATH is not inherited: a QML
  # plugin that loads RegistryIOQml must still find RegistryIOQt from there).
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "${rio_rpath_origin}")
  install(TARGETS ${target} EXPORT RegistryIO${component}Targets
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT RegistryIO${component}Targets
    NAMESPACE RegistryIO::
    FILE RegistryIO${component}Targets.cmake
    DESTINATION ${RIO_INSTALL_CMAKEDIR})
endfunction()

# pkg-config: the prefix the files are installed into (`cmake --install --prefix` included),
# written at install time, so that the flags name plain paths.
set(rio_pc_prefix "%RIO_INSTALL_PREFIX%")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(rio_pc_libdir "${CMAKE_INSTALL_LIBDIR}")
else()
  set(rio_pc_libdir "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(rio_pc_includedir "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(rio_pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
if(IS_ABSOLUTE "${RIO_INSTALL_QMLDIR}")
  set(rio_pc_qmldir "${RIO_INSTALL_QMLDIR}")
else()
  set(rio_pc_qmldir "\${prefix}/${RIO_INSTALL_QMLDIR}")
endif()

# What a static Core needs beyond threads: on Windows the writer lock's WaitOnAddress.
set(rio_pc_core_private "")
if(WIN32)
  set(rio_pc_core_private " -lsynchronization")
endif()

# rio_install_pkg_config(<name> <title> <what> <library target> <requires>): generates and installs
# LIBDIR/pkgconfig/registryio-<name>.pc from cmake/registryio-<name>.pc.in; <requires> is the
# Requires line (the lower layer at this exact version, and the Qt 6 modules the library uses).
function(rio_install_pkg_config name title what target requires)
  set(rio_pc_title "${title}")
  set(rio_pc_what "${what}")
  get_target_property(rio_pc_lib ${target} OUTPUT_NAME)
  set(rio_pc_requires "${requires}")
  set(pc "${PROJECT_BINARY_DIR}/registryio-${name}.pc")
  configure_file("${rio_root}/cmake/registryio-${name}.pc.in" "${pc}.in" @ONLY)
  install(CODE "file(READ \"${pc}.in\" pc)
    string(REPLACE %RIO_INSTALL_PREFIX% \"\${CMAKE_INSTALL_PREFIX}\" pc \"\${pc}\")
    file(WRITE \"${pc}\" \"\${pc}\")")
  install(FILES "${pc}" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()

# "Qt6Core >= 6.4, Qt6Concurrent >= 6.4" for the given components.
function(rio_pc_qt_requires out)
  set(reqs "")
  foreach(c IN LISTS ARGN)
    list(APPEND reqs "Qt6${c} >= 6.4")
  endforeach()
  list(JOIN reqs ", " reqs)
  set(${out} "${reqs}" PARENT_SCOPE)
endfunction()

# --- Core ------------------------------------------------------------------------------------
if(TARGET RegistryIOCore)
  rio_install_library(RegistryIOCore Core)
  install(DIRECTORY "${rio_root}/src/core/include/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    FILES_MATCHING PATTERN "*.h" PATTERN "*_testing*" EXCLUDE)
  list(APPEND rio_installed_components Core)
  # rio_target_moc() and rio_target_qml().
  install(FILES "${rio_root}/cmake/RegistryIOFunctions.cmake"
    DESTINATION ${RIO_INSTALL_CMAKEDIR})

  rio_install_pkg_config(core "RegistryIO Core" "core library" RegistryIOCore "")
endif()

# --- Qt facade -------------------------------------------------------------------------------
set(RIO_QT_COMPONENTS "")
if(TARGET RegistryIOQt)
  rio_install_library(RegistryIOQt Qt)
  install(DIRECTORY "${rio_root}/src/qt/include/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    FILES_MATCHING PATTERN "*.h" PATTERN "*_testing*" EXCLUDE)
  rio_qt_components_of(RegistryIOQt RIO_QT_COMPONENTS)
  list(APPEND rio_installed_components Qt)
  # The logging categories of every layer (all defined in RegistryIO::Qt), for Qt's and KDE's
  # logging tools (KDebugSettings reads share/qlogging-categories6/).
  install(FILES "${rio_root}/src/qt/registryio.categories"
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/qlogging-categories6)
  rio_pc_qt_requires(rio_qt_reqs ${RIO_QT_COMPONENTS})
  rio_install_pkg_config(qt "RegistryIO Qt" "Qt facade" RegistryIOQt
    "registryio-core = ${PROJECT_VERSION}, ${rio_qt_reqs}")
endif()

# --- Remote (registries across processes) ---------------------------------------------------
set(RIO_REMOTE_COMPONENTS "")
if(TARGET RegistryIORemote)
  rio_install_library(RegistryIORemote Remote)
  install(DIRECTORY "${rio_root}/src/remote/include/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    FILES_MATCHING PATTERN "*.h")
  rio_qt_components_of(RegistryIORemote RIO_REMOTE_COMPONENTS)
  list(APPEND rio_installed_components Remote)
  rio_pc_qt_requires(rio_remote_reqs ${RIO_REMOTE_COMPONENTS})
  rio_install_pkg_config(remote "RegistryIO Remote" "registries across processes" RegistryIORemote
    "registryio-qt = ${PROJECT_VERSION}, ${rio_remote_reqs}")
  # Attaching: the module RIO_INSPECT loads (beside RegistryIO::Qt's library), and the inspector.
  if(TARGET RegistryIOInspectServer)
    file(RELATIVE_PATH bin_to_libdir "${CMAKE_INSTALL_FULL_BINDIR}" "${CMAKE_INSTALL_FULL_LIBDIR}")
    set_target_properties(RegistryIOInspectServer PROPERTIES INSTALL_RPATH "${rio_rpath_origin}/..")
    set_target_properties(registryio-inspect PROPERTIES INSTALL_RPATH "${rio_rpath_origin}/${bin_to_libdir}")
    install(TARGETS RegistryIOInspectServer LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}/registryio")
    install(TARGETS registryio-inspect RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
  endif()
  if(TARGET registryio-inspect-gui) # the Qt Quick inspector (with Qt Quick and the QML module)
    set_target_properties(registryio-inspect-gui PROPERTIES INSTALL_RPATH "${rio_rpath_origin}/${bin_to_libdir}")
    # The installed QML module from the program's folder: under a prefix that is not Qt's own
    # (/opt/registryio), Qt's engine does not look there.
    if(IS_ABSOLUTE "${RIO_INSTALL_QMLDIR}")
      set(bin_to_qmldir "${RIO_INSTALL_QMLDIR}")
    else()
      file(RELATIVE_PATH bin_to_qmldir "${CMAKE_INSTALL_FULL_BINDIR}" "${CMAKE_INSTALL_PREFIX}/${RIO_INSTALL_QMLDIR}")
    endif()
    target_compile_definitions(registryio-inspect-gui PRIVATE "RIO_INSPECT_QMLDIR=\"${bin_to_qmldir}\"")
    install(TARGETS registryio-inspect-gui RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
  endif()
endif()

# --- QML module ------------------------------------------------------------------------------
# rio_install_qml_module(<backing target> <component>): installs the backing library (exported as
# RegistryIO::<its EXPORT_NAME>, in component <component>'s targets file), the plugin, qmldir and
# .qmltypes into RIO_INSTALL_QMLDIR/<uri path>. Called below for the target of qml/ whose
# QML_MODULE_URI is RegistryIO (component Qml) and for RegistryIO.Remote (component RemoteQml);
# set RIO_QML_INSTALL_HANDLED=ON in qml/CMakeLists.txt to install the RegistryIO module yourself.
function(rio_install_qml_module backing component)
  get_target_property(uri ${backing} QT_QML_MODULE_URI)
  get_target_property(plugin ${backing} QT_QML_MODULE_PLUGIN_TARGET)
  get_target_property(outdir ${backing} QT_QML_MODULE_OUTPUT_DIRECTORY)
  get_target_property(typeinfo ${backing} QT_QML_MODULE_TYPEINFO)
  string(REPLACE "." "/" uri_path "${uri}")
  set(dest "${RIO_INSTALL_QMLDIR}/${uri_path}")

  get_target_property(backing_type ${backing} TYPE)
  if(backing_type MATCHES "LIBRARY" AND NOT backing_type STREQUAL "MODULE_LIBRARY")
    rio_install_library(${backing} ${component})
    set_property(GLOBAL APPEND PROPERTY RIO_INSTALLED_COMPONENTS ${component})
    # Its metatypes, as Qt's own modules install theirs: a consumer's QML module whose C++ types
    # derive from ours (RIO_QML_TYPED_REGISTRY) then gets their base classes in its .qmltypes,
    # so qmllint and the QML compiler see the inherited properties.
    get_target_property(metatypes ${backing} INTERFACE_QT_META_TYPES_BUILD_FILE)
    if(metatypes)
      get_filename_component(metatypes_name "${metatypes}" NAME)
      set(metatypes_dir "${CMAKE_INSTALL_LIBDIR}/metatypes")
      install(FILES "${metatypes}" DESTINATION "${metatypes_dir}")
      target_sources(${backing} INTERFACE
        "$<INSTALL_INTERFACE:$<$<BOOL:$<TARGET_PROPERTY:QT_CONSUMES_METATYPES>>:$<INSTALL_PREFIX>/${metatypes_dir}/${metatypes_name}>>")
    endif()
  endif()
  if(plugin AND TARGET ${plugin} AND NOT plugin STREQUAL backing)
    # The plugin finds the backing library in LIBDIR from the QML directory.
    set(abs_dest "${dest}")
    set(abs_libdir "${CMAKE_INSTALL_LIBDIR}")
    if(NOT IS_ABSOLUTE "${abs_dest}")
      set(abs_dest "${CMAKE_INSTALL_PREFIX}/${dest}")
    endif()
    if(NOT IS_ABSOLUTE "${abs_libdir}")
      set(abs_libdir "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}")
    endif()
    file(RELATIVE_PATH to_libdir "${abs_dest}" "${abs_libdir}")
    set_target_properties(${plugin} PROPERTIES INSTALL_RPATH "${rio_rpath_origin}/${to_libdir}")
    install(TARGETS ${plugin}
      LIBRARY DESTINATION "${dest}"
      ARCHIVE DESTINATION "${dest}"
      RUNTIME DESTINATION "${dest}")
  endif()
  install(FILES "${outdir}/qmldir" DESTINATION "${dest}")
  # The module's QML components (RegistryInspector.qml), beside the qmldir that lists them: the
  # engine loads them from the plugin's resources, qmllint and qmlls from here.
  get_target_property(qml_files ${backing} QT_QML_MODULE_QML_FILES)
  if(qml_files)
    foreach(qml_file IN LISTS qml_files)
      get_filename_component(qml_name "${qml_file}" NAME)
      install(FILES "${outdir}/${qml_name}" DESTINATION "${dest}")
    endforeach()
  endif()
  if(typeinfo)
    install(FILES "${outdir}/${typeinfo}" DESTINATION "${dest}" OPTIONAL)
  endif()
endfunction()

set(RIO_QML_COMPONENTS "")
if(NOT RIO_QML_INSTALL_HANDLED AND EXISTS "${rio_root}/qml/CMakeLists.txt" AND TARGET RegistryIOQt)
  get_property(rio_qml_added DIRECTORY "${rio_root}" PROPERTY SUBDIRECTORIES)
  if("${rio_root}/qml" IN_LIST rio_qml_added)
    get_property(rio_qml_targets DIRECTORY "${rio_root}/qml" PROPERTY BUILDSYSTEM_TARGETS)
    foreach(t IN LISTS rio_qml_targets)
      get_target_property(t_uri ${t} QT_QML_MODULE_URI)
      if(t_uri STREQUAL "RegistryIO")
        rio_install_qml_module(${t} Qml)
        rio_qt_components_of(${t} RIO_QML_COMPONENTS)
        list(APPEND RIO_QML_COMPONENTS Qml)
        list(REMOVE_DUPLICATES RIO_QML_COMPONENTS)
        rio_pc_qt_requires(rio_qml_reqs ${RIO_QML_COMPONENTS})
        rio_install_pkg_config(qml "RegistryIO Qml" "QML module's backing library" ${t}
          "registryio-qt = ${PROJECT_VERSION}, ${rio_qml_reqs}")
        break()
      endif()
    endforeach()
  endif()
  install(DIRECTORY "${rio_root}/qml/include/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    OPTIONAL FILES_MATCHING PATTERN "*.h" PATTERN "*_testing*" EXCLUDE)
endif()
# The QML module RegistryIO.Remote (RemoteRegistry), when both Remote and the QML module are built.
set(RIO_REMOTE_QML_COMPONENTS "")
if(TARGET RegistryIORemoteQml AND TARGET RegistryIORemote)
  rio_install_qml_module(RegistryIORemoteQml RemoteQml)
  rio_qt_components_of(RegistryIORemoteQml RIO_REMOTE_QML_COMPONENTS)
  # rio::RemoteQmlRegistry (public API, beside the Remote layer's headers in registryio/remote/).
  install(DIRECTORY "${rio_root}/qml/remote/include/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    FILES_MATCHING PATTERN "*.h" PATTERN "*_testing*" EXCLUDE)
endif()
get_property(rio_more GLOBAL PROPERTY RIO_INSTALLED_COMPONENTS)
list(APPEND rio_installed_components ${rio_more})

# The generated export headers (registryio/core_export.h, registryio/qt/qt_export.h, ...) of the
# layers built here, each in its layer's folder.
get_property(rio_export_headers GLOBAL PROPERTY RIO_EXPORT_HEADERS)
foreach(rio_export_header IN LISTS rio_export_headers)
  get_filename_component(rio_export_subdir "registryio/${rio_export_header}" DIRECTORY)
  install(FILES "${PROJECT_BINARY_DIR}/include/registryio/${rio_export_header}"
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${rio_export_subdir})
endforeach()

# The Qt help file of the API reference (-DRIO_BUILD_DOCS=ON, cmake/RioDocs.cmake).
if(TARGET rio_docs)
  get_target_property(rio_qch rio_docs RIO_QCH)
  install(FILES "${rio_qch}" DESTINATION ${RIO_INSTALL_QCHDIR})
endif()

# --- Package config --------------------------------------------------------------------------
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(rio_compat SameMinorVersion) # 0.x: a minor release may break the API
else()
  set(rio_compat SameMajorVersion)
endif()
configure_package_config_file("${rio_root}/cmake/RegistryIOConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/RegistryIOConfig.cmake"
  INSTALL_DESTINATION ${RIO_INSTALL_CMAKEDIR}
  PATH_VARS RIO_INSTALL_QMLDIR)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/RegistryIOConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${rio_compat})
install(FILES "${PROJECT_BINARY_DIR}/RegistryIOConfig.cmake" "${PROJECT_BINARY_DIR}/RegistryIOConfigVersion.cmake"
  DESTINATION ${RIO_INSTALL_CMAKEDIR})
