# SPDX-License-Identifier: MIT
# Cross-compiling for 64-bit Windows with MinGW-w64 (Debian: g++-mingw-w64-x86-64-posix, the
# POSIX-threads flavour, which has std::thread/std::mutex). Used by the `mingw` stage of
# scripts/test.sh; the executables run under wine64 (CMAKE_CROSSCOMPILING_EMULATOR, so ctest runs
# them too). Pass -DRIO_WINE=<path> to choose the wine launcher.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(rio_mingw_triplet x86_64-w64-mingw32)
find_program(CMAKE_C_COMPILER NAMES ${rio_mingw_triplet}-gcc-posix ${rio_mingw_triplet}-gcc REQUIRED)
find_program(CMAKE_CXX_COMPILER NAMES ${rio_mingw_triplet}-g++-posix ${rio_mingw_triplet}-g++ REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${rio_mingw_triplet}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${rio_mingw_triplet})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

if(NOT DEFINED RIO_WINE)
  find_program(RIO_WINE NAMES wine64 wine PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
endif()
if(RIO_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${RIO_WINE}")
endif()
