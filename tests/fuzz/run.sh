#!/usr/bin/env bash
# Builds the fuzz targets in build-fuzz (clang-19, libFuzzer + ASan + UBSan; see README.md here) and
# runs each for RUNS executions (default 100000) from the seed corpus that make_seeds writes, with
# the corpus kept in build-fuzz/corpus/<target> between runs. Exits non-zero on any finding; the
# input that caused it is left in build-fuzz/findings/. tests/fuzz/regressions holds the inputs of
# past findings (fixed); every run starts from them too.
#
#   tests/fuzz/run.sh [RUNS] [TARGET...]      TARGET: fuzz_checkpoint (default: both)
#   CELLFORGE_FUZZ_BUILD=/tmp/fz tests/fuzz/run.sh    another build directory
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-100000}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_checkpoint fuzz_safetensors)
build=${CELLFORGE_FUZZ_BUILD:-build-fuzz}
cxx=${CELLFORGE_FUZZ_CXX:-clang++-19}

[ -f $build/CMakeCache.txt ] || cmake -S tests/fuzz -B $build -G Ninja -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
ninja -C $build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
rm -rf $build/seeds
$build/make_seeds $build/seeds >/dev/null
mkdir -p $build/findings

# Memory: inputs are at most 64 KB, so no honest allocation comes near 256 MB; one that does is the
# loader trusting a size the file claims. A run above 10 s (ASan, a loaded machine) is a hang.
# A fixed seed (CELLFORGE_FUZZ_SEED, default 1) makes a run on a fresh corpus repeatable, as CI needs;
# pass another for a long run that should explore elsewhere.
options=(-runs="$runs" -seed="${CELLFORGE_FUZZ_SEED:-1}" -max_len=65536 -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10
         -print_final_stats=1 -artifact_prefix=$build/findings/ -dict=tests/fuzz/checkpoint.dict)
status=0
for target in "${targets[@]}"; do
  mkdir -p $build/corpus/$target
  log=$build/$target.log
  start=$(date +%s)
  if ! $build/$target "${options[@]}" $build/corpus/$target $build/seeds tests/fuzz/regressions >"$log" 2>&1; then
    status=1
    echo "fuzz: $target FOUND A PROBLEM; its log: $log" >&2
    grep -E "ERROR|runtime error|terminate|Test unit written|SUMMARY" "$log" | head -20 >&2
  fi
  done_line=$(grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -1 || true)
  execs=$(grep -E "stat::number_of_executed_units" "$log" | tail -1 | awk '{print $2}')
  echo "fuzz: $target: ${execs:-?} executions in $(( $(date +%s) - start )) s; ${done_line:-no DONE line}"
done
exit $status
