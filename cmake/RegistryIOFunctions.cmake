# SPDX-License-Identifier: MIT
# The set-up a project asks RegistryIO for, one target at a time:
#   rio_target_moc(<target>)  an AUTOMOC target whose sources include RegistryIO headers: on Qt
#                             versions whose moc needs it (before 6.5.3), moc reads
#                             RegistryIOMocPrelude.h first; on later ones nothing changes
#   rio_target_qml(<target>)  a target with QML (qt_add_qml_module) that imports RegistryIO or
#                             declares RIO_QML_TYPED_REGISTRY classes: the RegistryIO QML import
#                             path for its qmllint target and the QML compiler (qmlcachegen),
#                             RIO_QML_TYPED_REGISTRY for AUTOMOC, and rio_target_moc()
# Included by RegistryIOConfig.cmake (an installed RegistryIO) and by RegistryIO's own build (for
# add_subdirectory and FetchContent). Including it defines these functions and nothing else: no
# target, variable or cache entry of the including project changes until it calls one.
include_guard(GLOBAL)

# The QML import path holding the module RegistryIO: set by whoever provides RegistryIO::Qml
# (RegistryIOConfig.cmake, or qml/CMakeLists.txt in a build tree).
define_property(GLOBAL PROPERTY RIO_QML_IMPORT_PATH
  BRIEF_DOCS "QML import path of the RegistryIO module"
  FULL_DOCS "Read by rio_target_qml(); the folder that contains RegistryIO/qmldir.")

function(rio_target_moc target)
  if(NOT TARGET ${target})
    message(FATAL_ERROR "rio_target_moc: ${target} is not a target")
  endif()
  # Qt 6.4 up to 6.5.2's moc, given the compiler's predefined macros, fails on libstdc++'s C++20
  # headers (`Parse error at "std"` in <concepts>) when a standard header comes before the first
  # Qt header, as in a file whose first include is <registryio/registry.h>. Fixed in Qt 6.5.3.
  set(version "${Qt6Core_VERSION}")
  if(NOT version AND TARGET Qt6::Core)
    get_target_property(version Qt6::Core _qt_package_version)
  endif()
  if(NOT version)
    find_package(Qt6 COMPONENTS Core QUIET)
    set(version "${Qt6Core_VERSION}")
  endif()
  if(NOT version OR version VERSION_GREATER_EQUAL 6.5.3)
    return()
  endif()
  set(prelude "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/RegistryIOMocPrelude.h")
  get_target_property(options ${target} AUTOMOC_MOC_OPTIONS)
  if(NOT options OR NOT "${prelude}" IN_LIST options)
    set_property(TARGET ${target} APPEND PROPERTY AUTOMOC_MOC_OPTIONS --include "${prelude}")
  endif()
endfunction()

function(rio_target_qml target)
  if(NOT TARGET ${target})
    message(FATAL_ERROR "rio_target_qml: ${target} is not a target")
  endif()
  get_property(path GLOBAL PROPERTY RIO_QML_IMPORT_PATH)
  if(NOT path)
    message(FATAL_ERROR "rio_target_qml: RegistryIO's QML module is not available: "
      "find_package(RegistryIO COMPONENTS Qml), or build RegistryIO with RIO_BUILD_QML=ON")
  endif()
  get_target_property(paths ${target} QT_QML_IMPORT_PATH)
  if(NOT paths OR NOT "${path}" IN_LIST paths)
    set_property(TARGET ${target} APPEND PROPERTY QT_QML_IMPORT_PATH "${path}")
  endif()
  get_target_property(macros ${target} AUTOMOC_MACRO_NAMES)
  if(NOT macros OR NOT "RIO_QML_TYPED_REGISTRY" IN_LIST macros)
    set_property(TARGET ${target} APPEND PROPERTY AUTOMOC_MACRO_NAMES RIO_QML_TYPED_REGISTRY)
  endif()
  # In a build tree, qmllint and the QML compiler read the module once it is built.
  if(TARGET RegistryIOQmlplugin)
    add_dependencies(${target} RegistryIOQmlplugin)
  endif()
  rio_target_moc(${target})
endfunction()
