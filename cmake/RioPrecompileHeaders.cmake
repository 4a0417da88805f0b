# SPDX-License-Identifier: MIT
# Precompiled headers for RegistryIO's own tests, OFF by default: a user's build does not change.
# scripts/test.sh and scripts/qt68.sh turn it on, where about a hundred test files would otherwise
# each parse the same Qt Test, Qt and standard headers again. The libraries never use one. With
# RIO_WERROR a header the compiler refuses fails the build (g++: -Winvalid-pch; clang: an error),
# so CI never falls back to parsing silently.
include_guard(GLOBAL)
option(RIO_PRECOMPILE_HEADERS "Precompile the headers shared by RegistryIO's own tests" OFF)

# rio_precompile_headers(<target>): with RIO_PRECOMPILE_HEADERS, <target> reuses one precompiled
# header with the other targets of its folder that link the same targets, and so compile with the
# same definitions and options (a precompiled header made with other macros is rejected, and Qt
# Test defines the folder as one). Each such group of at least four targets gets its header from an
# object library of its own, once the folder's CMakeLists.txt is read and every link is known.
function(rio_precompile_headers target)
  if(NOT RIO_PRECOMPILE_HEADERS)
    return()
  endif()
  get_directory_property(targets RIO_PCH_TARGETS)
  if(NOT targets)
    cmake_language(DEFER CALL _rio_precompile_headers_for_folder)
  endif()
  set_property(DIRECTORY APPEND PROPERTY RIO_PCH_TARGETS ${target})
endfunction()

function(_rio_precompile_headers_for_folder)
  get_directory_property(targets RIO_PCH_TARGETS)
  set(groups "")
  foreach(target IN LISTS targets)
    # A test built in a GNU dialect (CXX_EXTENSIONS) compiles with another -std, which a header made
    # for the others does not fit: it parses its headers itself.
    get_target_property(extensions ${target} CXX_EXTENSIONS)
    if(extensions)
      continue()
    endif()
    # The linked targets carry the definitions and options; plain libraries (dl) carry none.
    get_target_property(libs ${target} LINK_LIBRARIES)
    set(key "")
    foreach(lib IN LISTS libs)
      if(TARGET ${lib})
        list(APPEND key ${lib})
      endif()
    endforeach()
    list(REMOVE_DUPLICATES key)
    list(SORT key)
    string(MD5 group "${key}")
    list(APPEND groups ${group})
    list(APPEND members_${group} ${target})
    set(libs_${group} "${key}")
  endforeach()
  list(REMOVE_DUPLICATES groups)
  foreach(group IN LISTS groups)
    list(LENGTH members_${group} count)
    # The header costs about three compiles' saving (g++ 12 and clang 14, measured): fewer targets
    # compile faster without it.
    if(count LESS 4)
      continue()
    endif()
    set(key "${libs_${group}}")
    # Qt's and the standard library's headers, where the parsing time goes; RegistryIO's own made
    # no test compile faster.
    set(headers <algorithm> <atomic> <chrono> <functional> <memory> <mutex> <string> <thread> <utility>
      <vector>)
    if(key MATCHES "Qt6::|RegistryIO::(Qt|Qml|Remote)")
      list(APPEND headers <QCoreApplication> <QObject> <QString> <QThread> <QTimer>)
    endif()
    if("Qt6::Test" IN_LIST key)
      list(APPEND headers <QSignalSpy> <QTest>)
    endif()
    if(key MATCHES "RegistryIO::(Qml|RemoteQml)|Qt6::Qml")
      list(APPEND headers <QQmlComponent> <QQmlEngine>)
    endif()
    if(key MATCHES "RegistryIO::Remote|Qt6::RemoteObjects")
      list(APPEND headers <QRemoteObjectHost> <QRemoteObjectNode>)
    endif()
    list(GET members_${group} 0 first)
    set(owner rio_pch_${first})
    file(CONFIGURE OUTPUT "${CMAKE_CURRENT_BINARY_DIR}/${owner}.cpp" CONTENT "// The precompiled header's own file.\n")
    add_library(${owner} OBJECT "${CMAKE_CURRENT_BINARY_DIR}/${owner}.cpp")
    target_link_libraries(${owner} PRIVATE ${key})
    rio_target_defaults(${owner})
    set_target_properties(${owner} PROPERTIES AUTOMOC OFF)
    target_precompile_headers(${owner} PRIVATE ${headers})
    # Clang's header without timestamps: remade from the same files, it is the same file, so ccache
    # finds the compiles that use it again (ccache's manual asks for it).
    target_compile_options(${owner} PRIVATE "$<$<CXX_COMPILER_ID:Clang,AppleClang>:SHELL:-Xclang -fno-pch-timestamp>")
    foreach(target IN LISTS members_${group})
      target_precompile_headers(${target} REUSE_FROM ${owner})
      # AUTOMOC's file of moc output for the target's headers is empty when none of them declares a
      # meta-object: it then compiles in no time, and loading the header would cost more.
      get_target_property(sources ${target} SOURCES)
      list(FILTER sources INCLUDE REGEX "\\.h$")
      set(moc_input "")
      foreach(source IN LISTS sources)
        file(STRINGS "${source}" moc_input REGEX "Q_OBJECT|Q_GADGET|Q_NAMESPACE|RIO_QML_TYPED_REGISTRY")
        if(moc_input)
          break()
        endif()
      endforeach()
      if(NOT moc_input)
        set_source_files_properties("${CMAKE_CURRENT_BINARY_DIR}/${target}_autogen/mocs_compilation.cpp"
          PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
      endif()
    endforeach()
  endforeach()
endfunction()
