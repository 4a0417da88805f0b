#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""file_map.py ROOT: docs/ARCHITECTURE.md's file map (its section "File map") names every file of
src/ and qml/ by its path from the project's root, in backquotes, and names no file that is not
there. Exit 1 with the files missing from it and the paths it names in vain."""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else '.'
text = open(os.path.join(root, 'docs', 'ARCHITECTURE.md'), encoding='utf-8').read()
start = text.index('\n## File map')
end = text.find('\n## ', start + 1)
section = text[start:end if end >= 0 else len(text)]
named = {p.rstrip('/') for p in re.findall(r'`((?:src|qml)/[^`\s]+)`', section)}

files = set()
for top in ('src', 'qml'):
    for folder, _, names in os.walk(os.path.join(root, top)):
        for name in names:
            files.add(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, '/'))

missing = sorted(files - named)
stale = sorted(p for p in named - files if not os.path.isdir(os.path.join(root, p)))
for path in missing:
    print(f'not in the file map: {path}')
for path in stale:
    print(f'in the file map, but not there: {path}')
print(f'{len(files)} files, {len(missing)} missing from the map, {len(stale)} named in vain')
sys.exit(1 if missing or stale else 0)
