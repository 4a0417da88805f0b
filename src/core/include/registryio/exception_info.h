// SPDX-License-Identifier: MIT
#pragma once

#include <version> // first: moc before Qt 6.5.3 needs libstdc++'s configuration before <concepts>

#include <registryio/handler_id.h>

#include <exception>
#include <string>

namespace rio {

/// What the exception callback learns about a handler that threw.
struct ExceptionInfo
{
    /// The handler that threw.
    HandlerId handlerId;
    /// `what()` of a std::exception; empty for any other thrown type.
    std::string message;
    /// The exception itself, for rethrowing or inspection.
    std::exception_ptr exception;
};

} // namespace rio
