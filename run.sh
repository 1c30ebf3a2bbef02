#!/usr/bin/env bash
# Sets up what cellforge needs on Debian 12 (installing missing packages with apt-get), builds it
# with CMake and Ninja, and runs the demo (`./run.sh demo`) or the whole test suite (`./run.sh test`).
# Idempotent: a second run installs nothing, rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-demo}
case "$mode" in demo|test) ;; *) echo "usage: ./run.sh demo|test" >&2; exit 2 ;; esac

packages=(g++ cmake ninja-build llvm-19-dev libboost-dev catch2 libzstd-dev python3)
if [ "$mode" = test ]; then
  # clang-19 and its sanitizer/libFuzzer runtime (libclang-rt-19-dev, only recommended by clang-19)
  # build the fuzz targets.
  packages+=(python3-torch python3-numpy clang-19 libclang-rt-19-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
phase() { echo "run.sh: $1 ($(( SECONDS - phase_start )) s)"; phase_start=$SECONDS; }
phase_start=$SECONDS
[ -f build/CMakeCache.txt ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build -j"$jobs"

if [ "$mode" = demo ]; then
  ./build/cellforge demo
  exit 0
fi

phase "build done"
ctest --test-dir build --output-on-failure -j"$jobs"
phase "tests done"

# The unit, differential and errors groups again with AddressSanitizer and UndefinedBehaviorSanitizer
# (CELLFORGE_SANITIZE) on our code, at -O1: fast to build and run, still precise. 100 random cells
# here (1,000 in the normal tree). Any report fails the test: UBSan aborts at its first finding,
# ASan at any error, LeakSanitizer at exit. LLVM and the JIT's code are not instrumented.
[ -f build-asan/CMakeCache.txt ] || cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCELLFORGE_SANITIZE=ON -DCELLFORGE_RANDOM_CELLS_PER_RUN=100 >/dev/null
ninja -C build-asan -j"$jobs" unit_tests differential_tests errors_tests cellforge  # the errors group runs the tool too
phase "ASan + UBSan build done"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  ctest --test-dir build-asan -L '^(unit|differential|errors)$' --output-on-failure -j"$jobs"
phase "ASan + UBSan tests done"

# The checkpoint loader and the safetensors reader under libFuzzer + ASan + UBSan, briefly
# (tests/fuzz/run.sh 1000000 for a long run; tests/fuzz/README.md).
tests/fuzz/run.sh 20000
phase "fuzzing done"
