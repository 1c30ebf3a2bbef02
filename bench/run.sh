#!/usr/bin/env bash
# run.sh — the whole benchmark of issue 4 in one command: installs the peers (Debian packages),
# builds cellforge and the oneDNN harness, measures the machine's FMA peak, runs cellforge and
# every peer over the grid (shapes x 1 and 2 threads x N rounds), and prints the table; also
# writes bench/results/latest.{md,csv,json}. See bench/README.md for what every column means.
#
# Usage
#   bench/run.sh              # the full grid, 3 rounds (~20-25 min on 2 cores)
#   bench/run.sh --quick      # 7 shapes, 1 round (~3 min): a smoke test of the whole pipeline
#   bench/run.sh [--rounds N] [--threads 1,2] [--only TEXT] [--peers cellforge,onednn,...]
#                [--torchscript hoist|step] [--settle S] [--settle-budget S] [--out PATH]
#                [--no-install]
# Environment: BUILD_DIR (default: build under the repository root), PEERS_BUILD_DIR (the oneDNN
#   harness; default build/peers), CXX.
#
# The table is made by bench/report.py from the raw records (bench/results/raw/*.jsonl, one JSON
# object per run; not committed); `bench/report.py RAW --out PATH` re-renders an old run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
PY=/usr/bin/python3        # Debian's interpreter: the one python3-torch is installed for
# What building cellforge needs (as the top-level run.sh), then the peers.
PACKAGES=(g++ cmake ninja-build llvm-19-dev libboost-dev catch2 libzstd-dev python3
          libdnnl-dev python3-torch python3-numpy libopenblas0-pthread)

log() { echo "run.sh: $*" >&2; }
die() { log "$*"; exit 2; }

cmdline="bench/run.sh${*:+ $*}"   # recorded with the results
out=$HERE/results/latest
install=1
grid_args=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) grid_args+=(--quick --rounds 1); shift ;;
        --rounds|--threads|--only|--peers|--torchscript|--settle|--settle-budget)
            [[ $# -ge 2 ]] || die "$1 needs a value"; grid_args+=("$1" "$2"); shift 2 ;;
        --out) out=${2:?--out needs a path}; shift 2 ;;
        --no-install) install=0; shift ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

# 1. Debian packages: the peers, and what building cellforge's benchmark needs beyond that.
ensure_packages() {
    local missing=() p sudo=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "missing packages ${missing[*]}: run as root or install sudo"
        sudo=(sudo)
    fi
    log "installing ${missing[*]}"
    "${sudo[@]}" apt-get update >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends \
        "${missing[@]}" >&2
}
[[ $install -eq 1 ]] && ensure_packages

# 2. cellforge's benchmark programs (an existing build directory is reused as it is configured).
if [[ ! -f $BUILD/build.ninja ]]; then
    log "configuring $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
fi
log "building cellforge_rnn and fma_peak"
ninja -C "$BUILD" -j2 cellforge_rnn fma_peak >&2

# Private copies: the build directory may be shared, and a rebuild during the run must not swap
# the programs being measured.
work=$(mktemp -d "${TMPDIR:-/tmp}/cellforge-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -p "$BUILD/bench/cellforge_rnn" "$BUILD/bench/fma_peak" "$work/"

# 3. The oneDNN harness (bench/peers/run_peers.sh builds it when missing or out of date).
"$HERE/peers/run_peers.sh" build
peers_build=${PEERS_BUILD_DIR:-$ROOT/build/peers}
mkdir -p "$work/peers"
cp -p "$peers_build/onednn_rnn" "$work/peers/"
export PEERS_BUILD_DIR=$work/peers

# 4. The grid, then the table.
mkdir -p "$HERE/results/raw"
raw=$HERE/results/raw/$(date -u +%Y%m%d-%H%M%S).jsonl
"$PY" "$HERE/grid.py" --bin "$work" --raw "$raw" --command "$cmdline" "${grid_args[@]}"
"$PY" "$HERE/report.py" "$raw" --out "$out"
log "raw records: ${raw#"$ROOT"/}"
