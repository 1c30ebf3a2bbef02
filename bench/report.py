#!/usr/bin/env python3
"""report.py — turns the raw records of bench/grid.py into the benchmark table: text on stdout,
and OUT.csv, OUT.json and OUT.md (the Markdown the README quotes). Python 3 standard library only.

Usage: report.py RAW.jsonl [--out bench/results/latest]

Per (shape, threads) and peer, "ms" is the median over rounds of each run's median training-step
time (forward + backward). Ratios are peer ms / cellforge ms: above 1, cellforge is faster.
GFLOP/s count forward + backward matmul flops, 3 * sum over layers of 2*G*H*(in + H)*B*T
(G = 4 LSTM, 3 GRU, 1 vanilla; in = X for layer 1, H above); the same count for every peer.
"% peak" is GFLOP/s over the best FMA rate fma_peak measured at the same thread count, with the
widest vector ISA that cellforge and oneDNN use on the machine. Column meanings: bench/README.md.
"""
import argparse
import csv
import json
import os
import statistics
import sys

PEERS = ("cellforge", "onednn", "torch", "torchscript")
PEER_TITLES = {"cellforge": "cellforge", "onednn": "oneDNN", "torch": "torch nn",
               "torchscript": "TorchScript"}
STANDARD_CELLS = ("rnn", "lstm", "gru")
CELL_TITLES = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN tanh", "peephole_lstm": "peephole LSTM",
               "layernorm_lstm": "layer-norm LSTM"}
GOAL_PEAK = 0.75


def median(values):
    return statistics.median(values) if values else None


def load(path):
    machine, peaks, runs = None, {}, []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if r["kind"] == "machine":
                machine = machine or r
            elif r["kind"] == "fma_peak":
                for p in r["fma_peak"]:
                    key = (p["width"], p["threads"])
                    peaks[key] = max(peaks.get(key, 0.0), p["gflops_best"])
            elif r["kind"] == "run":
                runs.append(r)
    if machine is None or not runs:
        sys.exit(f"report.py: {path} has no machine record or no runs")
    return machine, peaks, runs


def peak_width(peaks, runs):
    """16 if cellforge or oneDNN ran 16-wide (AVX-512) code and the 16-wide peak was measured."""
    wide = any(r["ok"] and (r["result"].get("vector_floats") == 16 or
                            "avx512" in str(r["result"].get("isa", ""))) for r in runs)
    return 16 if wide and any(w == 16 for w, _ in peaks) else 8


def aggregate(runs, peaks, width):
    rows, index = [], {}
    for r in runs:
        key = (r["group"], r["cell"], r["T"], r["B"], r["X"], r["H"], r["L"], r["threads"])
        if key not in index:
            index[key] = len(rows)
            rows.append({"group": r["group"], "cell": r["cell"], "T": r["T"], "B": r["B"],
                         "X": r["X"], "H": r["H"], "L": r["L"], "threads": r["threads"],
                         "flops": r["flops"], "_runs": []})
        rows[index[key]]["_runs"].append(r)
    for row in rows:
        peak = peaks.get((width, row["threads"]))
        row["peak_gflops"] = peak
        loads = [r["other_load"] for r in row["_runs"]]
        row["other_load"] = round(median(loads), 2)
        row["other_load_max"] = max(loads)
        row["failed_runs"] = sum(not r["ok"] for r in row["_runs"])
        for peer in PEERS:
            ok = [r["result"] for r in row["_runs"] if r["peer"] == peer and r["ok"]]
            ms = [x["ms_median"] for x in ok]
            if not ms:
                continue
            m = median(ms)
            gflops = row["flops"] / (m * 1e6)
            row[peer] = {"ms": round(m, 3), "runs": len(ms), "ms_per_run": ms,
                         "spread": round(max(ms) / min(ms), 3), "gflops": round(gflops, 1),
                         "pct_peak": round(100 * gflops / peak, 1) if peak else None}
            if peer == "cellforge":
                on = [x["telemetry_on"]["ms_median"] for x in ok if "telemetry_on" in x]
                cost = [x["telemetry_cost"] for x in ok if "telemetry_cost" in x]
                if on:
                    row[peer]["telemetry_on_ms"] = round(median(on), 3)
                    row[peer]["telemetry_cost_pct"] = round(100 * median(cost), 1)
                comp = [x["compile"] for x in ok if "compile" in x]
                if comp:
                    row[peer]["compile_ms"] = {k: round(median([c[k] for c in comp]), 1)
                                               for k in ("cold_ms", "cold_library_ms",
                                                         "network_ms", "cached_ms")}
                row[peer]["jit"] = {"cpu": ok[0].get("cpu"), "llvm": ok[0].get("llvm"),
                                    "vector_floats": ok[0].get("vector_floats")}
            if peer == "onednn":
                row[peer]["isa"] = ok[0].get("isa")
            if peer in ("torch", "torchscript"):
                row[peer]["blas"] = ok[0].get("blas")
                row[peer]["torch"] = ok[0].get("torch")
        cf = row.get("cellforge")
        row["speedup"] = {p: round(row[p]["ms"] / cf["ms"], 2) for p in PEERS[1:]
                          if cf and p in row}
        del row["_runs"]
    # Custom cells per FLOP against cellforge's own LSTM at the same shape and thread count.
    for row in rows:
        if row["cell"] in STANDARD_CELLS or "cellforge" not in row:
            continue
        for ref in rows:
            if (ref["cell"] == "lstm" and "cellforge" in ref and
                    all(ref[k] == row[k] for k in ("T", "B", "X", "H", "L", "threads"))):
                per_flop = (row["cellforge"]["ms"] / row["flops"]) / \
                           (ref["cellforge"]["ms"] / ref["flops"])
                row["per_flop_vs_lstm"] = round(per_flop, 3)
    for row in rows:
        row["goals"] = goals(row)
    return rows


def goals(row):
    """Issue 4's goals that apply to this row: [name, value, target, met]."""
    out = []
    s = row.get("speedup", {})
    if row["cell"] in STANDARD_CELLS:
        if "onednn" in s:
            target = 2.0 if row["B"] == 1 else 1.2
            out.append(["x oneDNN", s["onednn"], target, s["onednn"] >= target])
        if "torch" in s:
            out.append(["x torch nn", s["torch"], 2.0, s["torch"] >= 2.0])
    else:
        if "torchscript" in s:
            out.append(["x TorchScript", s["torchscript"], 3.0, s["torchscript"] >= 3.0])
        if "per_flop_vs_lstm" in row:
            out.append(["time/FLOP vs cellforge LSTM", row["per_flop_vs_lstm"], 1.15,
                        row["per_flop_vs_lstm"] <= 1.15])
    cf = row.get("cellforge")
    if cf and cf.get("pct_peak") is not None and row["B"] >= 32 and row["H"] >= 256:
        out.append(["% of peak", cf["pct_peak"], 100 * GOAL_PEAK, cf["pct_peak"] >= 100 * GOAL_PEAK])
    return out


# ------------------------------------------------------------------------------------------------
# Formatting
# ------------------------------------------------------------------------------------------------

def shape_label(row):
    title = CELL_TITLES.get(row["cell"], row["cell"])
    extra = " (char-rnn)" if row["group"] == "char-rnn" else ""
    return f"{title} T={row['T']} B={row['B']} H={row['H']} L={row['L']}{extra}"


def fmt_ms(v):
    if v is None:
        return "—"
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def marked(value, goal_name, row, digits=2):
    """value, with ✓/✗ when one of the row's goals is about it."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    for name, _, _, met in row["goals"]:
        if name == goal_name:
            return text + (" ✓" if met else " ✗")
    return text


def table_rows(rows):
    header = ["shape (X = H)", "thr", "cellforge ms", "oneDNN ms", "torch nn ms", "TorchScript ms",
              "× oneDNN", "× torch", "× TScript", "cf GFLOP/s", "cf % peak", "oneDNN % peak",
              "telemetry", "JIT ms", "load"]
    body = []
    for row in rows:
        cf, s = row.get("cellforge", {}), row["speedup"]
        comp = cf.get("compile_ms", {})
        tel = cf.get("telemetry_cost_pct")
        body.append([
            shape_label(row), str(row["threads"]),
            fmt_ms(cf.get("ms")),
            fmt_ms(row.get("onednn", {}).get("ms")),
            fmt_ms(row.get("torch", {}).get("ms")),
            fmt_ms(row.get("torchscript", {}).get("ms")),
            marked(s.get("onednn"), "x oneDNN", row),
            marked(s.get("torch"), "x torch nn", row),
            marked(s.get("torchscript"), "x TorchScript", row),
            f"{cf['gflops']:.0f}" if cf else "—",
            marked(cf.get("pct_peak"), "% of peak", row, 0) if cf else "—",
            f"{row['onednn']['pct_peak']:.0f}" if row.get("onednn", {}).get("pct_peak") else "—",
            f"{tel:+.1f}%" if tel is not None else "—",
            f"{comp['network_ms']:.0f}" if comp else "—",
            f"{row['other_load']:.2f}",
        ])
    return header, body


def text_table(header, body):
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(r, widths))) for r in [header] + body]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def md_table(header, body):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(out)


def machine_line(m, peaks, width, rows):
    jit = next((r["cellforge"]["jit"] for r in rows if "cellforge" in r), {})
    onednn_isa = next((r["onednn"]["isa"] for r in rows if "onednn" in r), None)
    blas = next((r[p]["blas"] for r in rows for p in ("torch", "torchscript") if p in r), None)
    torch_v = next((r[p]["torch"] for r in rows for p in ("torch", "torchscript") if p in r), None)
    cpu = f"{m['cpu_model']} (family {m['cpu_family']}, model {m['cpu_model_number']}" + \
          (f", LLVM: {jit['cpu']}" if jit.get("cpu") else "") + ")"
    return (f"{cpu}, {m['cores']} cores, {' '.join(m['isa'])}; {m['os']}; {m['cxx']}; "
            f"LLVM {jit.get('llvm', '?')} (cellforge code {jit.get('vector_floats', '?')}-wide); "
            f"oneDNN {m['onednn']} (ISA {onednn_isa}); PyTorch {torch_v} with OpenBLAS {m['openblas']} "
            f"({blas}); cellforge {m['git']}; {m['date']}")


def peak_text(peaks, width):
    parts = []
    for w in sorted({w for w, _ in peaks}):
        isa = "AVX-512 (zmm, 16 floats)" if w == 16 else "AVX2 (ymm, 8 floats)"
        per = ", ".join(f"{t} thread{'s' if t > 1 else ''} {peaks[(w, t)]:.0f}"
                        for t in sorted(t for ww, t in peaks if ww == w))
        parts.append(f"{isa}: {per} GFLOP/s")
    return "; ".join(parts) + f". \"% peak\" uses the {width}-wide figure at the row's thread count."


def custom_lines(rows):
    out = []
    for row in rows:
        if "per_flop_vs_lstm" in row:
            out.append(f"{CELL_TITLES.get(row['cell'], row['cell'])}, {row['threads']} "
                       f"thread{'s' if row['threads'] > 1 else ''}: time per FLOP "
                       f"{row['per_flop_vs_lstm']:.2f}× cellforge's LSTM at the same shape "
                       f"(goal ≤ 1.15) {'✓' if row['per_flop_vs_lstm'] <= 1.15 else '✗'}")
    return out


def compile_table(rows):
    seen, body = {}, []
    for row in rows:
        comp = row.get("cellforge", {}).get("compile_ms")
        if not comp:
            continue
        key = (row["cell"], row["T"], row["B"], row["H"], row["L"])
        seen.setdefault(key, []).append((row, comp))
    for key, entries in seen.items():
        row = entries[0][0]
        cold = median([c["cold_ms"] for _, c in entries])
        lib = median([c["cold_library_ms"] for _, c in entries])
        net = median([c["network_ms"] for _, c in entries])
        hit = median([c["cached_ms"] for _, c in entries])
        body.append([shape_label(row), f"{cold:.0f}", f"{lib:.0f}", f"{net:.0f}", f"{hit:.1f}"])
    return ["network", "cold ms", "of which GEMM libraries", "network ms", "disk-cache hit ms"], body


def telemetry_summary(rows):
    costs = [r["cellforge"]["telemetry_cost_pct"] for r in rows
             if "telemetry_cost_pct" in r.get("cellforge", {})]
    if not costs:
        return None
    return {"median_pct": round(median(costs), 1), "min_pct": min(costs), "max_pct": max(costs),
            "rows": len(costs)}


def goal_summary(rows):
    met = [g for r in rows for g in r["goals"] if g[3]]
    all_goals = [g for r in rows for g in r["goals"]]
    by_name = {}
    for r in rows:
        for name, _, _, ok in r["goals"]:
            n = by_name.setdefault(name, [0, 0])
            n[0] += ok
            n[1] += 1
    return {"met": len(met), "total": len(all_goals),
            "by_goal": {k: {"met": v[0], "of": v[1]} for k, v in by_name.items()}}


def write_csv(path, rows):
    fields = ["group", "cell", "T", "B", "X", "H", "L", "threads", "gflop"]
    for p in PEERS:
        fields += [f"{p}_ms", f"{p}_runs", f"{p}_spread", f"{p}_gflops", f"{p}_pct_peak"]
    fields += ["speedup_vs_onednn", "speedup_vs_torch", "speedup_vs_torchscript",
               "per_flop_vs_lstm", "telemetry_on_ms", "telemetry_cost_pct", "compile_cold_ms",
               "compile_network_ms", "compile_cached_ms", "peak_gflops", "other_load",
               "goals_met", "goals_total"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(fields)
        for row in rows:
            rec = {k: row[k] for k in ("group", "cell", "T", "B", "X", "H", "L", "threads")}
            rec["gflop"] = round(row["flops"] / 1e9, 3)
            for p in PEERS:
                d = row.get(p, {})
                for k in ("ms", "runs", "spread", "gflops", "pct_peak"):
                    rec[f"{p}_{k}"] = d.get(k, "")
            for p in PEERS[1:]:
                rec[f"speedup_vs_{p}"] = row["speedup"].get(p, "")
            cf = row.get("cellforge", {})
            comp = cf.get("compile_ms", {})
            rec.update(per_flop_vs_lstm=row.get("per_flop_vs_lstm", ""),
                       telemetry_on_ms=cf.get("telemetry_on_ms", ""),
                       telemetry_cost_pct=cf.get("telemetry_cost_pct", ""),
                       compile_cold_ms=comp.get("cold_ms", ""),
                       compile_network_ms=comp.get("network_ms", ""),
                       compile_cached_ms=comp.get("cached_ms", ""),
                       peak_gflops=row["peak_gflops"], other_load=row["other_load"],
                       goals_met=sum(g[3] for g in row["goals"]), goals_total=len(row["goals"]))
            w.writerow([rec[k] for k in fields])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("raw")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "results", "latest"))
    a = p.parse_args()
    machine, peaks, runs = load(a.raw)
    width = peak_width(peaks, runs)
    rows = aggregate(runs, peaks, width)
    header, body = table_rows(rows)
    tel = telemetry_summary(rows)
    gs = goal_summary(rows)
    mline = machine_line(machine, peaks, width, rows)
    ptext = peak_text(peaks, width)
    ch, cb = compile_table(rows)
    failed = sum(not r["ok"] for r in runs)
    loaded = sum(r["other_load"] > 0.25 for r in runs)
    waited = sum(r.get("waited_s", 0) for r in runs)
    rounds = machine.get("rounds")
    ts_mode = machine.get("torchscript_mode", "hoist")

    notes = [
        f"Machine: {mline}.",
        f"Command: `{machine['command']}` ({rounds} round{'s' if rounds != 1 else ''}; "
        f"{len(runs)} runs" + (f", {failed} failed" if failed else "") + f"; {loaded} runs shared "
        f"the machine with other work (load > 0.25 cores); {waited / 60:.1f} min spent waiting "
        "for a quiet machine).",
        f"Measured FMA peak (bench/fma_peak.cpp): {ptext}",
        "Times: forward + backward (BPTT) of the RNN part of one training step, float32, median "
        "over rounds of each run's median, ms. × peer = peer ms / cellforge ms (> 1: cellforge "
        "faster); ✓/✗ = issue 4's goal for that number (× oneDNN ≥ 1.2, ≥ 2 at B = 1; × torch nn "
        "≥ 2; × TorchScript ≥ 3 for custom cells; ≥ 75% of peak at B ≥ 32, H ≥ 256).",
        "FLOPs: forward + backward matmul flops = 3 · Σ_layers 2·G·H·(in + H)·B·T, G = 4 LSTM "
        "(peephole and layer-norm too), 3 GRU, 1 RNN; in = X for layer 1, H above; elementwise "
        "work not counted; the same count for every peer.",
        f"TorchScript: the cell as a loop of tensor ops under torch.jit.script, "
        + ("with W·x for all steps hoisted before the loop (its faster form)." if ts_mode == "hoist"
           else "W·x computed per step (PyTorch's custom-cell template)."),
        "telemetry = cellforge's time with gradient telemetry on vs off, measured in the same "
        "process in alternating blocks; JIT ms = compiling the network with the GEMM kernel "
        "libraries already built; load = cores busy with other work during the runs (median).",
    ]
    # stdout
    print(text_table(header, body))
    print()
    for line in custom_lines(rows):
        print(line)
    if tel:
        print(f"gradient telemetry cost (cellforge, on vs off): median {tel['median_pct']:+.1f}% "
              f"over {tel['rows']} rows (range {tel['min_pct']:+.1f}% … {tel['max_pct']:+.1f}%)")
    print(f"goals met: {gs['met']} of {gs['total']}  " +
          ", ".join(f"{k}: {v['met']}/{v['of']}" for k, v in gs["by_goal"].items()))
    print()
    print(text_table(ch, cb))
    print()
    for n in notes:
        print(n)

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    write_csv(a.out + ".csv", rows)
    with open(a.out + ".json", "w") as f:
        json.dump({"machine": machine, "fma_peak_gflops": {f"{w}-wide/{t}": v for (w, t), v in
                                                           sorted(peaks.items())},
                   "peak_width": width,
                   "flops": "3 * sum_l 2*G*H*(in_l + H)*B*T (forward + backward matmuls)",
                   "rows": rows, "telemetry_cost": tel, "goals": gs,
                   "runs": len(runs), "failed_runs": failed}, f, indent=1)
        f.write("\n")
    with open(a.out + ".md", "w") as f:
        f.write("<!-- made by bench/report.py from bench/run.sh's raw records; do not edit -->\n")
        f.write(md_table(header, body) + "\n\n")
        for line in custom_lines(rows):
            f.write(f"- {line}\n")
        if tel:
            f.write(f"- Gradient telemetry on vs off (cellforge): median {tel['median_pct']:+.1f}% "
                    f"over {tel['rows']} rows, range {tel['min_pct']:+.1f}% … "
                    f"{tel['max_pct']:+.1f}%.\n")
        f.write(f"- Goals met: {gs['met']} of {gs['total']} (" +
                ", ".join(f"{k}: {v['met']}/{v['of']}" for k, v in gs["by_goal"].items()) + ").\n")
        f.write("\nJIT compile time per network (threads do not change the code; median of the "
                "round-1 runs):\n\n")
        f.write(md_table(ch, cb) + "\n\n")
        for n in notes:
            f.write(n + "\n\n")
    print(f"\nwrote {a.out}.csv, {a.out}.json, {a.out}.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
