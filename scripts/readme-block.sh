#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Prints README.md's fenced block that follows the marker <!-- ci: NAME -->: what CI runs as the
# README shows it (scripts/package.sh's routes, the main stage's demo). Fails if there is none.
#   bash scripts/readme-block.sh NAME
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
text=$(awk -v m="<!-- ci: $1 -->" '$0 == m { on = 1; next } on && /^```/ { if (in_block) exit; in_block = 1; next }
  in_block { print }' "$root/README.md")
[[ -n $text ]] || { echo "README.md: no block after <!-- ci: $1 -->" >&2; exit 1; }
printf '%s\n' "$text"
