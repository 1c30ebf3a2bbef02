#!/usr/bin/python3
"""Trains the same character-level LSTM with cellforge and with PyTorch and compares them: the
validation loss of both, their training speed (characters per second, training steps only, the same
number of threads), and both loss curves on one SVG.

The full comparison of the issue (2-layer LSTM, 128 units, B = T = 50, RMSprop 2e-3 / 0.95, clip 5
by value, 95/5 split, tinyshakespeare):

    /usr/bin/python3 scripts/compare_with_torch.py --cellforge build/cellforge \
        --corpus ../shared/data/tinyshakespeare.txt --iterations 2000 --seeds 1,2,3 --out compare-out

Each run draws its own initial parameters from the same distribution (uniform(-0.08, 0.08), forget
bias 1), so one pair of runs differs by the luck of the draw as well as by the implementation;
--seeds 1,2,3 runs each side once per seed and compares the means. --shared-init instead starts
PyTorch from cellforge's exact initial parameters, which makes a short run a tight check (the
CTest `train: compare with PyTorch` does that).
With --check, exits 1 unless cellforge's (mean) validation loss <= PyTorch's + --tolerance.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, log):
    print("+ " + " ".join(cmd), flush=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            out.write(line)
            if not line.startswith("----") and "sample" not in line:
                sys.stdout.write("  " + line)
        if proc.wait() != 0:
            sys.exit(f"compare_with_torch: '{cmd[0]}' failed with status {proc.returncode}; see {log}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cellforge", default=os.path.join(HERE, "..", "build", "cellforge"))
    p.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare.txt"))
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--unroll", type=int, default=50)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seeds", default="123", help="comma-separated; one pair of runs per seed")
    p.add_argument("--threads", type=int, default=1, help="for both; 1 measures fairly on a busy machine (see docs/training.md)")
    p.add_argument("--shared-init", action="store_true")
    p.add_argument("--tolerance", type=float, default=0.02)
    p.add_argument("--check", action="store_true")
    p.add_argument("--out", default="compare-out")
    args = p.parse_args()

    os.makedirs(args.out, exist_ok=True)
    seeds = [int(x) for x in args.seeds.split(",")]
    results = {"cellforge": [], "pytorch": []}
    for seed in seeds:
        out = args.out if len(seeds) == 1 else os.path.join(args.out, f"seed{seed}")
        os.makedirs(out, exist_ok=True)
        cf, torch = run_pair(args, seed, out)
        results["cellforge"].append(cf)
        results["pytorch"].append(torch)
    if len(seeds) > 1:  # every run's validation loss on one chart
        csvs = [os.path.join(args.out, f"seed{seed}", f"{name}.csv") for seed in seeds for name in ("cellforge", "pytorch")]
        labels = [f"{name} seed {seed}" for seed in seeds for name in ("cellforge", "pytorch")]
        run([args.cellforge, "plot", "--csv", ",".join(csvs), "--labels", ",".join(labels), "--columns", "val_loss",
             "--out", os.path.join(args.out, "compare.svg"), "--title", f"validation loss, {os.path.basename(args.corpus)}",
             "--y-label", "validation cross-entropy (nats per character)"], os.path.join(args.out, "plot.log"))
    mean = lambda rows, key: statistics.mean(r[key] for r in rows)
    spread = lambda rows, key: statistics.stdev(r[key] for r in rows) if len(rows) > 1 else 0.0
    report = {"corpus": args.corpus, "iterations": args.iterations, "seeds": seeds, "shared_init": args.shared_init,
              "threads": args.threads, "runs": results}
    for name in results:
        report[name] = {k: mean(results[name], k) for k in ("val_loss", "train_chars_per_second")}
        report[name]["val_loss_stdev"] = spread(results[name], "val_loss")
    cf_val, torch_val = report["cellforge"]["val_loss"], report["pytorch"]["val_loss"]
    report["val_loss_difference"] = cf_val - torch_val
    report["speedup"] = report["cellforge"]["train_chars_per_second"] / report["pytorch"]["train_chars_per_second"]
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(f"\n{'':10s} {'seed':>6s} {'val loss':>9s} {'chars/s':>10s} {'clipped':>8s}")
    for name in results:
        for seed, r in zip(seeds, results[name]):
            print(f"{name:10s} {seed:6d} {r['val_loss']:9.4f} {r['train_chars_per_second']:10.0f} {r['clipped_steps']:8d}")
    if len(seeds) > 1:
        for name in results:
            print(f"{name:10s} {'mean':>6s} {report[name]['val_loss']:9.4f} {report[name]['train_chars_per_second']:10.0f}"
                  f"   (val loss stdev {report[name]['val_loss_stdev']:.4f})")
    print(f"cellforge - pytorch = {cf_val - torch_val:+.4f} nats (tolerance {args.tolerance}); "
          f"speed x{report['speedup']:.2f} at {args.threads} thread(s); curves in {args.out}")
    if args.check and not (cf_val <= torch_val + args.tolerance):
        sys.exit(f"compare_with_torch: cellforge's validation loss {cf_val:.4f} is worse than PyTorch's {torch_val:.4f} "
                 f"by more than {args.tolerance}")


def run_pair(args, seed, out):
    """Trains both with one seed; returns their summaries and writes compare.svg in `out`."""
    o = lambda name: os.path.join(out, name)
    common = ["--corpus", args.corpus, "--layers", str(args.layers), "--hidden", str(args.hidden),
              "--batch", str(args.batch), "--unroll", str(args.unroll), "--lr", str(args.lr), "--clip", str(args.clip),
              "--eval-every", str(args.eval_every), "--seed", str(seed), "--threads", str(args.threads)]
    cf = [args.cellforge, "train", "--cell", "lstm", "--optimizer", "rmsprop", "--decay", "0.95",
          "--sample-length", "0", "--print-every", "50"] + common
    torch_cmd = [sys.executable, os.path.join(HERE, "torch_char_rnn.py"), "--decay", "0.95"] + common
    if args.shared_init:
        run(cf + ["--iterations", "0", "--out", o("init")], o("init.log"))
        torch_cmd += ["--init", o("init.ckpt")]
    run(cf + ["--iterations", str(args.iterations), "--out", o("cellforge"), "--summary", o("cellforge-summary.json")],
        o("cellforge.log"))
    run(torch_cmd + ["--iterations", str(args.iterations), "--csv", o("pytorch.csv")], o("pytorch.log"))
    with open(o("cellforge-summary.json")) as f:
        cf_summary = json.load(f)
    with open(o("pytorch.log")) as f:
        torch_summary = json.loads([l for l in f if l.startswith("SUMMARY ")][-1][len("SUMMARY "):])
    title = (f"LSTM {args.layers}x{args.hidden}, B={args.batch} T={args.unroll}, RMSprop {args.lr:g}, "
             f"clip {args.clip:g}: {os.path.basename(args.corpus)}, seed {seed}")
    run([args.cellforge, "plot", "--csv", o("cellforge.csv") + "," + o("pytorch.csv"), "--labels", "cellforge,pytorch",
         "--columns", "train_loss,val_loss", "--smooth", "20", "--out", o("compare.svg"), "--title", title,
         "--y-label", "cross-entropy (nats per character)"], o("plot.log"))
    return cf_summary, torch_summary


if __name__ == "__main__":
    main()
