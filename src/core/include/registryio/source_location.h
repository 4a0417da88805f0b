// SPDX-License-Identifier: MIT
#pragma once

// Where a handler was added: captured by the add functions' default argument, so user code does
// not change. Filled from std::source_location where the standard library has it, and elsewhere
// (Clang 14 with libstdc++ 12 has no __builtin_source_location) from the builtins every
// supported compiler has, which also resolve at the outermost caller in a default argument. Its
// layout is the same either way: a library built with one compiler and a program built with
// another (g++ and Clang against one libstdc++) agree on it.

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <cstdint>
#include <version>
#if defined(__cpp_lib_source_location)
#include <source_location>
#endif

namespace rio {

/// A source position (file, line, function) taken where SourceLocation::current() is evaluated:
/// as a default argument, the caller's position. Holds pointers to static strings.
class SourceLocation
{
public:
    /// An unknown position (empty file and function, line 0).
    constexpr SourceLocation() noexcept = default;

    /// The position of the expression that evaluates it (as a default argument: the call).
#if defined(__cpp_lib_source_location)
    static constexpr SourceLocation
    current(std::source_location loc = std::source_location::current()) noexcept
    {
        return {loc.file_name(), loc.function_name(), loc.line()};
    }
#else
    static constexpr SourceLocation current(const char *file = __builtin_FILE(),
                                            const char *function = __builtin_FUNCTION(),
                                            std::uint32_t line = __builtin_LINE()) noexcept
    {
        return {file, function, line};
    }
#endif
    /// The file name ("" when unknown).
    [[nodiscard]] constexpr const char *fileName() const noexcept { return m_file; }
    /// The function name ("" when unknown).
    [[nodiscard]] constexpr const char *functionName() const noexcept { return m_function; }
    /// The line (0 when unknown).
    [[nodiscard]] constexpr std::uint32_t line() const noexcept { return m_line; }
    /// True for a position taken by current().
    [[nodiscard]] constexpr bool isKnown() const noexcept { return m_line != 0; }

private:
    constexpr SourceLocation(const char *file, const char *function, std::uint32_t line) noexcept
        : m_file(file), m_function(function), m_line(line)
    { }

    const char *m_file = "";
    const char *m_function = "";
    std::uint32_t m_line = 0;
};

} // namespace rio
