# SPDX-License-Identifier: MIT
# Gives every target of the calling project that links RegistryIO::Qml the RegistryIO QML import
# path, so that its qmllint target and qmlcachegen (the QML compiler) find `import RegistryIO`
# without further set-up, and adds RIO_QML_TYPED_REGISTRY to its AUTOMOC_MACRO_NAMES. Qt 6.4
# reads both from properties of the target itself (QT_QML_IMPORT_PATH), which link usage
# requirements cannot set: the call runs at the end of the top-level directory, when every target
# exists, and visits them all. rio_qml_module_dependencies() stays the explicit form.
if(COMMAND rio_qml_give_import_path_later)
  return()
endif()

function(_rio_qml_give_import_path dir path)
  get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(libs ${target} LINK_LIBRARIES)
    if(NOT libs OR NOT ("RegistryIO::Qml" IN_LIST libs OR "RegistryIOQml" IN_LIST libs))
      continue()
    endif()
    get_target_property(paths ${target} QT_QML_IMPORT_PATH)
    if(NOT paths OR NOT "${path}" IN_LIST paths)
      set_property(TARGET ${target} APPEND PROPERTY QT_QML_IMPORT_PATH "${path}")
    endif()
    get_target_property(macros ${target} AUTOMOC_MACRO_NAMES)
    if(NOT macros OR NOT "RIO_QML_TYPED_REGISTRY" IN_LIST macros)
      set_property(TARGET ${target} APPEND PROPERTY AUTOMOC_MACRO_NAMES RIO_QML_TYPED_REGISTRY)
    endif()
  endforeach()
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _rio_qml_give_import_path("${sub}" "${path}")
  endforeach()
endfunction()

# Schedules the visit once per project (set RegistryIO_NO_QML_IMPORT_PATH to skip it).
function(rio_qml_give_import_path_later path)
  get_property(done GLOBAL PROPERTY _rio_qml_import_path_scheduled)
  if(done OR RegistryIO_NO_QML_IMPORT_PATH)
    return()
  endif()
  set_property(GLOBAL PROPERTY _rio_qml_import_path_scheduled TRUE)
  # A deferred call expands its arguments when it runs: bake the values in now.
  cmake_language(EVAL CODE "cmake_language(DEFER DIRECTORY [[${CMAKE_SOURCE_DIR}]] CALL _rio_qml_give_import_path [[${CMAKE_SOURCE_DIR}]] [[${path}]])")
endfunction()
