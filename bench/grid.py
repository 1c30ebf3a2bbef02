#!/usr/bin/env python3
"""grid.py — runs the benchmark grid of issue 4: cellforge and every peer, side by side, one process
per (shape, threads, peer), N rounds; appends one JSON record per run to a raw JSONL file that
bench/report.py turns into the table. Python 3 standard library only. bench/run.sh is the entry
point (it installs the peers, builds, then calls this and report.py); see bench/README.md.

Why one process per run and rounds: thread pools, the allocator and the JIT are set up per
process, and the machine is shared, so a run is only comparable with runs made close to it. Each
round visits every shape and thread count once; within a shape the peers' order rotates from
round to round, so no peer always runs first (cold) or last, and slow periods of the machine are
spread over all peers. The table reports, per peer, the median over rounds of each run's median.

Each record also says how busy the machine was with *other* work during the run ("other_load",
in cores: all busy CPU time on the machine minus the run's own, over its wall time). With 2
cores, anything above ~0.2 means the run shared the machine. Before each run the script waits
for a quiet machine (--settle s at most per run, --settle-budget s over the grid).

Usage: grid.py --bin DIR --raw FILE [--rounds N] [--quick] [--threads 1,2] [--only TEXT]
               [--torchscript hoist|step] [--settle S] [--settle-budget S] [--dry-run]
  --bin DIR   holds cellforge_rnn and fma_peak (bench/run.sh copies them there so that a rebuild
              of the shared build directory during the run cannot swap them); the oneDNN harness
              is taken from $PEERS_BUILD_DIR as bench/peers/run_peers.sh does.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RUN_PEERS = os.path.join(HERE, "peers", "run_peers.sh")

# (group, cell, T, B, H, L); X = H everywhere (the char-rnn grid too: its first layer reads
# embeddings of width H, not one-hot characters, so that every peer runs the same stacked shape).
FULL_GRID = [
    ("lstm", "lstm", 50, 1, 256, 1),
    ("lstm", "lstm", 50, 32, 256, 2),
    ("lstm", "lstm", 100, 64, 512, 1),
] + [("char-rnn", "lstm", 50, 50, h, l) for h in (128, 256, 512) for l in (1, 2, 3)] + [
    ("gru", "gru", 50, 32, 256, 1),
    ("rnn", "rnn", 50, 32, 256, 1),
    ("custom", "lstm", 50, 32, 256, 1),  # the per-FLOP reference of the two custom cells
    ("custom", "peephole_lstm", 50, 32, 256, 1),
    ("custom", "layernorm_lstm", 50, 32, 256, 1),
]
QUICK_GRID = [FULL_GRID[0], FULL_GRID[1]] + FULL_GRID[-5:]

STANDARD_CELLS = ("rnn", "lstm", "gru")  # cells oneDNN and nn.RNN/LSTM/GRU have
GATES = {"rnn": 1, "gru": 3, "lstm": 4, "peephole_lstm": 4, "layernorm_lstm": 4}

# Rough single-thread GFLOP/s per peer, only to choose how many repetitions fit a time budget.
EXPECTED_GFLOPS = {"cellforge": 120, "onednn": 150, "torch": 80, "torchscript": 60}
TARGET_MS = 1000           # timed work per run, roughly
MIN_REPS, MAX_REPS = 5, 20
RUN_TIMEOUT_S = 600
QUIET_LOAD = 0.25          # cores busy with other work below which the machine counts as quiet


def flops(cell, T, B, X, H, L):
    """Forward + backward matmul flops: 3 x sum over layers of 2*G*H*(in + H)*B*T."""
    g = GATES[cell]
    return sum(3 * 2 * g * H * ((X if l == 0 else H) + H) * B * T for l in range(L))


def peers_of(cell, peers):
    own = ["cellforge", "onednn", "torch", "torchscript"] if cell in STANDARD_CELLS \
        else ["cellforge", "torchscript"]
    return [p for p in own if p in peers]


def reps_for(peer, f, threads):
    est_ms = max(f / 1e6 / (EXPECTED_GFLOPS[peer] * (1.6 if threads > 1 else 1)), 1.0)
    return max(MIN_REPS, min(MAX_REPS, int(TARGET_MS / est_ms)))


def command(peer, cfg, threads, reps, args, cache_dir, first_round):
    _, cell, T, B, H, L = cfg
    sizes = ["--T", str(T), "--B", str(B), "--X", str(H), "--H", str(H), "--L", str(L)]
    if peer == "cellforge":
        cmd = [os.path.join(args.bin, "cellforge_rnn"), "--cell", cell] + sizes + [
            "--threads", str(threads), "--reps", str(reps), "--warmup", "1",
            "--telemetry-ab", "--block", "5", "--use-cache"]
        if first_round:
            cmd.append("--compile-times")
        env = {"CELLFORGE_CACHE_DIR": cache_dir, "OMP_NUM_THREADS": str(threads)}
        return cmd, env
    cmd = [RUN_PEERS, peer, "--cell", cell] + sizes + [
        "--threads", str(threads), "--reps", str(reps), "--warmup", "2"]  # TorchScript needs 2
    if peer == "torchscript" and args.torchscript == "hoist":
        cmd.append("--hoist")
    return cmd, {"RUN_PEERS_PROBE": "0"}


def cpu_jiffies():
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def machine_load(seconds):
    """Cores busy over `seconds` (while this script only sleeps: all of it is other work)."""
    b0, t0 = cpu_jiffies()
    time.sleep(seconds)
    b1, t1 = cpu_jiffies()
    return os.cpu_count() * (b1 - b0) / max(t1 - t0, 1)


class QuietGate:
    """Before each run, waits (up to `per_run` s, and `budget` s over the whole grid) until the
    machine has been quiet for half a second: on a shared machine, a run that starts while another
    job holds a core measures that job, and spinning OpenMP workers (oneDNN) can lose 10x."""

    def __init__(self, per_run, budget):
        self.per_run, self.budget, self.waited_total = per_run, budget, 0.0

    def wait(self):
        start = time.monotonic()
        load = machine_load(0.5)
        while load > QUIET_LOAD and time.monotonic() - start < self.per_run and \
                self.waited_total + time.monotonic() - start < self.budget:
            time.sleep(1.0)
            load = machine_load(0.5)
        waited = time.monotonic() - start
        self.waited_total += waited
        return round(load, 2), round(waited, 1)


def run_one(cmd, extra_env):
    """Runs cmd; returns (the JSON line it printed or None, wall s, other-load cores, stderr)."""
    env = dict(os.environ)
    env.update(extra_env)
    hz = os.sysconf("SC_CLK_TCK")
    busy0, _ = cpu_jiffies()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        out, err, status = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out, err, status = "", f"timeout after {RUN_TIMEOUT_S} s\n{e.stderr or ''}", -1
    wall = time.monotonic() - t0
    busy1, _ = cpu_jiffies()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    other = max(0.0, (busy1 - busy0) / hz - own) / max(wall, 1e-3)
    result = None
    for line in out.splitlines():
        if line.startswith("{"):
            try:
                result = json.loads(line)
            except ValueError:
                pass
    if status != 0:
        result = None
    return result, wall, round(other, 2), err


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine_record(args):
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if ":" not in line:
                continue
            k, v = (s.strip() for s in line.split(":", 1))
            if k in ("model name", "cpu family", "model", "flags") and k not in info:
                info[k] = v
    flags = set(info.get("flags", "").split())
    isa = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16") if f in flags]
    pkg = "${Version}"
    return {
        "kind": "machine",
        "cpu_model": info.get("model name", platform.processor()),
        "cpu_family": int(info.get("cpu family", "0") or 0),
        "cpu_model_number": int(info.get("model", "0") or 0),
        "cores": os.cpu_count(),
        "isa": isa,
        "os": sh(["sh", "-c", ". /etc/os-release && echo \"$PRETTY_NAME\""]),
        "kernel": platform.release(),
        "cxx": sh(["sh", "-c", "${CXX:-g++} --version | head -1"]),
        "onednn": sh(["dpkg-query", "-W", "-f", pkg, "libdnnl-dev"]),
        "torch_package": sh(["dpkg-query", "-W", "-f", pkg, "python3-torch"]),
        "openblas": sh(["dpkg-query", "-W", "-f", pkg, "libopenblas0-pthread"]),
        "git": sh(["git", "-C", ROOT, "describe", "--always", "--dirty", "--abbrev=10"]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": args.command or "bench/grid.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "rounds": args.rounds,
        "torchscript_mode": args.torchscript,
        "quick": args.quick,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--raw", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--peers", default="cellforge,onednn,torch,torchscript")
    p.add_argument("--only", default="", help="only shapes whose label contains this text")
    p.add_argument("--torchscript", choices=("hoist", "step"), default="hoist")
    p.add_argument("--command", default="", help="the command line to record (bench/run.sh's)")
    p.add_argument("--settle", type=float, default=10,
                   help="wait up to this many s before a run for the machine to be quiet")
    p.add_argument("--settle-budget", type=float, default=480,
                   help="at most this many s of such waiting over the whole grid")
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args()
    threads_list = [int(t) for t in args.threads.split(",")]
    peers = args.peers.split(",")
    grid = QUICK_GRID if args.quick else FULL_GRID
    configs = [(cfg, th) for cfg in grid for th in threads_list
               if args.only in "{} {} T={} B={} H={} L={}".format(*cfg)]
    if not configs:
        sys.exit("grid.py: no shape matches --only")
    runs_per_round = sum(len(peers_of(cfg[1], peers)) for cfg, _ in configs)
    print(f"grid: {len(configs)} shape x thread configurations, {runs_per_round} runs per round, "
          f"{args.rounds} rounds", file=sys.stderr)
    if args.dry_run:
        for cfg, th in configs:
            f = flops(cfg[1], cfg[2], cfg[3], cfg[4], cfg[4], cfg[5])
            print(cfg, th, f"{f / 1e9:.2f} GFLOP",
                  {pe: reps_for(pe, f, th) for pe in peers_of(cfg[1], peers)}, file=sys.stderr)
        return 0

    os.makedirs(os.path.dirname(os.path.abspath(args.raw)), exist_ok=True)
    cache_dir = tempfile.mkdtemp(prefix="cellforge-bench-cache.")
    gate = QuietGate(args.settle, args.settle_budget)
    with open(args.raw, "a") as raw:
        def emit(record):
            raw.write(json.dumps(record) + "\n")
            raw.flush()
        emit(machine_record(args))
        for th in threads_list:  # the 100% of "% of peak"
            out = sh([os.path.join(args.bin, "fma_peak"), "--json", "--threads", str(th)])
            emit(dict(json.loads(out), kind="fma_peak", threads_measured=th))
        start = time.monotonic()
        done, total = 0, runs_per_round * args.rounds
        for rnd in range(args.rounds):
            for index, (cfg, th) in enumerate(configs):
                order = peers_of(cfg[1], peers)
                shift = (rnd + index) % len(order)
                order = order[shift:] + order[:shift]
                f = flops(cfg[1], cfg[2], cfg[3], cfg[4], cfg[4], cfg[5])
                for peer in order:
                    reps = reps_for(peer, f, th)
                    cmd, env = command(peer, cfg, th, reps, args, cache_dir, rnd == 0)
                    load_before, waited = gate.wait()
                    result, wall, other, err = run_one(cmd, env)
                    done += 1
                    group, cell, T, B, H, L = cfg
                    emit({"kind": "run", "round": rnd, "group": group, "cell": cell, "T": T,
                          "B": B, "X": H, "H": H, "L": L, "threads": th, "peer": peer,
                          "flops": f, "wall_s": round(wall, 2), "other_load": other,
                          "load_before": load_before, "waited_s": waited,
                          "ok": result is not None, "result": result,
                          "error": None if result else err.strip()[-2000:]})
                    elapsed = time.monotonic() - start
                    status = f"{result['ms_median']:9.2f} ms" if result else "   FAILED   "
                    print(f"[{done:4d}/{total} {elapsed / 60:5.1f} min] round {rnd + 1} "
                          f"{cell:15s} T={T:<3d} B={B:<2d} H={H:<3d} L={L} threads={th} "
                          f"{peer:12s} {status}  other load {other:.2f}"
                          + (f" (waited {waited:.0f} s)" if waited >= 1 else ""), file=sys.stderr)
                    if not result:
                        print("    " + err.strip().replace("\n", "\n    ")[-800:], file=sys.stderr)
        for th in threads_list:  # once more at the end: the best of both measurements counts
            out = sh([os.path.join(args.bin, "fma_peak"), "--json", "--threads", str(th)])
            emit(dict(json.loads(out), kind="fma_peak", threads_measured=th))
    subprocess.run(["rm", "-rf", cache_dir])
    return 0


if __name__ == "__main__":
    sys.exit(main())
