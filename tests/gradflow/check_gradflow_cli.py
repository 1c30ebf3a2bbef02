#!/usr/bin/python3
"""`cellforge gradflow` end to end (CTest `gradflow: command line`):

  * for a vanilla RNN and an LSTM it writes CSV, JSON and SVG files; every SVG parses as XML and
    holds one polyline per series the CSV has, with as many points as the CSV has rows for it, and
    the plotted y coordinates fall as the gradient norms do (log axis: a smaller norm is lower);
  * the numbers say what the lesson says: the RNN's gradient 49 steps back is below 1e-12 of the
    last step's; the LSTM's cell state with forget bias 1.5 keeps over 10%;
  * bad options exit with status 2 and a message naming the option.

usage: check_gradflow_cli.py CELLFORGE SCRATCH_DIR
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

cellforge, scratch = sys.argv[1], sys.argv[2]
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(scratch)
failures = []
SVG = "{http://www.w3.org/2000/svg}"


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what)
    if not condition:
        failures.append(what)


def run(*args, expect=0):
    p = subprocess.run([cellforge, *args], capture_output=True, text=True)
    if p.returncode != expect:
        print(p.stdout, p.stderr)
        sys.exit(f"cellforge {' '.join(args)}: exit status {p.returncode}, expected {expect}")
    return p


prefix = os.path.join(scratch, "flow")
out = run("gradflow", "--cell", "rnn,lstm", "--hidden", "32", "--batch", "8", "--unroll", "50", "--scale", "0.5",
          "--forget-bias", "1.5", "--lanczos", "12", "--out", prefix).stdout
check("gradient flow of rnn" in out and "gradient flow of lstm" in out, "the table names both cells")

rows = {}
for cell in ("rnn", "lstm"):
    with open(f"{prefix}_{cell}.csv") as f:
        for r in csv.DictReader(f):
            rows.setdefault((cell, r["state"]), []).append((int(r["steps_back"]), float(r["gradient_norm"])))
    report = json.load(open(f"{prefix}_{cell}.json"))
    check(report["cell"] == cell and report["unroll"] == 50, f"{cell}: the JSON names the cell and its sizes")
    for s in report["states"]:
        csv_norms = [n for _, n in sorted(rows[(cell, s["state"])])]
        check(len(s["gradient_norm_by_steps_back"]) == 50 == len(csv_norms) and
              all(abs(a - b) <= 1e-5 * abs(b) for a, b in zip(s["gradient_norm_by_steps_back"], csv_norms)),
              f"{cell} {s['state']}: JSON and CSV hold the same 50 norms")

norm = lambda cell, state, k: dict(rows[(cell, state)])[k]
check(norm("rnn", "h", 49) < 1e-12 * norm("rnn", "h", 0), "the RNN's gradient vanishes 49 steps back")
check(norm("lstm", "c", 49) > 0.1 * norm("lstm", "c", 0), "the LSTM's cell state carries it 49 steps back")

for svg in (f"{prefix}_rnn_norms.svg", f"{prefix}_lstm_norms.svg", f"{prefix}_norms.svg", f"{prefix}_lstm_sigma.svg"):
    root = ET.parse(svg).getroot()
    check(root.tag == SVG + "svg", f"{os.path.basename(svg)} parses as an SVG document")
    series = {g.get("data-name"): g for g in root.iter(SVG + "g") if g.get("class") == "series"}
    check(len(series) > 0, f"{os.path.basename(svg)} has series: {sorted(series)}")
    if svg.endswith("flow_norms.svg"):
        check(len(series) == 3, "the combined plot has rnn h, lstm h and lstm c")
        for name, g in series.items():
            points = [tuple(map(float, p.split(","))) for line in g.iter(SVG + "polyline") for p in line.get("points").split()]
            check(len(points) == 50, f"'{name}' plots 50 points")
        rnn = [g for name, g in series.items() if name.startswith("rnn")][0]
        ys = [float(p.split(",")[1]) for line in rnn.iter(SVG + "polyline") for p in line.get("points").split()]
        check(all(b > a for a, b in zip(ys, ys[1:])), "the RNN's line goes down at every step (SVG y grows)")

bad = run("gradflow", "--cell", "rnn", "--unroll", "1", "--out", prefix, expect=2)
check("--unroll" in bad.stderr and "at least 2" in bad.stderr, "--unroll 1 is refused with a message naming it")
bad = run("gradflow", "--cell", "lstm", "--size", "P", "--out", prefix, expect=2)
check("--size" in bad.stderr and "NAME=VALUE" in bad.stderr, "a malformed --size is refused")
bad = run("gradflow", "--cell", "nosuchcell", "--out", prefix, expect=2)
check("unknown cell 'nosuchcell'" in bad.stderr, "an unknown cell is refused with the zoo's names")

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
print("all gradflow checks passed")
