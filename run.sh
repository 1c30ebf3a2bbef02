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
  packages+=(python3-torch python3-numpy)
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
[ -f build/CMakeCache.txt ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build -j"$jobs"

if [ "$mode" = demo ]; then
  ./build/cellforge demo
else
  ctest --test-dir build --output-on-failure -j"$jobs"
fi
