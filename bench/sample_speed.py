#!/usr/bin/python3
"""Text generation speed: `cellforge sample` against PyTorch sampling the same model.

For each model (LSTM 2 x 128, char-rnn's; 2 x 256; 3 x 512; one-hot input over GPL-3's characters)
the script trains a cellforge checkpoint for one iteration (speed does not depend on the values),
exports it with `cellforge export-torch`, and times, interleaved, `cellforge sample` and
`scripts/torch_char_model.py sample` (its CharModel: torch.nn.LSTM and nn.Linear called once per
character under torch.no_grad, the way PyTorch char-rnn ports sample) at 1 and 2 threads
(`--threads N`; OMP_NUM_THREADS=N for PyTorch). Time per character = (time of --length L - time of
--length 0) / L, so start-up, loading and compiling cancel; the median of --rounds rounds.
Prints a table and writes bench/results/sample_speed.{md,csv,json}.

usage: bench/sample_speed.py [--cellforge build/cellforge] [--rounds 3] [--length 4000]
                             [--out bench/results/sample_speed]
"""
import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"  # Debian's interpreter: the one python3-torch is installed for
CORPUS = "/usr/share/common-licenses/GPL-3"
MODELS = [(128, 2), (256, 2), (512, 3)]


def seconds(command, env=None):
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, env=env)
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cellforge", default=os.path.join(ROOT, "build", "cellforge"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--length", type=int, default=4000)
    p.add_argument("--out", default=os.path.join(HERE, "results", "sample_speed"))
    args = p.parse_args()
    if subprocess.run([PYTHON, "-c", "import torch"], capture_output=True).returncode != 0:
        sys.exit("sample_speed.py: PyTorch is not installed for /usr/bin/python3; apt-get install python3-torch "
                 "(bench/run.sh installs the peers)")
    if not os.path.exists(CORPUS):
        sys.exit(f"sample_speed.py: {CORPUS} is missing (Debian's base-files installs it)")
    torch_script = os.path.join(ROOT, "scripts", "torch_char_model.py")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for hidden, layers in MODELS:
            prefix = os.path.join(scratch, f"lstm{layers}x{hidden}")
            subprocess.run([args.cellforge, "train", "--corpus", CORPUS, "--hidden", str(hidden), "--layers", str(layers),
                            "--iterations", "1", "--eval-every", "0", "--sample-length", "0", "--batch", "4",
                            "--unroll", "8", "--threads", "1", "--out", prefix], check=True, stdout=subprocess.DEVNULL)
            subprocess.run([args.cellforge, "export-torch", "--checkpoint", prefix + ".ckpt", "--out",
                            prefix + ".safetensors"], check=True, stdout=subprocess.DEVNULL)
            for threads in (1, 2):
                env = dict(os.environ, OMP_NUM_THREADS=str(threads))
                peers = {
                    "cellforge": lambda n: [args.cellforge, "sample", "--checkpoint", prefix + ".ckpt", "--length", str(n),
                                            "--temperature", "0.8", "--threads", str(threads)],
                    "pytorch": lambda n: [PYTHON, torch_script, "sample", prefix + ".safetensors", "--length", str(n),
                                          "--temperature", "0.8"],
                }
                per_char = {name: [] for name in peers}
                for _ in range(args.rounds):
                    for name, command in peers.items():
                        base = seconds(command(0), env)
                        full = seconds(command(args.length), env)
                        per_char[name].append((full - base) / args.length * 1e3)
                row = {"model": f"LSTM {layers} x {hidden}", "threads": threads,
                       "cellforge_ms_per_char": statistics.median(per_char["cellforge"]),
                       "pytorch_ms_per_char": statistics.median(per_char["pytorch"]),
                       "cellforge_runs": per_char["cellforge"], "pytorch_runs": per_char["pytorch"]}
                row["speedup"] = row["pytorch_ms_per_char"] / row["cellforge_ms_per_char"]
                rows.append(row)
                print(f"{row['model']:<14} {threads} thr: cellforge {row['cellforge_ms_per_char']:.4f} ms/char, "
                      f"PyTorch {row['pytorch_ms_per_char']:.4f} ms/char: {row['speedup']:.1f}x", flush=True)
    torch_version = subprocess.run([PYTHON, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                                   text=True).stdout.strip()
    machine = f"{platform.machine()}, {os.cpu_count()} hardware threads, PyTorch {torch_version}"
    lines = ["| model | threads | cellforge ms/char | PyTorch ms/char | × PyTorch | cellforge chars/s |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['threads']} | {r['cellforge_ms_per_char']:.4f} | {r['pytorch_ms_per_char']:.4f} | "
                     f"{r['speedup']:.1f} | {1e3 / r['cellforge_ms_per_char']:,.0f} |")
    lines.append("")
    lines.append(f"Time per generated character, (time of --length {args.length} − time of --length 0) / {args.length}, "
                 f"median of {args.rounds} interleaved rounds; {machine}. Made by `bench/sample_speed.py`.")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(args.out + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "threads", "cellforge_ms_per_char", "pytorch_ms_per_char", "speedup"])
        for r in rows:
            w.writerow([r["model"], r["threads"], f"{r['cellforge_ms_per_char']:.6f}", f"{r['pytorch_ms_per_char']:.6f}",
                        f"{r['speedup']:.3f}"])
    with open(args.out + ".json", "w") as f:
        json.dump({"machine": machine, "length": args.length, "rounds": args.rounds, "rows": rows}, f, indent=1)
    print("\n".join(lines))
    print(f"wrote {args.out}.md, .csv, .json")


if __name__ == "__main__":
    main()
