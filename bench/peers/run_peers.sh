#!/usr/bin/env bash
# run_peers.sh — builds the oneDNN peer harness and runs ONE peer configuration with the
# environment that peer needs for the requested thread count, forwarding its JSON line.
# Why a script: thread pools and glibc malloc read their settings when the process starts, and
# the right settings differ per peer (see README.md and /work/shared/research/perf-peers.md).
#
# Usage
#   bench/peers/run_peers.sh onednn|torch|torchscript --cell C --T N --B N --X N --H N --L N
#                            [--threads N] [--reps N] [--warmup N] [--isa native|avx2] [--hoist]
#   bench/peers/run_peers.sh build     # (re)build the oneDNN harness only
#   bench/peers/run_peers.sh check     # numerical checks (oneDNN vs PyTorch, TorchScript cells)
# Example
#   bench/peers/run_peers.sh onednn --cell lstm --T 50 --B 32 --X 256 --H 256 --L 2 --threads 2
#
# stdout: the harness's JSON line(s), with two fields added: "isa_cap" (the --isa given) and
#         "busy_cores_before" (CPU cores busy with other work during 0.3 s before the run; the
#         machine has 2 cores, so anything above ~0.1 means the timing is probably disturbed).
# stderr: build and install logs, warnings.
# Environment: PEERS_BUILD_DIR (default: build/peers under the repository root), CXX (g++),
#              RUN_PEERS_PROBE=0 (no busy_cores_before probe: the field is null).
#
# --isa native (default): each library uses the widest vector ISA it can on this CPU. oneDNN
#   picks AVX-512 by itself where present; OpenBLAS 0.3.21 does not know recent AMD CPUs (family
#   0x1A) and falls back to its AVX2 "Haswell" kernels, so on CPUs with AVX-512 it is told to use
#   its "SkylakeX" kernels (PyTorch's best setting here).
# --isa avx2: cap both at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2, OPENBLAS_CORETYPE=Haswell) — the
#   instruction set cellforge's kernels are designed for.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${PEERS_BUILD_DIR:-$ROOT/build/peers}
BIN=$BUILD/onednn_rnn
PY=/usr/bin/python3          # the first python3 on PATH cannot see Debian's python3-torch
OPENBLAS_DIR=/usr/lib/x86_64-linux-gnu/openblas-pthread
PACKAGES=(g++ libdnnl-dev python3-torch python3-numpy libopenblas0-pthread)

log() { echo "run_peers: $*" >&2; }
die() { log "$*"; exit 2; }

# Installs what is missing (Debian packages only). Without OpenBLAS, Debian's torch runs its
# matrix products on the reference BLAS, ~7x slower than with it.
ensure_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    [[ $(id -u) -eq 0 ]] || die "missing packages (install as root): ${missing[*]}"
    log "installing ${missing[*]}"
    apt-get install -y "${missing[@]}" >&2 ||
        { apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; }
}

# Builds the oneDNN harness when the binary is missing or older than its source.
build() {
    local src=$HERE/onednn_rnn.cpp
    if [[ -x $BIN && $BIN -nt $src ]]; then return 0; fi
    mkdir -p "$BUILD"
    log "building $BIN"
    ${CXX:-g++} -O2 -std=c++17 -Wall -Wextra -fopenmp "$src" -o "$BIN.tmp.$$" -ldnnl >&2
    mv -f "$BIN.tmp.$$" "$BIN"
}

# Cores busy with other processes over 0.3 s (from /proc/stat), e.g. 0.02.
busy_cores() {
    local a b
    a=$(head -1 /proc/stat); sleep 0.3; b=$(head -1 /proc/stat)
    awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN {
        split(a, x); split(b, y); tot = 0; idle = 0
        for (i = 2; i <= 9; i++) tot += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%.2f", (tot > 0 ? n * (1 - idle / tot) : 0) }'
}

run_checks() {
    local status=0 cell shape
    for cell in rnn lstm gru gru_classic; do
        for shape in "--T 5 --B 3 --X 4 --H 6 --L 3" "--T 7 --B 2 --X 8 --H 8 --L 2"; do
            # shellcheck disable=SC2086
            OMP_NUM_THREADS=1 "$PY" "$HERE/torch_rnn.py" --check-onednn "$BIN" --cell "$cell" \
                $shape || status=1
        done
    done
    "$PY" "$HERE/torch_rnn.py" --check-torchscript --T 5 --B 3 --X 4 --H 6 --L 2 || status=1
    return $status
}

[[ $# -ge 1 ]] || die "usage: run_peers.sh onednn|torch|torchscript|build|check [options]"
peer=$1; shift
ensure_packages
build
case $peer in
    build) exit 0 ;;
    check) run_checks; exit $? ;;
    onednn|torch|torchscript) ;;
    *) die "unknown peer '$peer' (onednn, torch, torchscript, build, check)" ;;
esac

# Split off the options this script handles; pass the rest to the harness.
threads=1 isa=native args=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --threads) threads=${2:?--threads needs a value}; shift 2 ;;
        --isa) isa=${2:?--isa needs a value}; shift 2 ;;
        --hoist) [[ $peer == torchscript ]] || die "--hoist is for torchscript"; args+=("$1"); shift ;;
        *) args+=("$1"); shift ;;
    esac
done
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive integer"
[[ $isa == native || $isa == avx2 ]] || die "--isa must be native or avx2"

# Environment common to both libraries: OpenMP thread count; no inherited tuning.
export OMP_NUM_THREADS=$threads
unset OMP_WAIT_POLICY GOMP_SPINCOUNT OMP_PROC_BIND ONEDNN_MAX_CPU_ISA DNNL_MAX_CPU_ISA \
      OPENBLAS_CORETYPE

if [[ $peer == onednn ]]; then
    # oneDNN wants its OpenMP workers spinning between the many small per-step GEMMs:
    # OMP_WAIT_POLICY=PASSIVE doubled its 2-thread LSTM time here, so it stays unset.
    [[ $isa == avx2 ]] && export ONEDNN_MAX_CPU_ISA=AVX2
    cmd=("$BIN" "${args[@]}")
else
    # PyTorch runs OpenMP (its elementwise ops) and OpenBLAS (its GEMMs) thread pools side by side
    # on the same cores: with spinning OpenMP workers the 2-thread LSTM ran 3-8x slower.
    export OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
    [[ $threads -gt 1 ]] && export OMP_WAIT_POLICY=PASSIVE
    # Keep freed tensors in the heap instead of returning them to the kernel after every step.
    export MALLOC_MMAP_THRESHOLD_=$((32 << 20)) MALLOC_TRIM_THRESHOLD_=$((1 << 30))
    # Use OpenBLAS whatever libblas.so.3 currently points to.
    export LD_LIBRARY_PATH=$OPENBLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    if [[ $isa == avx2 ]]; then
        export OPENBLAS_CORETYPE=Haswell
    elif grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo; then
        export OPENBLAS_CORETYPE=SkylakeX
    fi
    cmd=("$PY" "$HERE/torch_rnn.py" --peer "$peer" --threads "$threads" "${args[@]}")
fi

# RUN_PEERS_PROBE=0 skips the 0.3 s probe (bench/grid.py measures the load around every run itself).
if [[ ${RUN_PEERS_PROBE:-1} == 0 ]]; then
    busy=null
else
    busy=$(busy_cores)
    awk -v b="$busy" 'BEGIN { if (b > 0.1) print "run_peers: warning: " b \
        " cores busy with other work before the run; timings may be disturbed" > "/dev/stderr" }'
fi
set +e
"${cmd[@]}" | sed -u "/^{\"peer\"/s/}\$/, \"isa_cap\": \"$isa\", \"busy_cores_before\": $busy}/"
status=${PIPESTATUS[0]}
exit "$status"
