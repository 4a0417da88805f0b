#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The ABI of each library against the last release's (README.md, "Versioning and compatibility"):
# its exported symbols and the types they reach, read by libabigail (abidw, abidiff) from a
# package build's libraries and their -dbgsym packages. A release's ABI is committed under
# tests/abi/<version>/, one abixml file per library, reduced to the types the installed headers
# declare (--drop-private-types). Under the same soname, anything but an addition fails; a new
# soname must be named by CHANGELOG.md's entry for the project's version (`.so.<soversion>`).
# Left out: instances of other libraries' templates (the standard library's, Qt's) and local
# entities of our functions, which any program that uses them compiles itself.
#   bash scripts/abi.sh check DEBS        the packages in DEBS (scripts/package.sh keeps them in
#                                         build/package/deb-build) against the newest tests/abi/<version>
#   bash scripts/abi.sh dump DEBS DIR     writes their ABI into DIR: a release's baseline is
#                                         `dump build/package/deb-build tests/abi/<version>`
# Needs abigail-tools (scripts/deps.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v abidw >/dev/null || { echo "abidw not installed (abigail-tools, scripts/deps.sh)" >&2; exit 1; }
mode=${1:-} debs=${2:-}
[[ ($mode == check && $# == 2) || ($mode == dump && $# == 3) ]] && [[ -d $debs ]] ||
  { echo "usage: abi.sh check DEBS | abi.sh dump DEBS DIR" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# What the files hold, read by abidw: RegistryIO's own symbols, in namespace rio (functions, variables, vtables, typeinfo,
# guard variables), as debian/*.symbols' pattern says (POSIX regular expressions: libabigail's).
# The standard library's and Qt's types are kept by name only: what they hold is theirs, and
# where ours hold them, our types' sizes and member offsets say so (this keeps each file small).
suppressions=$tmp/suppressions
for kind in function variable; do
  printf '[suppress_%s]\n  symbol_name_not_regexp = ^_Z(T[hv][n0-9_]*|T[VIS]|GV)?NK?3rio\n' "$kind"
done >"$suppressions"
printf '[suppress_type]\n  name_regexp = %s\n  drop = yes\n' '^(std|__gnu_cxx|__cxxabiv1)::' \
  '^Q[A-Za-z0-9_]*($|<|::)' >>"$suppressions"

dump() { # DEBS DIR: one DIR/<library>.abi per shared library of the packages
  local out=$2 lib name
  mkdir -p "$tmp/root" "$out"
  for deb in "$1"/libregistryio*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
  # dh_dwz moves what a package's ELF files share into one file, which their debug files name by
  # its installed path (.gnu_debugaltlink: the path, a NUL, its build id): pointed at the copy.
  for debug in "$tmp"/root/usr/lib/debug/.build-id/*/*.debug; do
    readelf -S --wide "$debug" | grep -q '\.gnu_debugaltlink' || continue
    objcopy --dump-section .gnu_debugaltlink="$tmp/alt" "$debug" "$tmp/discard"
    IFS= read -r -d '' path <"$tmp/alt" || true
    { printf '%s\0' "$tmp/root$path"; tail -c +$((${#path} + 2)) "$tmp/alt"; } >"$tmp/alt.new"
    objcopy --update-section .gnu_debugaltlink="$tmp/alt.new" "$debug"
  done
  for lib in "$tmp"/root/usr/lib/*/libRegistryIO*.so.*; do
    [[ -L $lib ]] && continue
    name=$(basename "$lib")
    name=${name%%.so.*}
    abidw --debug-info-dir "$tmp/root/usr/lib/debug" --headers-dir "$tmp/root/usr/include" \
      --drop-private-types --suppressions "$suppressions" --no-corpus-path --no-comp-dir-path \
      --no-show-locs --no-parameter-names --no-elf-needed --type-id-style hash --out-file "$out/$name.abi" "$lib" ||
      { echo "$name: abidw failed on $(basename "$lib")" >&2; exit 1; }
    grep -q '<class-decl' "$out/$name.abi" ||
      { echo "$name: no type found: no debug information (its -dbgsym package)?" >&2; exit 1; }
  done
  ls "$out"/*.abi >/dev/null
}

if [[ $mode == dump ]]; then
  dump "$debs" "$3"
  ls -l "$3"
  exit 0
fi

baseline=$(find "$root/tests/abi" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n 1)
[[ -n $baseline ]] || { echo "no release's ABI under tests/abi/" >&2; exit 1; }
version=$(sed -nE 's/^project\(RegistryIO VERSION ([0-9.]+).*/\1/p' "$root/CMakeLists.txt")
soversion=${version%%.*} # the soname's version: major.minor while 0.x, then the major
[[ $soversion != 0 ]] || soversion=${version%.*}
dump "$debs" "$tmp/current"
soname() { sed -nE "s/.*<abi-corpus [^>]*soname='([^']*)'.*/\1/p" "$1" | head -n 1; }
# CHANGELOG.md's entry for this version: from its heading to the next release's.
entry=$(awk -v v="## [$version]" 'index($0, v) == 1 { on = 1; next } on && /^## \[/ { exit } on' \
  "$root/docs/CHANGELOG.md")
failed=0
for old in "$root/tests/abi/$baseline"/*.abi; do
  name=$(basename "$old" .abi)
  new=$tmp/current/$name.abi
  if [[ ! -f $new ]]; then
    echo "$name: in $baseline, not in this build" >&2
    failed=1
    continue
  fi
  rc=0
  # The files hold RegistryIO's own functions and variables only (no suppression here: it would
  # also hide changes of our types' data members). Symbols no debug information names are the
  # compiler's copies of other libraries' inline templates (Qt's QArrayDataPointer<T>), which no
  # program takes from us: not compared (our own are all described, and debian/*.symbols keeps them).
  abidiff --no-added-syms --no-unreferenced-symbols "$old" "$new" >"$tmp/$name.diff" 2>&1 || rc=$?
  ((rc & 3)) && { cat "$tmp/$name.diff" >&2; echo "$name: abidiff failed ($rc)" >&2; failed=1; continue; }
  if [[ $(soname "$old") == "$(soname "$new")" ]]; then
    if ((rc != 0)); then
      cat "$tmp/$name.diff" >&2
      echo "$name: the ABI of $baseline changed under its soname $(soname "$new"): a new minor version (0.x) or major version bumps the soname" >&2
      failed=1
    else
      echo "$name: $(soname "$new"), the ABI of $baseline or a superset"
    fi
  elif ! grep -qF "\`.so.${soversion}\`" <<<"$entry"; then
    echo "$name: soname $(soname "$old") -> $(soname "$new"), but docs/CHANGELOG.md's entry '## [$version]' does not name \`.so.${soversion}\`" >&2
    failed=1
  else
    echo "$name: soname $(soname "$old") -> $(soname "$new"), named in CHANGELOG.md ($( ((rc == 0)) && echo "ABI of $baseline kept" || echo "ABI changed"))"
  fi
done
exit "$failed"
