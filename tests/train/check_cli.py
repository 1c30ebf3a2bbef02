#!/usr/bin/python3
"""`cellforge train`, `sample` and `plot` end to end (CTest `train: command line`):

  * a short training run writes a checkpoint, a loss CSV and an SVG plot; the SVG parses as XML and
    holds the series it should, with as many points as the CSV has rows;
  * resuming from a checkpoint mid-run gives the same losses as the uninterrupted run (the CSVs are
    identical line for line), and a --resume with different settings is refused;
  * `sample` prints the same text for the same seed and another for another seed, and starts with
    the prime;
  * --dropout shows in the header, changes the training losses, resumes exactly, is checked against
    the checkpoint on --resume, samples, and bad values are refused;
  * `plot` draws two CSVs on one chart, with a log axis;
  * user errors (a corrupt checkpoint, an unknown option) exit with status 2 and one line on stderr.

usage: check_cli.py CELLFORGE SCRATCH_DIR
"""
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

cellforge, scratch = sys.argv[1], sys.argv[2]
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(scratch)
S = lambda name: os.path.join(scratch, name)
failures = []


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


corpus = S("corpus.txt")
with open(corpus, "w") as f:
    for i in range(80):
        f.write(["the cat sat on the mat.\n", "a dog ran to the cat!\n", "to be or not to be.\n"][(i * 7 + i // 3) % 3])

common = ["--cell", "gru", "--layers", "2", "--hidden", "16", "--corpus", corpus, "--batch", "4", "--unroll", "16",
          "--eval-every", "10", "--print-every", "5", "--sample-length", "40", "--clip-norm", "1", "--threads", "1"]
straight = run("train", *common, "--iterations", "30", "--out", S("straight"))
check("iter     30/30" in straight.stdout and "chars/s" in straight.stdout and "ETA" in straight.stdout,
      "the progress line shows the iteration, losses, chars/s and ETA")
check(all(os.path.exists(S("straight" + ext)) for ext in (".ckpt", ".csv", ".svg")), "train writes .ckpt, .csv and .svg")

# Resume at 10 (the checkpoint written at the first evaluation) and run to 30.
run("train", *common, "--iterations", "10", "--out", S("first"))
resumed = run("train", "--corpus", corpus, "--resume", S("first.ckpt"), "--iterations", "30", "--eval-every", "10",
              "--print-every", "5", "--sample-length", "0", "--threads", "1", "--out", S("resumed"))
check("resumed  " in resumed.stdout, "--resume says where it continues")
check(open(S("straight.csv")).read() == open(S("resumed.csv")).read(),
      "a resumed run writes the same loss curve, bit for bit, as the uninterrupted one")
refused = run("train", "--corpus", corpus, "--resume", S("first.ckpt"), "--lr", "0.1", expect=2)
check(refused.stderr.startswith("cellforge train: error: --resume continues with the checkpoint's own training settings; drop --lr"),
      "--resume refuses changed training settings")
wrong = run("train", "--corpus", corpus, "--resume", S("first.ckpt"), "--cell", "lstm", "--layers", "2", "--hidden", "16",
            expect=2)
check("does not match the model:\n  cell: the checkpoint has cell 'gru', the model has cell 'lstm'" in wrong.stderr,
      "--resume with another cell is refused with the differences")

# Dropout.
dropped = run("train", *common, "--dropout", "0.25", "--iterations", "20", "--out", S("dropped"))
check("every_step loss, dropout 0.25: " in dropped.stdout, "the header line shows the dropout")
check(open(S("dropped.csv")).read().splitlines()[1] != open(S("straight.csv")).read().splitlines()[1],
      "dropout changes the training loss from the first step")
run("train", *common, "--dropout", "0.25", "--iterations", "10", "--out", S("dropped-first"))
run("train", "--corpus", corpus, "--resume", S("dropped-first.ckpt"), "--iterations", "20", "--eval-every", "10",
    "--print-every", "5", "--sample-length", "0", "--threads", "1", "--out", S("dropped-resumed"))
check(open(S("dropped.csv")).read() == open(S("dropped-resumed.csv")).read(),
      "a resumed run with dropout writes the same loss curve, bit for bit")
wrong = run("train", "--corpus", corpus, "--resume", S("dropped-first.ckpt"), "--cell", "gru", "--layers", "2",
            "--hidden", "16", expect=2)
check(wrong.stderr.endswith("does not match the model:\n  dropout: the checkpoint has 0.25, the model has 0\n"),
      "--resume with another dropout is refused")
text = run("sample", "--checkpoint", S("dropped.ckpt"), "--length", "30", "--prime", "the ", "--seed", "2").stdout
check(text.startswith("the ") and len(text) == 4 + 30 + 1, "sample works on a checkpoint trained with dropout")
for value in ("1", "-0.1", "nan"):
    bad = run("train", "--corpus", corpus, "--dropout", value, expect=2)
    check(bad.stderr == "cellforge train: error: option --dropout needs a probability in [0, 1) (0: no dropout; "
          f"char-rnn's 0.5 is a common choice), got {value}\n", f"--dropout {value} is refused, naming the option and the range")

# The regularizers inside the recurrence: a run with all of them resumes exactly, and its checkpoint
# samples and scores (which run without dropout and weight drop, and blend by the zoneout rates).
regular = ["--dropout", "0.25", "--variational-dropout", "--zoneout", "h=0.1", "--weight-drop", "W_hh=0.3"]
all_on = run("train", *common, *regular, "--iterations", "20", "--out", S("regular"))
check("dropout 0.25 per sequence, zoneout h 0.1, weight drop W_hh 0.3: " in all_on.stdout,
      "the header line shows every regularizer")
run("train", *common, *regular, "--iterations", "10", "--out", S("regular-first"))
run("train", "--corpus", corpus, "--resume", S("regular-first.ckpt"), "--iterations", "20", "--eval-every", "10",
    "--print-every", "5", "--sample-length", "0", "--threads", "1", "--out", S("regular-resumed"))
check(open(S("regular.csv")).read() == open(S("regular-resumed.csv")).read(),
      "a resumed run with variational dropout, zoneout and weight drop writes the same loss curve, bit for bit")
text = run("sample", "--checkpoint", S("regular.ckpt"), "--length", "30", "--prime", "the ", "--seed", "2").stdout
check(text.startswith("the ") and len(text) == 4 + 30 + 1, "sample works on a checkpoint trained with all of them")
scored = run("score", "--checkpoint", S("regular.ckpt"), "--text", corpus)
check("nats" in scored.stdout or "bits" in scored.stdout, "score works on a checkpoint trained with all of them")

# The SVG is XML with the two series.
svg = ET.parse(S("straight.svg")).getroot()
ns = {"s": "http://www.w3.org/2000/svg"}
series = {g.get("data-name"): g for g in svg.iterfind("s:g[@class='series']", ns)}
check(set(series) == {"train (mean of 10)", "validation"}, f"the loss plot has a train and a validation series ({sorted(series)})")
points = sum(len(p.get("points").split()) for p in series["train (mean of 10)"].iterfind("s:polyline", ns))
check(points == 30, f"the train series has one point per iteration ({points})")
check(len(series["validation"].findall("s:circle", ns)) == 3, "the validation series has a marker per evaluation")
legend = [t.text for t in svg.iterfind("s:g[@class='legend']/s:text", ns)]
check(legend == ["train (mean of 10)", "validation"], f"the legend names both ({legend})")

# Sampling.
a = run("sample", "--checkpoint", S("straight.ckpt"), "--length", "60", "--prime", "the ", "--seed", "5").stdout
b = run("sample", "--checkpoint", S("straight.ckpt"), "--length", "60", "--prime", "the ", "--seed", "5").stdout
c = run("sample", "--checkpoint", S("straight.ckpt"), "--length", "60", "--prime", "the ", "--seed", "6").stdout
check(a == b and a != c, "sample: same seed, same text; another seed, another text")
check(a.startswith("the ") and len(a) == 4 + 60 + 1, "sample starts with the prime and has the length asked")

# Plot two files, log axis.
run("plot", "--csv", S("straight.csv") + "," + S("resumed.csv"), "--labels", "a,b", "--columns", "train_loss,val_loss",
    "--log-y", "--smooth", "3", "--out", S("both.svg"), "--title", "a & b <compared>")
both = ET.parse(S("both.svg")).getroot()
names = [g.get("data-name") for g in both.iterfind("s:g[@class='series']", ns)]
check(names == ["a train_loss (mean of 3)", "a val_loss", "b train_loss (mean of 3)", "b val_loss"], f"plot: four series ({names})")
check(both.find("s:text[@class='title']", ns).text == "a & b <compared>", "plot: the title is escaped and survives")
check(both.find("s:text[@class='y-label']", ns).text.endswith("(log)"), "plot: the log axis is labelled")

# User errors: status 2, one line.
with open(S("straight.ckpt"), "rb") as f:
    data = bytearray(f.read())
data[-3] ^= 0x04
with open(S("corrupt.ckpt"), "wb") as f:
    f.write(data)
bad = run("sample", "--checkpoint", S("corrupt.ckpt"), expect=2)
check(bad.stderr.startswith(f"cellforge sample: error: checkpoint '{S('corrupt.ckpt')}': tensor 'history.val' checksum mismatch: stored 0x")
      and bad.stderr.count("\n") == 1, "a corrupt checkpoint: exit 2, one line naming file and tensor")
unknown = run("train", "--corpus", corpus, "--optimiser", "adam", expect=2)
check("unknown option --optimiser" in unknown.stderr, "an unknown option is named")

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
