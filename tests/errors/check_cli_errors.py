#!/usr/bin/python3
"""Bad input to the cellforge tool (CTest `errors: command line bad input`, label errors).

Every probe below must end the program with exit status 2 and exactly one line on stderr,
"cellforge COMMAND: error: MESSAGE", whose MESSAGE contains the expected text; within a time limit
(no hang), without a crash (a signal, exit status 3 for an uncaught exception), and without
leaving any file behind in the scratch directory (no partial checkpoint, CSV, SVG or temporary).
The probes: missing files, directories where files are read, an empty and a 1-byte corpus, a text
file as a checkpoint, non-numeric, negative and huge sizes, unknown cells, outputs in a directory
that does not exist or is not a directory, --unroll 0, a batch larger than the corpus allows, and
options out of range. A good run of each command (the control) exits 0.

usage: check_cli_errors.py CELLFORGE SCRATCH_DIR
"""
import os
import shutil
import subprocess
import sys

cellforge, scratch = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(scratch)
os.chdir(scratch)
failures = []

# Fixtures: an empty and a 1-byte corpus, a short text, a directory, a good graph file and a
# checkpoint of a tiny model (the control run below writes it).
open("empty.txt", "w").close()
with open("one.txt", "w") as f:
    f.write("a")
with open("corpus.txt", "w") as f:
    f.write(("the quick brown fox jumps over the lazy dog. " * 60)[:2700])
os.makedirs("adir")
with open("rnn.cf", "w") as f:
    f.write("cell myrnn {\n  input %x : [X]\n  state %h : [H]\n  param %W : [H, X]\n  param %U : [H, H]\n"
            "  %0 = matmul %W, %x : [H]\n  %1 = matmul %U, %h : [H]\n  %2 = add %0, %1 : [H]\n"
            "  %h_next = tanh %2 : [H]\n  next h = %h_next\n  output y = %h_next\n}\n")
SMALL = "--hidden 8 --layers 1 --batch 2 --unroll 4 --iterations 2 --eval-every 0 --sample-length 0 --threads 1".split()
control = subprocess.run([cellforge, "train", "--corpus", "corpus.txt", *SMALL, "--out", "good"], capture_output=True,
                         text=True, timeout=300)
if control.returncode != 0:
    sys.exit("the control run failed:\n" + control.stdout + control.stderr)
fixtures = {"empty.txt", "one.txt", "corpus.txt", "adir", "rnn.cf", "good.ckpt", "good.csv", "good.svg"}


def files_here():
    out = set()
    for root, dirs, names in os.walk("."):
        for n in dirs + names:
            out.add(os.path.normpath(os.path.join(root, n)))
    return out


before = files_here()
assert fixtures <= before, before


# (arguments, text the error line must contain)
TRAIN = ["train", "--corpus", "corpus.txt", *SMALL]
probes = [
    # train: the corpus
    (["train", "--corpus", "nosuch.txt", *SMALL], "cannot read the corpus 'nosuch.txt': no such file, or no permission to read it"),
    (["train", "--corpus", "adir", *SMALL], "corpus 'adir' is a directory; give a text file"),
    (["train", "--corpus", "empty.txt", *SMALL], "the corpus 'empty.txt' is empty; give a text file with at least a few thousand characters"),
    (["train", "--corpus", "one.txt", *SMALL], "the training text has 1 characters, too few for one batch of 2 streams x 4 steps (needs 9); "
                                               "use a longer text, or a smaller --batch or --unroll"),
    (TRAIN + ["--batch", "5000"], "the training text has 2565 characters, too few for one batch of 5000 streams x 4 steps (needs 20001); "
                                  "use a longer text, or a smaller --batch or --unroll"),
    # train: sizes
    (TRAIN + ["--hidden", "abc"], "option --hidden needs an integer, got 'abc'"),
    (TRAIN + ["--hidden", "1e3"], "option --hidden needs an integer, got '1e3'"),
    (TRAIN + ["--hidden", "-5"], "hidden size must be >= 1, got -5; pass --hidden N"),
    (TRAIN + ["--hidden", "99999999999999999999"], "option --hidden needs an integer, got '99999999999999999999'"),
    (TRAIN + ["--hidden", "4000000000"], "the network needs at least "),
    (TRAIN + ["--layers", "100000000"], "number of layers must be <= 256, got 100000000; every layer is compiled into code of its own, "
                                        "so stack fewer layers"),
    (TRAIN + ["--unroll", "0"], "unroll length must be >= 1, got 0; pass --unroll N"),
    (TRAIN + ["--batch", "0"], "batch size must be >= 1, got 0; pass --batch N"),
    (TRAIN + ["--batch", "-1"], "batch size must be >= 1, got -1; pass --batch N"),
    (TRAIN + ["--iterations", "-1"], "option --iterations needs a count >= 0, got -1"),
    (TRAIN + ["--print-every", "-1"], "option --print-every needs a count of iterations >= 1, got -1"),
    (TRAIN + ["--eval-every", "-5"], "option --eval-every needs a count of iterations >= 0 (0: only at the end), got -5"),
    (TRAIN + ["--time-limit", "nan"], "option --time-limit needs seconds >= 0 (0: no limit), got nan"),
    (TRAIN + ["--sample-length", "-2"], "option --sample-length needs a count of characters >= 0, got -2"),
    (TRAIN + ["--temperature", "-1"],
     "option --temperature needs a finite number >= 0 (0: always the most likely character), got -1"),
    (TRAIN + ["--threads", "-3"], "threads is -3; expected 0 (one per hardware thread, "),
    (TRAIN + ["--threads", "100000"], "threads is 100000; expected 0 (one per hardware thread, "),
    (TRAIN + ["--lr", "nan"], "the learning rate (--lr) must be a finite number >= 0, got nan; for example --lr 0.002"),
    (TRAIN + ["--dropout", "1"], "option --dropout needs a probability in [0, 1)"),
    (TRAIN + ["--zoneout", "c=1"], "option --zoneout needs probabilities in [0, 1) (e.g. c=0.5,h=0.05, Krueger et al.'s "
     "for a character LSTM, or 0.1 for every state), got 'c=1'"),
    (TRAIN + ["--variational-dropout"], "dropout per sequence (--variational-dropout) needs a dropout probability; pass "
     "--dropout P as well"),
    (TRAIN + ["--zoneout", "c=0.5,c=0.2"], "option --zoneout gives 'c' twice in 'c=0.5,c=0.2'; give each name once"),
    (TRAIN + ["--weight-drop", "0.5"], "option --weight-drop takes NAME=P[,NAME=P...] (e.g. W_hh=0.5, AWD-LSTM's), got "
     "'0.5' in '0.5'"),
    (TRAIN + ["--weight-drop", "U=0"], "weight drop names parameter 'U', but cell 'lstm' has the parameters W_ih, b_ih, "
     "W_hh, b_hh; pass --weight-drop NAME=P for one of them (W_hh for AWD-LSTM's recurrent weight drop)"),
    (TRAIN + ["--weight-drop", "W_hh= 0.5"], "option --weight-drop needs probabilities in [0, 1) (e.g. W_hh=0.5, AWD-LSTM's), "
     "got 'W_hh= 0.5'"),
    (["demo", "--cell", "mgu", "--weight-drop", "0.5"], "--weight-drop drops W_hh, which cell 'mgu' does not have; leave "
     "--weight-drop out, or use cellforge train --weight-drop NAME=P with one of its parameters"),
    (TRAIN + ["--weight-drop", "U=0.5"], "weight drop names parameter 'U', but cell 'lstm' has the parameters W_ih, b_ih, "
     "W_hh, b_hh; pass --weight-drop NAME=P for one of them (W_hh for AWD-LSTM's recurrent weight drop)"),
    (TRAIN + ["--zoneout", "q=0.2"], "zoneout names state 'q', but cell 'lstm' has the states h, c; pass --zoneout NAME=Z "
     "for one of them"),
    # train: the cell
    (TRAIN + ["--cell", "nosuchcell"], "unknown cell 'nosuchcell'; the zoo has: rnn, "),
    (TRAIN + ["--graph", "nosuch.cf"], "cannot read graph file 'nosuch.cf'"),
    (TRAIN + ["--graph", "adir"], "graph file 'adir' is a directory; give a file"),
    (TRAIN + ["--graph", "empty.txt"], "empty graph text: expected 'cell NAME {'"),
    # train: where it writes (checked before it compiles or trains)
    (TRAIN + ["--out", "nodir/sub/m"], "checkpoint 'nodir/sub/m.ckpt': the directory 'nodir/sub' does not exist; create it, or write elsewhere"),
    (TRAIN + ["--out", "corpus.txt/m"], "checkpoint 'corpus.txt/m.ckpt': 'corpus.txt' is not a directory; write elsewhere"),
    (TRAIN + ["--checkpoint", "adir"], "checkpoint 'adir' is a directory; give a file name"),
    (TRAIN + ["--summary", "nodir/s.json"], "summary 'nodir/s.json': the directory 'nodir' does not exist"),
    # train --resume
    (["train", "--resume", "nosuch.ckpt", "--corpus", "corpus.txt"], "checkpoint 'nosuch.ckpt': cannot open it for reading (No such file or directory)"),
    (["train", "--resume", "adir", "--corpus", "corpus.txt"], "checkpoint 'adir': is a directory, not a file"),
    (["train", "--resume", "corpus.txt", "--corpus", "corpus.txt"], "checkpoint 'corpus.txt': the header declares "),
    (["train", "--resume", "empty.txt", "--corpus", "corpus.txt"], "checkpoint 'empty.txt': the file is 0 bytes, shorter than the 8-byte header"),
    (["train", "--resume", "good.ckpt", "--corpus", "one.txt"], "checkpoint 'good.ckpt' was trained on 'corpus.txt' ("),
    # sample
    (["sample"], "option --checkpoint is required"),
    (["sample", "--checkpoint", "nosuch.ckpt", "--length", "99999999999999"],
     "option --length needs a count of characters from 0 to 100000000, got 99999999999999; for more text, run sample again with another --seed"),
    (["sample", "--checkpoint", "nosuch.ckpt"], "checkpoint 'nosuch.ckpt': cannot open it for reading (No such file or directory)"),
    (["sample", "--checkpoint", "adir"], "checkpoint 'adir': is a directory, not a file"),
    (["sample", "--checkpoint", "empty.txt"], "checkpoint 'empty.txt': the file is 0 bytes, shorter than the 8-byte header length"),
    (["sample", "--checkpoint", "one.txt"], "checkpoint 'one.txt': the file is 1 bytes, shorter than the 8-byte header length"),
    (["sample", "--checkpoint", "corpus.txt"], "checkpoint 'corpus.txt': the header declares "),
    (["sample", "--checkpoint", "good.ckpt", "--length", "x"], "option --length needs an integer, got 'x'"),
    (["sample", "--checkpoint", "good.ckpt", "--seed", "-1"], "option --seed needs an integer >= 0, got -1"),
    (["sample", "--checkpoint", "good.ckpt", "--threads", "-2"], "threads is -2; expected 0"),
    # inspect
    (["inspect", "--cell", "nosuchcell"], "unknown cell 'nosuchcell'; the zoo has: rnn, "),
    (["inspect", "--graph", "nosuch.cf"], "cannot read graph file 'nosuch.cf'"),
    (["inspect", "--graph", "adir"], "graph file 'adir' is a directory; give a file"),
    (["inspect", "--graph", "empty.txt"], "empty graph text: expected 'cell NAME {'"),
    (["inspect", "--graph", "corpus.txt"], "line 1: "),
    (["inspect", "--cell", "lstm", "--emit", "llvm", "--hidden", "0"], "hidden size must be >= 1, got 0; pass the number of hidden units H"),
    (["inspect", "--cell", "lstm", "--emit", "llvm", "--hidden", "-4"], "hidden size must be >= 1, got -4; pass the number of hidden units H"),
    (["inspect", "--cell", "lstm", "--emit", "llvm", "--unroll", "0"], "unroll length must be >= 1, got 0; run at least one step"),
    (["inspect", "--cell", "lstm", "--emit", "llvm", "--vector-width", "12"], "fused_vector_width is 12; expected 4, 8 or 16 floats"),
    (["inspect", "--cell", "lstm", "--emit", "grad", "--no-input-gradient"], "--no-input-gradient changes what the passes schedule; use it with --emit passes or sched, not --emit grad"),
    (["inspect", "--cell", "lstm", "--emit", "sched", "--one-hot-input"], "--one-hot-input changes the generated code, not the graph or its schedule; use it with --emit llvm, llvm-opt or asm, not --emit sched"),
    (["inspect", "--cell", "lstm", "--emit", "dot", "--svg", "adir"], "SVG file 'adir' is a directory; give a file name"),
    (["inspect", "--cell", "lstm", "--emit", "dot", "--svg", "nodir/x.svg"],
     "SVG file 'nodir/x.svg': the directory 'nodir' does not exist; create it, or write elsewhere"),
    # gradflow
    (["gradflow", "--cell", "nosuchcell", "--out", "gf"], "unknown cell 'nosuchcell'; the zoo has: rnn, "),
    (["gradflow", "--cell", "./nosuch.cf", "--out", "gf"], "cannot read the cell file './nosuch.cf'"),
    (["gradflow", "--cell", "adir/", "--out", "gf"], "cell file 'adir/' is a directory; give a file"),
    (["gradflow", "--cell", "rnn", "--unroll", "0", "--out", "gf"], "--unroll: expected at least 2 steps to follow a gradient back, got 0"),
    (["gradflow", "--cell", "rnn", "--hidden", "0", "--out", "gf"], "hidden size must be >= 1, got 0"),
    (["gradflow", "--cell", "rnn", "--hidden", "abc", "--out", "gf"], "option --hidden needs an integer, got 'abc'"),
    (["gradflow", "--cell", "rnn", "--batch", "0", "--unroll", "4", "--out", "gf"], "batch size must be >= 1, got 0"),
    (["gradflow", "--cell", "rnn", "--lanczos", "-1", "--unroll", "4", "--out", "gf"], "--lanczos: expected a number of steps >= 0"),
    (["gradflow", "--cell", "rnn", "--scale", "nan", "--unroll", "4", "--out", "gf"], "--scale: expected a positive weight scale, got nan"),
    (["gradflow", "--cell", "rnn", "--unroll", "4", "--hidden", "4", "--out", "corpus.txt/gf"], "--out: cannot create the directory 'corpus.txt'"),
    # check
    (["check", "--cell", "nosuchcell"], "unknown cell 'nosuchcell'; the zoo has: rnn, "),
    (["check", "--cell", "rnn", "--hidden", "0"], "hidden size must be >= 1, got 0"),
    (["check", "--cell", "rnn", "--unroll", "0"], "unroll length must be >= 1, got 0"),
    (["check", "--cell", "rnn", "--batch", "-2"], "batch size must be >= 1, got -2"),
    (["check", "--graph", "nosuch.cf"], "cannot read graph file 'nosuch.cf'; check the path"),
    (["check", "--graph", "adir"], "graph file 'adir' is a directory; give a file"),
    (["check", "--cell", "lstmp"], "size 'P' is used by the cell (in [P]) but was not given"),
    (["check", "--cell", "lstmp", "--size", "P=0"], "option --size P: expected a positive integer, got '0'"),
    # compile
    (["compile", "--cell", "nosuchcell"], "unknown cell 'nosuchcell'; the zoo has: rnn, "),
    (["compile", "--cell", "rnn", "--hidden", "0"], "hidden size must be >= 1, got 0"),
    (["compile", "--cell", "rnn", "--unroll", "0"], "unroll length must be >= 1, got 0; run at least one step"),
    (["compile", "--cell", "rnn", "--hidden", "x"], "option --hidden needs an integer, got 'x'"),
    (["compile", "--cell", "rnn", "--opt", "9"], "opt_level is 9; expected 0, 1, 2 or 3"),
    (["compile", "--cell", "rnn", "--opt", "-1"], "opt_level is -1; expected 0, 1, 2 or 3"),
    (["compile", "--cell", "rnn", "--hidden", "4000000000"], "the network needs at least "),
    (["compile", "--cell", "rnn", "--unroll", "4611686018427387904"], "the network needs at least "),
    (["compile", "--cell", "lstm", "--hidden", "4611686018427387904"], "size [4H] overflows a 64-bit integer with H = 4611686018427387904"),
    (["compile", "--cell", "rnn", "--layers", "100000000"], "number of layers must be <= 256, got 100000000"),
    (["compile", "--cell", "rnn", "--threads", "100000"], "threads is 100000; expected 0"),
]
if os.geteuid() != 0:  # root writes into a read-only directory, so this probe means something only for others
    os.makedirs("readonly")
    os.chmod("readonly", 0o555)
    fixtures.add("readonly")
    before.add("readonly")
    probes.append((TRAIN + ["--out", "readonly/m"], "checkpoint 'readonly/m.ckpt': the directory 'readonly' is not writable"))

for args, expected in probes:
    what = "cellforge " + " ".join(args)
    try:
        p = subprocess.run([cellforge, *args], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        print("FAIL  " + what + ": no answer within 120 s")
        failures.append(what)
        continue
    lines = p.stderr.strip().splitlines()
    prefix = "cellforge " + args[0] + ": error: "
    problems = []
    if p.returncode != 2:
        problems.append(f"exit status {p.returncode}, expected 2")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr, expected 1")
    if not lines or not lines[-1].startswith(prefix) or expected not in lines[-1]:
        problems.append(f"expected a line '{prefix}...{expected}...'")
    left = files_here() - before
    if left:
        problems.append(f"left files behind: {sorted(left)}")
        for path in sorted(left, reverse=True):
            (shutil.rmtree if os.path.isdir(path) else os.remove)(path)
    print(("FAIL  " if problems else "ok    ") + what + ("\n      " + "; ".join(problems) + "\n      stderr: " +
                                                            p.stderr.strip()[:400] if problems else ""))
    if problems:
        failures.append(what)

# Controls: the nearest good inputs pass.
for args in (["sample", "--checkpoint", "good.ckpt", "--length", "20"], ["inspect", "--graph", "rnn.cf"],
             ["check", "--graph", "rnn.cf", "--hidden", "4", "--unroll", "3", "--batch", "2"],
             ["compile", "--cell", "rnn", "--hidden", "8", "--input", "4", "--batch", "2", "--unroll", "2", "--layers", "1"]):
    p = subprocess.run([cellforge, *args], capture_output=True, text=True, timeout=300)
    ok = p.returncode == 0
    print(("ok    " if ok else "FAIL  ") + "control: cellforge " + " ".join(args) + ("" if ok else "\n" + p.stderr))
    if not ok:
        failures.append("control " + " ".join(args))

print(f"{len(probes)} bad inputs, {len(failures)} failures")
sys.exit(1 if failures else 0)
