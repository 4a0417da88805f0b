// SPDX-License-Identifier: MIT
#pragma once

#include <benchmark/benchmark.h>

namespace rio::bench {

/// The tail of every plain benchmark main(): parse flags, refuse unknown ones, run, shut down.
inline int runBenchmarks(int &argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

} // namespace rio::bench
