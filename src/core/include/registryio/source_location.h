// SPDX-License-Identifier: MIT
#pragma once

// Where a handler was added: captured by the add functions' default argument, so user code does
// not change. std::source_location where the standard library has it; elsewhere (Clang 14 with
// libstdc++ 12 has no __builtin_source_location) the same three facts from the builtins every
// supported compiler has, which also resolve at the outermost caller in a default argument.

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

#if defined(__cpp_lib_source_location)
    /// The position of the expression that evaluates it (as a default argument: the call).
    static constexpr SourceLocation
    current(std::source_location loc = std::source_location::current()) noexcept
    {
        SourceLocation s;
        s.m_loc = loc;
        return s;
    }
    /// The file name ("" when unknown).
    [[nodiscard]] constexpr const char *fileName() const noexcept { return m_loc.file_name(); }
    /// The function name ("" when unknown).
    [[nodiscard]] constexpr const char *functionName() const noexcept { return m_loc.function_name(); }
    /// The line (0 when unknown).
    [[nodiscard]] constexpr std::uint32_t line() const noexcept { return m_loc.line(); }
#else
    /// The position of the expression that evaluates it (as a default argument: the call).
    static constexpr SourceLocation current(const char *file = __builtin_FILE(),
                                            const char *function = __builtin_FUNCTION(),
                                            std::uint32_t line = __builtin_LINE()) noexcept
    {
        SourceLocation s;
        s.m_file = file;
        s.m_function = function;
        s.m_line = line;
        return s;
    }
    /// The file name ("" when unknown).
    [[nodiscard]] constexpr const char *fileName() const noexcept { return m_file; }
    /// The function name ("" when unknown).
    [[nodiscard]] constexpr const char *functionName() const noexcept { return m_function; }
    /// The line (0 when unknown).
    [[nodiscard]] constexpr std::uint32_t line() const noexcept { return m_line; }
#endif
    /// True for a position taken by current().
    [[nodiscard]] constexpr bool isKnown() const noexcept { return line() != 0; }

private:
#if defined(__cpp_lib_source_location)
    std::source_location m_loc; // one pointer to static data
#else
    const char *m_file = "";
    const char *m_function = "";
    std::uint32_t m_line = 0;
#endif
};

} // namespace rio
