# SPDX-License-Identifier: MIT
# The set-up a project asks RegistryIO for, one target at a time:
#   rio_target_moc(<target>)  nothing: kept for projects written for 0.2.0 and earlier, whose
#                             AUTOMOC targets needed it on Qt before 6.5.3. Every public header now
#                             goes through any supported moc as a file's first include.
#   rio_target_qml(<target>)  a target with QML (qt_add_qml_module) that imports RegistryIO or
#                             declares RIO_QML_TYPED_REGISTRY classes: the RegistryIO QML import
#                             path for its qmllint target and the QML compiler (qmlcachegen),
#                             RIO_QML_TYPED_REGISTRY for AUTOMOC
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
endfunction()
