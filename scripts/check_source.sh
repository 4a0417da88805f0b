#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fails on any tracked C++ file that clang-format 19 would change, and on any tracked source file
# without an SPDX licence line. Run by the CTest test `source_format`; `--fix` reformats instead.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
clang_format=${CLANG_FORMAT:-clang-format-19}
command -v "$clang_format" >/dev/null || { echo "$clang_format not found (scripts/deps.sh installs it)" >&2; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard)
else
  mapfile -t files < <(find . -path ./build -prune -o -type f -print | sed 's|^\./||')
fi
cpp=() status=0
for f in "${files[@]}"; do
  [[ -f $f ]] || continue
  case $f in
    *.h | *.cpp) cpp+=("$f") ;;
  esac
  case $f in
    *.md | *.png | LICENSE | */corpus/*) continue ;;
    # formats without comments: JSON, and Debian files whose syntax has none (debian/copyright
    # states the licence itself)
    CMakePresets.json | debian/changelog | debian/copyright | debian/source/format) continue ;;
    # a release's ABI as abidw writes it (scripts/abi.sh): abidiff reads no comment before it
    tests/abi/*/*.abi) continue ;;
  esac
  if ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
    echo "no SPDX-License-Identifier line: $f"
    status=1
  fi
done
if [[ ${1:-} == --fix ]]; then
  "$clang_format" -i "${cpp[@]}"
elif ! "$clang_format" --dry-run -Werror "${cpp[@]}"; then
  echo "clang-format 19 would change the files above: bash scripts/check_source.sh --fix"
  status=1
fi
((status == 0)) && echo "source check: ${#cpp[@]} C++ files formatted, every source file has its SPDX line"
exit $status
