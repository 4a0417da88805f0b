// SPDX-License-Identifier: MIT
// The main() of every portable test executable: see rio_check.h.
#include "rio_check.h"

#include <cstdio>
#include <cstring>
#include <exception>

int main(int argc, char **argv)
{
    int passed = 0;
    int failed = 0;
    for (const rio::check::Case &c : rio::check::cases()) {
        bool selected = argc < 2;
        for (int i = 1; i < argc; ++i)
            selected = selected || std::strcmp(argv[i], c.name) == 0;
        if (!selected)
            continue;
        try {
            c.run();
            std::printf("PASS %s\n", c.name);
            ++passed;
        } catch (const rio::check::Failure &f) {
            std::printf("FAIL %s: %s\n", c.name, f.what.c_str());
            ++failed;
        } catch (const std::exception &e) {
            std::printf("FAIL %s: exception: %s\n", c.name, e.what());
            ++failed;
        } catch (...) {
            std::printf("FAIL %s: unknown exception\n", c.name);
            ++failed;
        }
        std::fflush(stdout);
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
