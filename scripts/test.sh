#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds and runs every test: the full suite with g++, then the concurrency-sensitive tests
# (CTest label `sanitize`) under ThreadSanitizer and under AddressSanitizer+UBSan with clang,
# which also runs the libFuzzer target; then the whole core suite (tests/core, label `core`, no
# Qt) built with clang and libc++ (the macOS standard library) and cross-built with MinGW-w64 for
# Windows as a DLL (what Windows users of Qt link), run under wine; then README.md's commands run
# as written, each route in a bare Debian 12 tree: the Debian packages built with their tests,
# checked with lintian, their ABI compared with the last release's (scripts/abi.sh), installed, the
# quick starts and the Remote QML example built and run against them; the install
# route (the preset `user`) and find_package; FetchContent (scripts/package.sh); clang-tidy
# over the libraries' sources; last, the libraries, tests and examples built with g++ 14 against Qt 6.8 and the suite run, in
# a Debian 13 tree (scripts/qt68.sh). Both trees are kept in a cache directory outside the
# checkout. Installs missing packages first; safe to rerun.
#   bash scripts/test.sh            everything
#   RIO_STAGES="main" bash scripts/test.sh   only some stages (main tsan asan libcxx mingw package tidy qt68)
#   RIO_NO_LANES=1 bash scripts/test.sh      tidy and qt68's build in the foreground at their turn
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stages=${RIO_STAGES:-main tsan asan libcxx mingw package tidy qt68}
jobs=$(nproc)

# The stages that work in Debian trees need root and a mount namespace of their own, which a
# chroot or a container without CAP_SYS_ADMIN refuses: said now, not at their turn.
for s in package qt68; do
  [[ " $stages " == *" $s "* ]] || continue
  why=""
  if [[ $(id -u) -ne 0 ]]; then
    why="it needs root (chroot, mount)"
  elif ! err=$(unshare --mount --propagation private true 2>&1); then
    why="it makes a private mount namespace, which this system refuses (${err:-unshare failed}; a chroot or a container?)"
  fi
  if [[ -n $why ]]; then
    echo "stage $s cannot run here: $why. Leave it out: RIO_STAGES=\"$(sed -E 's/ ?(package|qt68)\b//g; s/^ //' <<<"$stages")\"" >&2
    exit 1
  fi
done
bash "$root/scripts/deps.sh" test

# Every stage's time, last, pass or fail: the end of a log is what a CI page shows.
times=()
stage=""
report() { # exit status
  local rc=$1
  cpu
  [[ -z $stage ]] || times+=("$stage $((SECONDS - stage_start)) s ($( ((rc == 0)) && echo passed || echo "failed: $rc"), $((cpu_now - cpu_start)) CPU-s)")
  echo "=== stages run in $SECONDS s ($cpu_now CPU-s): $(IFS=,; echo "${times[*]}")"
  for pid in $package_pid "${lanes[@]}"; do
    # a stage still running beside (its session; the process itself if it has none yet)
    kill -0 "$pid" 2>/dev/null || continue
    kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  done
}
# CPU-seconds of the processes this shell has reaped, so far (a stage's own: the difference):
# with the wall time, where the two cores sat idle. Bash reaps a lane when it ends, so a lane's
# CPU-seconds count in the stage running then. Read from
# /proc: `times` writes only to a file (a $(...) would count its own children), and a lane's
# nested run of this script would write the same file.
cpu_now=0 cpu_start=0
ticks=$(getconf CLK_TCK)
cpu() { # sets cpu_now: the children's user and system time (fields 16 and 17 of /proc/PID/stat)
  local stat fields
  read -r stat </proc/$$/stat
  read -ra fields <<<"${stat##*) }"
  cpu_now=$(((fields[13] + fields[14]) / ticks))
}
# Installed before any lane starts: whatever ends the run from here on stops them.
lanes=() package_pid=""
trap 'report $?' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Work that needs nothing the other stages build runs beside them from the start, each in a
# session of its own (stopped if the run ends first), its log shown and waited for at its stage's
# turn: the package stage at normal priority; clang-tidy and the qt68 stage's build at idle
# priority (SCHED_IDLE: the CPU no other process wants), so they take the cores the foreground
# stages leave while their tests wait on deadlines and other processes, and never slow a
# foreground build or test. The tests of qt68 run at its turn. RIO_NO_LANES=1 runs tidy and
# qt68's build in the foreground at their turn (the package stage and the Debian trees are still
# made beside).
idle=(chrt --idle 0)
"${idle[@]}" true 2>/dev/null || idle=(nice -n 19) # where SCHED_IDLE is refused (a sandbox)
lane() { # name, command...: in the background, in its own session
  local name=$1; shift
  mkdir -p "$root/build"
  # A session is an autogroup where the kernel has them (Debian's): the scheduler shares the CPU
  # between sessions first, whatever their threads' class, so the lane's session is niced too.
  setsid bash -c 'echo 19 2>/dev/null >/proc/self/autogroup; exec "$@"' lane "$@" \
    </dev/null >"$root/build/$name-lane.log" 2>&1 &
  lanes+=($!)
  eval "${name}_lane=$!"
}
await_lane() { # name: waits for it and shows its log; fails as it failed
  local name=$1 pid p rc=0
  pid=${name}_lane
  # Its turn: it is the stage now, at normal priority (where allowed), so that on a machine
  # shared with other work it is not left the CPU nobody else wants. Twice: a process forked
  # during the first pass inherits the idle class from a parent not yet moved.
  for _ in 1 2; do
    for p in $(ps -s "${!pid}" -o pid= 2>/dev/null); do chrt -a --other -p 0 "$p" >/dev/null 2>&1 || true; done
  done
  echo 0 2>/dev/null >/proc/"${!pid}"/autogroup || true
  wait "${!pid}" || rc=$?
  cat "$root/build/$name-lane.log"
  return "$rc"
}
tidy_lane="" qt68_lane=""
if [[ -z ${RIO_NO_LANES:-} && " $stages " == *" tidy "* ]]; then
  lane tidy "${idle[@]}" env RIO_STAGES=tidy RIO_NO_LANES=1 bash "$root/scripts/test.sh"
fi

# The qt68 stage's Debian 13 tree (about 1 GB from the Debian mirror, 7 minutes the first time on
# a machine) is made in the background from the start, while the other stages build.
cache_dir=${RIO_CACHE_DIR:-/var/cache/registryio}
# Then, as a lane, the stage's build (its tests at its turn).
if [[ " $stages " == *" qt68 "* ]]; then
  mkdir -p "$cache_dir"
  qt68_log="$cache_dir/debian13-qt68.log"
  if [[ -z ${RIO_NO_LANES:-} ]]; then
    lane qt68 bash -c 'bash "$1/scripts/debian-root.sh" qt68 "$2/debian13-qt68" >"$3" 2>&1 ||
      { cat "$3"; echo "the Debian 13 tree could not be made (log: $3)"; exit 1; }
      tail -n 2 "$3" | head -n 1
      RIO_QT68_BUILD_ONLY=1 RIO_CACHE_DIR=$2 "${@:4}" bash "$1/scripts/qt68.sh"' qt68 "$root" "$cache_dir" \
      "$qt68_log" "${idle[@]}"
  else
    # The tree alone, in the background, in a session of its own: stopped if the run ends first
    # (debian-root.sh builds it aside and moves it into place, so a rerun starts it afresh).
    setsid bash "$root/scripts/debian-root.sh" qt68 "$cache_dir/debian13-qt68" </dev/null >"$qt68_log" 2>&1 &
    qt68_tree_pid=$!
    lanes+=("$qt68_tree_pid")
  fi
fi
# The package stage needs nothing the other stages build, and much of its time is apt's and
# dpkg's unpacking on one core: it runs beside them from the start, after its bare Debian 12
# tree (about 1 to 5 minutes the first time), in a session of its own (stopped if the run ends
# first); its log is shown, and waited for, at its turn among the stages.
if [[ " $stages " == *" package "* ]]; then
  mkdir -p "$cache_dir" "$root/build"
  package_log="$root/build/package-stage.log"
  setsid bash -euo pipefail -c '
    root=$1 cache_dir=$2 start=$SECONDS
    deb_log="$cache_dir/debian12-deb.log"
    if ! bash "$root/scripts/debian-root.sh" deb "$cache_dir/debian12-deb" >"$deb_log" 2>&1; then
      cat "$deb_log"
      echo "the Debian 12 tree could not be made (log: $deb_log)"
      exit 1
    fi
    tail -n 2 "$deb_log" | head -n 1
    RIO_CACHE_DIR=$cache_dir bash "$root/scripts/package.sh"
    echo "package stage: $((SECONDS - start)) s, beside the other stages"
  ' package "$root" "$cache_dir" </dev/null >"$package_log" 2>&1 &
  package_pid=$!
fi
export QT_QPA_PLATFORM=offscreen
export CTEST_OUTPUT_ON_FAILURE=1

# Ccache when installed (it only makes reruns cheaper), for every stage. Paths are hashed relative
# to the checkout, so a clone in another folder (CI's) reuses what an earlier run compiled. Depend
# mode: a miss, which is every compile of a cold run, costs the compile alone, where ccache's
# default runs the preprocessor once more first (3 to 10 % of a compile here); hits are found as
# before, by the sources and headers (direct mode).
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true CCACHE_DEPEND=true
  # Compiles that use a precompiled header (RIO_PRECOMPILE_HEADERS, below) are cached only with
  # these (ccache's manual): through such a header ccache sees neither __TIME__ and __DATE__ nor
  # the #defines, and a header made just before the compiles that use it must not turn direct
  # mode off. Nothing here uses __TIME__ or __DATE__.
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
fi

# RelWithDebInfo with line tables only (-g1): sanitizer reports and backtraces keep file and line,
# and every stage compiles and links about a third faster than with full debug information.
# The sanitizer stages compile at -O1 (what the sanitizers' own documentation advises: readable
# reports, and about a quarter less compile time than -O2); the others at -O2, as users ship.
optimize=-O2
configure() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRIO_WERROR=ON \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$optimize -g1 -DNDEBUG" "${launcher[@]}" "$@" >/dev/null
}

# What only CI's builds with Qt get (a user's build has neither): the tests' common headers
# precompiled (RIO_PRECOMPILE_HEADERS: Qt Test's, Qt's and the standard library's, once for each
# folder's tests that compile alike), and each library compiled as a few translation units
# (CMAKE_UNITY_BUILD; the tests stay one file each). Measured without ccache, in CPU-seconds:
# ThreadSanitizer's build 738 -> 535 (clang 14); the main build's test compiles 700 -> 510, the
# headers included (g++ 12). The Core-only stages (libcxx, mingw) build few tests: not used there.
fast=(-DRIO_PRECOMPILE_HEADERS=ON -DCMAKE_UNITY_BUILD=ON)
# Only the Core and its tests (tests/core, no Qt): what the libc++ and MinGW stages build.
core_only=(-DRIO_BUILD_QT=OFF -DRIO_BUILD_QML=OFF -DRIO_BUILD_TESTS=OFF -DRIO_BUILD_EXAMPLES=OFF
  -DRIO_BUILD_BENCHMARKS=OFF -DRIO_BUILD_CORE_TESTS=ON)
# The split of a stage's time between its build and what follows, in the log where it happens.
built() { echo "=== stage $stage: configured and built in $((SECONDS - stage_start)) s"; }
for stage in $stages; do
  echo "=== stage: $stage"
  stage_start=$SECONDS
  optimize=-O2
  [[ $stage == tsan || $stage == asan ]] && optimize=-O1
  case $stage in
    main)
      # With the LTTng tracepoints compiled in: tst_tracing records and reads back a session.
      # The Core's tests (tests/core: no Qt) are the package stage's when it runs: the package
      # build compiles and runs them with the same g++ (dpkg-buildpackage, as the README builds).
      # Its routes also build and run the quick starts against the packages, an install and a
      # FetchContent: package_find_package and package_fetchcontent then install and configure
      # their consumer, with its CMake checks, and build none (RIO_PACKAGE_TESTS_BUILD).
      own=ON
      [[ -z $package_pid ]] || own=OFF
      configure "$root/build/test-gcc" -DCMAKE_CXX_COMPILER=g++ -DRIO_TRACING=LTTNG "${fast[@]}" \
        -DRIO_BUILD_CORE_TESTS=$own -DRIO_PACKAGE_TESTS_BUILD=$own
      cmake --build "$root/build/test-gcc" -j "$jobs"
      built
      # The callgrind budgets are set for this configuration: here their test must run, not skip.
      RIO_CALLGRIND_BUDGET=required ctest --test-dir "$root/build/test-gcc" -j "$jobs" --label-exclude serial
      ctest --test-dir "$root/build/test-gcc" --label-regex serial
      # The README's demo commands, as written (its block <!-- ci: demo -->), from the checkout:
      # headless here, each builds its demo (build/demo) and runs it with its own checks.
      bash "$root/scripts/readme-block.sh" demo >"$root/build/readme-demo.sh"
      (cd "$root" && bash -euo pipefail "$root/build/readme-demo.sh")
      ;;
    tsan)
      # Two test slots per core in the sanitizer stages: their tests mostly wait (deadlines, other
      # processes), not compute. The main build's 81 `sanitize` tests on the loaded 2-core
      # machine, three runs each: 282, 312 and 280 s at -j 2; 173, 141 and 168 s at -j 4, no failure
      # in either. A fuzzer, busy on one core for its whole run, takes two slots (PROCESSORS).
      configure "$root/build/test-tsan" -DCMAKE_CXX_COMPILER=clang++-14 -DRIO_SANITIZE=thread \
        -DRIO_BUILD_EXAMPLES=OFF -DRIO_BUILD_BENCHMARKS=OFF "${fast[@]}"
      cmake --build "$root/build/test-tsan" -j "$jobs" --target rio_sanitize
      built
      TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ignore_noninstrumented_modules=1 suppressions=$root/tests/tsan.supp" \
        ctest --test-dir "$root/build/test-tsan" -j $((jobs * 2)) --label-regex sanitize
      ;;
    asan)
      configure "$root/build/test-asan" -DCMAKE_CXX_COMPILER=clang++-14 -DRIO_SANITIZE=address,undefined \
        -DRIO_BUILD_EXAMPLES=OFF -DRIO_BUILD_BENCHMARKS=OFF -DRIO_BUILD_FUZZ=ON "${fast[@]}"
      cmake --build "$root/build/test-asan" -j "$jobs" --target rio_sanitize
      built
      ASAN_OPTIONS="detect_leaks=1 abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1" \
      LSAN_OPTIONS="suppressions=$root/tests/lsan.supp" \
        ctest --test-dir "$root/build/test-asan" -j $((jobs * 2)) --label-regex sanitize
      ;;
    libcxx)
      # clang 14 with libc++ 14, as on macOS (whose libc++ also lacks std::jthread before 18).
      # Qt is built against libstdc++ here, so only the Core and its tests.
      configure "$root/build/test-libcxx" -DCMAKE_CXX_COMPILER=clang++-14 \
        -DCMAKE_CXX_FLAGS=-stdlib=libc++ -DCMAKE_EXE_LINKER_FLAGS=-stdlib=libc++ \
        -DCMAKE_SHARED_LINKER_FLAGS=-stdlib=libc++ "${core_only[@]}"
      cmake --build "$root/build/test-libcxx" -j "$jobs" --target rio_core_tests
      ctest --test-dir "$root/build/test-libcxx" -j "$jobs" --label-regex '^core$'
      ;;
    mingw)
      # Windows: MinGW-w64 cross build of the Core as a DLL (what Windows users of Qt link), run
      # under wine64 (ctest runs the .exe files through CMAKE_CROSSCOMPILING_EMULATOR). No static
      # build: the tests that replace operator new, which a DLL's allocations do not reach, run in
      # every other stage. The wine prefix is created once.
      mingw_dir="$root/build/test-mingw"
      export WINEPREFIX="$mingw_dir/wineprefix" WINEDEBUG=-all
      if [[ ! -f "$WINEPREFIX/system.reg" ]]; then
        wine_start=$SECONDS
        mkdir -p "$mingw_dir"
        # Without Mono and Gecko (mscoree, mshtml): nothing to download, no prompt.
        WINEDLLOVERRIDES="mscoree,mshtml=" wineboot -i >/dev/null 2>&1
        echo "wine prefix created in $((SECONDS - wine_start)) s"
      fi
      # One wineserver for the whole stage, kept alive (-p) between tests and builds, so no test
      # starts while an idle server is shutting down; stopped when the script exits, pass or fail.
      # The tests run through scripts/wine-run.sh, which reruns a test once only when wine's own
      # client lost that server.
      wineserver=/usr/lib/wine/wineserver64
      [[ -x $wineserver ]] || wineserver=$(command -v wineserver)
      "$wineserver" -k >/dev/null 2>&1 || true  # a server left by wineboot or an earlier run
      "$wineserver" -p </dev/null >/dev/null 2>&1
      # The prefix's helper processes (services.exe, winedevice.exe) live as long as the server:
      # started here, they hold /dev/null rather than the first test's output.
      /usr/lib/wine/wine64 wineboot </dev/null >/dev/null 2>&1
      trap 'rc=$?; "$wineserver" -k >/dev/null 2>&1 || true; report $rc' EXIT
      wine_run=(-DRIO_WINE="$root/scripts/wine-run.sh")
      dir="$mingw_dir/shared"
      configure "$dir" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/mingw-w64.cmake" \
        -DBUILD_SHARED_LIBS=ON -DCMAKE_RUNTIME_OUTPUT_DIRECTORY="$dir/bin" "${wine_run[@]}" \
        "${core_only[@]}"
      cmake --build "$dir" -j "$jobs" --target rio_core_tests
      # The MinGW runtime DLLs next to the executables and the Core DLL.
      for dll in /usr/lib/gcc/x86_64-w64-mingw32/*-posix/{libstdc++-6,libgcc_s_seh-1}.dll \
        /usr/x86_64-w64-mingw32/lib/libwinpthread-1.dll; do
        cp -u "$dll" "$dir/bin/"
      done
      ctest --test-dir "$dir" -j "$jobs" --label-regex '^core$'
      # --- DLL link test (tests/dll): the shared Core installed into a prefix, and a consumer
      # project whose program calls every public inline template that reaches into the Core DLL,
      # run under wine. A function such a template calls without the export macro fails its link.
      dll_dir="$mingw_dir/dll-link"
      cmake --build "$mingw_dir/shared" -j "$jobs" --target RegistryIOCore
      cmake --install "$mingw_dir/shared" --prefix "$dll_dir/prefix" >/dev/null
      cmake -S "$root/tests/dll" -B "$dll_dir/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
        -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/mingw-w64.cmake" "${launcher[@]}" "${wine_run[@]}" \
        -DRegistryIO_DIR="$dll_dir/prefix/lib/cmake/RegistryIO" >/dev/null
      cmake --build "$dll_dir/build" -j "$jobs"
      cp -u "$dll_dir"/prefix/bin/*.dll "$mingw_dir"/shared/bin/{libstdc++-6,libgcc_s_seh-1,libwinpthread-1}.dll \
        "$dll_dir/build/"
      ctest --test-dir "$dll_dir/build" --output-on-failure
      # --- end of the DLL link test
      ;;
    tidy)
      if [[ -n $tidy_lane ]]; then
        # Run from the start as a lane (above): its result, at its turn.
        await_lane tidy || exit 1
      else
        # --- clang-tidy: the checks of .clang-tidy over the libraries' own sources (tidy_dirs),
        # warnings as errors, from the compile_commands.json of the libraries configured alone with
        # the main build's compiler and options, one command per source (the main build's unity
        # build merges them). Configuring is enough: the library sources include no generated file
        # but the export headers configure writes.
        tidy_build="$root/build/test-tidy"
        configure "$tidy_build" -DCMAKE_CXX_COMPILER=g++ -DRIO_TRACING=LTTNG -DRIO_BUILD_TESTS=OFF \
          -DRIO_BUILD_EXAMPLES=OFF -DRIO_BUILD_BENCHMARKS=OFF
        tidy_dirs="src/core/src src/qt/src qml/src src/remote/src qml/remote/src"
        tidy_regex="^$root/($(echo "$tidy_dirs" | tr ' ' '|'))/[^/]*\.cpp\$"
        tidy_log="$tidy_build/clang-tidy.log"
        rc=0
        run-clang-tidy-14 -p "$tidy_build" -j "$jobs" -quiet "$tidy_regex" >"$tidy_log" 2>&1 || rc=$?
        # Warnings are errors: any diagnostic located in our files fails the stage (run-clang-tidy-14
        # has no --warnings-as-errors; its exit code covers errors and crashes).
        diagnostics=$(sed 's/\x1b\[[0-9;]*m//g' "$tidy_log" | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' || true)
        if grep "^$root/" <<<"$diagnostics"; then
          rc=1
        fi
        if ((rc != 0)); then
          echo "clang-tidy found problems (full log: $tidy_log)" >&2
          exit 1
        fi
        echo "clang-tidy: $(grep -c '^clang-tidy' "$tidy_log") files clean ($tidy_dirs)"
      fi
      ;;
      # --- end of the tidy stage
    package)
      # README.md's commands in copies of the bare Debian 12 tree (scripts/package.sh), started
      # beside the other stages above and waited for here: the packages built and tested,
      # lintian, installed, the quick starts, the install route, FetchContent.
      rc=0
      wait "$package_pid" || rc=$?
      package_pid=""
      cat "$package_log"
      ((rc == 0)) || exit 1
      ;;
    qt68)
      # Qt 6.8 and g++ 14 (Debian 13): scripts/qt68.sh builds all but the benchmarks and runs the
      # suite in the tree made in the background above (it waits for it here; reused on a rerun).
      if [[ -n $qt68_lane ]]; then
        # The tree and the build, a lane from the start (above); a failed build is shown here.
        await_lane qt68 || exit 1
      elif ! wait "$qt68_tree_pid"; then
        cat "$qt68_log" >&2
        echo "the Debian 13 tree could not be made (log: $qt68_log)" >&2
        exit 1
      else
        tail -n 2 "$qt68_log" | head -n 1
      fi
      RIO_CACHE_DIR=$cache_dir bash "$root/scripts/qt68.sh"
      ;;
    *) echo "unknown stage: $stage" >&2; exit 2 ;;
  esac
  cpu
  echo "=== stage $stage passed in $((SECONDS - stage_start)) s ($((cpu_now - cpu_start)) CPU-s)"
  times+=("$stage $((SECONDS - stage_start)) s ($((cpu_now - cpu_start)) CPU-s)")
  cpu_start=$cpu_now
  stage=""
done
