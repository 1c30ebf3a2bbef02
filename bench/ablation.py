#!/usr/bin/python3
"""What each optimization brings: cellforge's training step with every pass on, then with one
switched off at a time, side by side in interleaved rounds (so a change in the machine's load hits
every variant alike). Prints a Markdown table: median ms over rounds, and the slowdown when the pass
is off (off / on).

    bench/ablation.py [--cell lstm] [--T 50] [--B 32] [--H 256] [--L 1] [--threads 1]
                      [--rounds 5] [--reps 10] [--build build]

Needs build/bench/cellforge_rnn (`ninja -C build cellforge_rnn`). X = H.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

VARIANTS = [
    ("all passes on", []),
    ("without simplify (algebraic simplification, CSE)", ["--no-simplify"]),
    ("without sink_slices (slices of matmuls become smaller matmuls)", ["--no-sink-slices"]),
    ("without hoist_time_parallel (input products over all T*B rows; weight gradients after the loop)", ["--no-hoist"]),
    ("without fuse_elementwise (one loop per elementwise node)", ["--no-fuse"]),
    ("without rematerialize (values read by a later loop are stored and read back)", ["--no-remat"]),
    ("fused loops 8 wide instead of 16 (AVX2 width on an AVX-512 machine)", ["--vector-width", "8"]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cell", default="lstm")
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--B", type=int, default=32)
    ap.add_argument("--H", type=int, default=256)
    ap.add_argument("--L", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    a = ap.parse_args()
    exe = os.path.join(a.build, "bench", "cellforge_rnn")
    if not os.access(exe, os.X_OK):
        sys.exit(f"ablation.py: {exe} is missing; build it with `ninja -C {a.build} cellforge_rnn`")
    shape = ["--cell", a.cell, "--T", str(a.T), "--B", str(a.B), "--X", str(a.H), "--H", str(a.H), "--L", str(a.L),
             "--threads", str(a.threads), "--reps", str(a.reps), "--warmup", "2"]
    times = {name: [] for name, _ in VARIANTS}
    fwd = {name: [] for name, _ in VARIANTS}
    for r in range(a.rounds):
        for name, flags in VARIANTS:
            out = subprocess.run([exe, *shape, *flags], check=True, capture_output=True, text=True).stdout
            record = json.loads(out.strip().splitlines()[-1])
            times[name].append(record["ms_median"])
            fwd[name].append(record["fwd_ms_median"])
        print(f"ablation.py: round {r + 1}/{a.rounds} done", file=sys.stderr)
    base = statistics.median(times[VARIANTS[0][0]])
    print(f"{a.cell} T={a.T} B={a.B} X=H={a.H} L={a.L}, {a.threads} thread(s); median of {a.rounds} rounds, "
          f"each the median of {a.reps} training steps (forward + backward)\n")
    print("| variant | step ms | forward ms | off / on |")
    print("|---|---:|---:|---:|")
    for name, _ in VARIANTS:
        ms = statistics.median(times[name])
        print(f"| {name} | {ms:.2f} | {statistics.median(fwd[name]):.2f} | {ms / base:.2f}× |")


if __name__ == "__main__":
    main()
