# SPDX-License-Identifier: MIT
# cmake -DCOMPILER=<c++> -DSOURCE=<file> -DINCLUDES=<dir;...> -DLIBRARY=<file> -DOUT=<exe> -P run.cmake
# Builds SOURCE with COMPILER (not the one the library was built with) against LIBRARY, and runs it.
foreach(var IN ITEMS COMPILER SOURCE INCLUDES LIBRARY OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run.cmake: -D${var}=... is required")
  endif()
endforeach()
set(flags "")
foreach(dir IN LISTS INCLUDES)
  list(APPEND flags "-I${dir}")
endforeach()
get_filename_component(libdir "${LIBRARY}" DIRECTORY)
execute_process(COMMAND "${COMPILER}" -std=c++20 -O1 ${flags} "${SOURCE}" -o "${OUT}" "${LIBRARY}"
                        "-Wl,-rpath,${libdir}" -pthread
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${COMPILER} could not build ${SOURCE}:\n${out}${err}")
endif()
execute_process(COMMAND "${OUT}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OUT} (built by ${COMPILER}) failed (${rc}):\n${out}${err}")
endif()
message(STATUS "${out}")
