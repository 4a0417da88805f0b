#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Writes debian/<library package>.symbols anew from a package build's libraries, for a change
# that adds or removes RegistryIO's exported symbols (docs/CONTRIBUTING.md, "Releasing"). Each
# file keeps its header (SPDX line, soname, Build-Depends-Package) and the pattern that matches
# what no edit of ours controls one by one (instances of other libraries' templates, local
# entities of our functions); the symbols it does not match follow, each with the version
# it first appeared in (those of the file it replaces, the project's version for new ones; a
# file of a new soname starts afresh). Symbols gone are dropped: scripts/abi.sh says whether
# that needs a new soname.
#   bash scripts/symbols.sh [DEBS]    DEBS: the packages' folder (scripts/package.sh keeps them
#                                     in build/package/deb-build, the default)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
debs=${1:-$root/build/package/deb-build}
version=$(sed -nE 's/^project\(RegistryIO VERSION ([0-9.]+).*/\1/p' "$root/CMakeLists.txt")
soversion=${version%%.*} # major.minor while 0.x, then the major (cmake/RioInstall.cmake)
[[ $soversion != 0 ]] || soversion=${version%.*}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for lib in Core Qt Qml Remote RemoteQml; do
  pkg=libregistryio${lib,,}$soversion
  file=$root/debian/$pkg.symbols
  deb=$(ls "$debs/${pkg}_${version}"-*.deb 2>/dev/null | head -n 1) ||
    { echo "no ${pkg}_${version}-*.deb in $debs" >&2; exit 1; }
  [[ -n $deb ]] || { echo "no ${pkg}_${version}-*.deb in $debs" >&2; exit 1; }
  dpkg-deb -x "$deb" "$tmp/$pkg"
  dev=libregistryio-dev
  [[ $lib == Core ]] && dev=libregistryiocore-dev
  # The file it replaces, or a header alone for a new soname.
  if [[ -f $file ]]; then
    grep -v '^#' "$file" >"$tmp/$pkg.in"
  else
    printf '%s\n' "libRegistryIO$lib.so.$soversion $pkg #MINVER#" "* Build-Depends-Package: $dev" \
      " (regex|optional)\"^_Z(?!(T[hv][n0-9_]*|T[VIS]|GV)?NK?3rio)\" $version" >"$tmp/$pkg.in"
  fi
  # In template mode (patterns and tags kept), with a version newer than the file's so that every
  # symbol gone, optional ones too, is marked (-V: as a comment, dropped here); new symbols get
  # the project's version.
  dpkg-gensymbols -q -t -V -c0 -p"$pkg" -P"$tmp/$pkg" -v"$version-1" -I"$tmp/$pkg.in" -O"$tmp/$pkg.out" \
    -e"$tmp/$pkg"/usr/lib/*/"libRegistryIO$lib.so.$soversion"
  { echo "# SPDX-License-Identifier: MIT"; grep -v '^#' "$tmp/$pkg.out" | sed "s/ $version-1\$/ $version/"; } >"$file"
  # The files of an older soname's package.
  for old in "$root"/debian/libregistryio"${lib,,}"[0-9]*.symbols; do
    [[ $old == "$file" ]] || rm -v "$old"
  done
  echo "$(basename "$file"): $(grep -c '^ _' "$file") symbols"
done
