# SPDX-License-Identifier: MIT
# cmake -DQML=Main.qml -DOUTPUT=shown_code.cpp -P shown_code.cmake
# Writes a C++ file that compiles, as they stand, the lines of code the dashboard's panels show
# (every `route: "..."` string in the QML file), in a function where `flood`, `receiver` and
# `registry` are what flood.cpp calls them. The example_qml_dashboard_code test runs it.
file(STRINGS "${QML}" lines REGEX "^[ \t]*route: \"")
set(statements "")
set(count 0)
foreach(line IN LISTS lines)
  if(NOT line MATCHES "^[ \t]*route: \"(.*)\"[ \t]*$")
    message(FATAL_ERROR "shown_code.cmake: a route that is not one string literal: ${line}")
  endif()
  set(code "${CMAKE_MATCH_1}")
  string(APPEND statements "        static_cast<void>(${code});\n")
  math(EXPR count "${count} + 1")
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "shown_code.cmake: no `route:` line in ${QML}")
endif()
file(CONFIGURE OUTPUT "${OUTPUT}" CONTENT "// SPDX-License-Identifier: MIT
// Generated from Main.qml by shown_code.cmake: the code the dashboard's panels show, compiled.
#include \"flood.h\"

#include <cstdio>

namespace {
struct Shown : QObject
{
    // The names the panels use, as in flood.cpp.
    void code(Flood *flood, Receiver *receiver)
    {
        rio::QtRegistry<Sample> &registry = flood->registry;
@statements@    }
};
} // namespace

int main()
{
    static_cast<void>(&Shown::code);
    std::puts(\"the dashboard shows @count@ lines of code, each compiled\");
    return 0;
}
" @ONLY)
