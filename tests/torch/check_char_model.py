#!/usr/bin/python3
"""Character language models between cellforge and PyTorch, end to end (CTest label `torch`):

  * export: short `cellforge train` runs (LSTM, GRU, RNN tanh and relu, LSTM with proj_size; one and
    two layers; one-hot and embedding input; with dropout; the last-step loss) -> `export-torch` ->
    scripts/torch_char_model.py builds the CharModel and loads it strictly; its logits on a text
    equal `cellforge score --logits` within 5e-5 and its loss equals `cellforge score`'s;
  * import: CharModels made in PyTorch (random weights with a gain, or a few Adam steps; bias=False;
    a bare state_dict without metadata; another prefix) -> `import-torch` -> `cellforge score`
    equals PyTorch's loss and logits;
  * round trips: export -> import gives the checkpoint's parameters bit for bit, and a second export
    the same file tensors (also under the prefixes 'encoder.gru.' and ''); PyTorch -> import ->
    export gives PyTorch's tensors bit for bit;
  * fine-tuning: `train --resume` continues an imported model (its first loss is the model's, not a
    fresh one's), and the result exports and loads in PyTorch again;
  * user errors (wrong file kinds, a cell torch.nn lacks, vocabulary mismatches, a wrong prefix,
    missing tensors, ...): exit status 2, the message, and no file written.

usage: check_char_model.py CELLFORGE SCRATCH_DIR
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import torch_char_model as cm  # noqa: E402
import torch_safetensors as st  # noqa: E402

cellforge, scratch = sys.argv[1], sys.argv[2]
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(scratch)
S = lambda name: os.path.join(scratch, name)
SCRIPT = os.path.join(os.path.dirname(cm.__file__), "torch_char_model.py")
LOGITS_BOUND = 5e-5
LOSS_BOUND = 2e-6  # `cellforge score` prints 6 decimals
failures, worst = [], {"logits": 0.0, "loss": 0.0, "loss_from_logits": 0.0}


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        failures.append(what)


def run(*args, expect=0):
    p = subprocess.run([cellforge, *args], capture_output=True, text=True)
    if p.returncode != expect:
        print(p.stdout, p.stderr)
        sys.exit(f"cellforge {' '.join(args)}: exit status {p.returncode}, expected {expect}")
    return p


def write(name, data):
    with open(S(name), "wb") as f:
        f.write(data)
    return S(name)


# A corpus with a newline, a tab, a backslash, a quote and a 2-byte UTF-8 character, so that the
# vocabulary's escaping is exercised; and a held-out text of the same characters.
lines = [b"the cat sat on the mat.\n", b"a dog ran to the caf\xc3\xa9!\n", b"to be\tor not to be.\n",
         b"C:\\path\\to \"it\"\n", b"9 lives, 10 tries?\n"]
corpus = write("corpus.txt", b"".join(lines[(i * 7 + i // 3) % 5] for i in range(400)))
with open(corpus, "rb") as f:
    corpus_bytes = f.read()
text = write("text.txt", b"".join(lines[(i * 3 + 1) % 5] for i in range(20)))
with open(text, "rb") as f:
    text_bytes = f.read()
other = write("other.txt", b"a different text, with other characters: XYZ\n" * 20)


def cellforge_score(checkpoint, name):
    p = run("score", "--checkpoint", checkpoint, "--text", text, "--logits", S(name + ".logits.safetensors"))
    printed = float(p.stdout.split("mean cross-entropy ")[1].split()[0])
    tensors, meta = st.read_file(S(name + ".logits.safetensors"))
    return printed, tensors["logits"], tensors["log_probs"], meta


def compare(model, checkpoint, name, what):
    """`cellforge score` of the checkpoint against PyTorch's CharModel on the held-out text."""
    printed, logits, log_probs, meta = cellforge_score(checkpoint, name)
    torch_logits = cm.logits(model, text_bytes)
    torch_loss = cm.loss(model, text_bytes)
    difference = (logits - torch_logits).abs().max().item()
    loss_difference = abs(printed - torch_loss)
    from_logits = abs(-log_probs.double().mean().item() - torch_loss)
    for key, value in (("logits", difference), ("loss", loss_difference), ("loss_from_logits", from_logits)):
        worst[key] = max(worst[key], value)
    check(logits.shape == torch_logits.shape and difference <= LOGITS_BOUND,
          f"{what}: logits [{len(text_bytes)}, {logits.shape[1]}] agree, max |cellforge - torch| = {difference:.2e}")
    check(loss_difference <= LOSS_BOUND and from_logits <= 1e-5,
          f"{what}: loss {printed:.6f} (cellforge) vs {torch_loss:.6f} (torch), |difference| {loss_difference:.1e}")
    check(meta[cm.VOCABULARY_KEY] == cm.escape_vocabulary(model.vocabulary), f"{what}: the logits file names the vocabulary")
    return torch_loss


def parameters(checkpoint):
    """The parameters of a checkpoint as (dtype, shape, bytes); the rest is optimizer state, carried
    state, ..., and the U64 RNG state, which torch 1.13 has no dtype for."""
    with open(checkpoint, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    return {name: (info["dtype"], info["shape"], data[8 + n + info["data_offsets"][0]:8 + n + info["data_offsets"][1]])
            for name, info in header.items() if name.startswith(("layer", "head.", "embedding"))}


def same_bits(a, b):
    if all(isinstance(v, tuple) for v in list(a.values()) + list(b.values())):
        return a == b
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and
                                        torch.equal(a[k].view(torch.int32), b[k].view(torch.int32)) for k in a)


train_common = ["--corpus", corpus, "--batch", "4", "--unroll", "16", "--iterations", "30", "--eval-every", "30",
                "--print-every", "30", "--sample-length", "0", "--threads", "1", "--lr", "1e-2", "--seed", "7"]

# ---- cellforge -> PyTorch ----------------------------------------------------------------------
models = [  # name, train options, the torch.nn module expected
    ("lstm1", ["--cell", "lstm", "--layers", "1", "--hidden", "16"], "torch.nn.LSTM(input_size=34, hidden_size=16, num_layers=1)"),
    ("lstm2e", ["--cell", "lstm", "--layers", "2", "--hidden", "12", "--embedding", "8", "--dropout", "0.2"],
     "torch.nn.LSTM(input_size=8, hidden_size=12, num_layers=2, dropout=0.2)"),
    ("gru2", ["--cell", "gru", "--layers", "2", "--hidden", "12"], "torch.nn.GRU(input_size=34, hidden_size=12, num_layers=2)"),
    ("gru1e", ["--cell", "gru", "--layers", "1", "--hidden", "16", "--embedding", "6"],
     "torch.nn.GRU(input_size=6, hidden_size=16, num_layers=1)"),
    ("rnn1", ["--cell", "rnn", "--layers", "1", "--hidden", "16"], "torch.nn.RNN(input_size=34, hidden_size=16, num_layers=1)"),
    ("relu2e", ["--cell", "rnn_relu", "--layers", "2", "--hidden", "10", "--embedding", "8", "--loss", "last"],
     "torch.nn.RNN(input_size=8, hidden_size=10, num_layers=2, nonlinearity='relu')"),
    ("lstmp2", ["--cell", "lstmp", "--layers", "2", "--hidden", "12", "--sizes", "P=6"],
     "torch.nn.LSTM(input_size=34, hidden_size=12, num_layers=2, proj_size=6)"),
]
V = len(set(corpus_bytes))
check(V == 34, f"the corpus has 34 distinct bytes ({V})")
for name, options, module in models:
    run("train", *train_common, *options, "--out", S(name))
    exported = run("export-torch", "--checkpoint", S(name + ".ckpt"), "--out", S(name + ".safetensors"))
    check(f"module   {module} as 'rnn.'" in exported.stdout, f"{name}: export-torch says the module ({module})")
    model = cm.load(S(name + ".safetensors"))  # load_state_dict(strict=True) inside
    check(model.vocabulary == bytes(sorted(set(corpus_bytes))), f"{name}: PyTorch reads the vocabulary back")
    compare(model, S(name + ".ckpt"), name, f"{name} cellforge -> torch")

    # export -> import -> the same parameters, and export again -> the same file tensors.
    run("import-torch", "--weights", S(name + ".safetensors"), "--out", S(name + ".back.ckpt"), "--vocabulary-from", corpus)
    check(same_bits(parameters(S(name + ".ckpt")), parameters(S(name + ".back.ckpt"))),
          f"{name}: export -> import gives the checkpoint's parameters bit for bit")
    run("export-torch", "--checkpoint", S(name + ".back.ckpt"), "--out", S(name + ".again.safetensors"))
    first, first_meta = st.read_file(S(name + ".safetensors"))
    again, again_meta = st.read_file(S(name + ".again.safetensors"))
    strip = lambda m: {k: v for k, v in m.items() if not k.startswith("checksum.") and k != "cellforge.iterations"}
    check(same_bits(first, again), f"{name}: export -> import -> export gives the same tensors bit for bit")
    check(strip(first_meta) == strip(again_meta), f"{name}: ... and the same metadata (but the iteration count)")

# Other prefixes: a submodule deeper down, and bare names.
for prefix, tag in (("encoder.gru.", "deep"), ("", "bare")):
    run("export-torch", "--checkpoint", S("gru2.ckpt"), "--out", S(f"gru2.{tag}.safetensors"), "--prefix", prefix)
    tensors, meta = st.read_file(S(f"gru2.{tag}.safetensors"))
    check(prefix + "weight_hh_l1" in tensors and meta[cm.PREFIX_KEY] == prefix,
          f"export-torch --prefix '{prefix}' puts the module's entries under it")
    compare(cm.load(S(f"gru2.{tag}.safetensors")), S("gru2.ckpt"), f"gru2.{tag}", f"gru2 with prefix '{prefix}' -> torch")
    run("import-torch", "--weights", S(f"gru2.{tag}.safetensors"), "--out", S(f"gru2.{tag}.ckpt"), "--vocabulary-from", corpus)
    check(same_bits(parameters(S("gru2.ckpt")), parameters(S(f"gru2.{tag}.ckpt"))),
          f"gru2 with prefix '{prefix}': export -> import gives the parameters bit for bit")

lstm2e = cm.load(S("lstm2e.safetensors"))
check(lstm2e.dropout.p == 0.2 and lstm2e.rnn.dropout == 0.2, "the dropout goes to the module and to the head's nn.Dropout")
check(cm.load(S("relu2e.safetensors")).loss_mode == "last_step", "the loss mode is kept")

# The Python side's own commands.
p = subprocess.run([sys.executable, SCRIPT, "score", S("gru2.safetensors"), "--text", text], capture_output=True, text=True)
printed = float(p.stdout.split("mean cross-entropy ")[1].split()[0]) if p.returncode == 0 else math.nan
check(abs(printed - cellforge_score(S("gru2.ckpt"), "gru2-again")[0]) <= LOSS_BOUND,
      "torch_char_model.py score prints the number cellforge score prints")
p = subprocess.run([sys.executable, SCRIPT, "sample", S("lstm1.safetensors"), "--prime", "the ", "--length", "40",
                    "--temperature", "0"], capture_output=True)
check(p.returncode == 0 and p.stdout.startswith(b"the ") and len(p.stdout) == 4 + 40 + 1, "torch_char_model.py sample runs")

# ---- PyTorch -> cellforge ----------------------------------------------------------------------
torch.manual_seed(20240611)
print("PyTorch seed 20240611", flush=True)


def adam_steps(model, steps, T=32, B=8):
    """A few optimizer steps on the corpus, as a user would train in PyTorch."""
    tokens = model.encode(corpus_bytes)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for step in range(steps):
        starts = torch.randint(0, len(tokens) - T - 1, (B,))
        idx = starts[None, :] + torch.arange(T)[:, None]
        out, _ = model(tokens[idx])
        loss = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), tokens[idx + 1].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def scaled(model, gain):
    with torch.no_grad():
        for t in model.parameters():
            t.mul_(gain)
    return model.eval()


pytorch_models = [  # name, model, how it is saved, extra import-torch options
    ("t_lstm2e", adam_steps(cm.CharModel.for_text(corpus_bytes, "LSTM", 24, 2, embedding_dim=10, dropout=0.1), 40), "save", []),
    ("t_gru1", scaled(cm.CharModel.for_text(corpus_bytes, "GRU", 20, 1), 2.0), "save", []),
    ("t_rnn2", scaled(cm.CharModel.for_text(corpus_bytes, "RNN_TANH", 16, 2, embedding_dim=5), 1.5), "save", []),
    ("t_relu1_bare", adam_steps(cm.CharModel.for_text(corpus_bytes, "RNN_RELU", 16, 1), 20), "bare", ["--nonlinearity", "relu"]),
    ("t_lstmp_nobias", scaled(cm.CharModel.for_text(corpus_bytes, "LSTM", 16, 1, embedding_dim=7, proj_size=5, bias=False), 2.0),
     "save", []),
    ("t_gru2_prefix", scaled(cm.CharModel.for_text(corpus_bytes, "GRU", 12, 2), 1.0), "prefix", []),
]
for name, model, how, extra in pytorch_models:
    path = S(name + ".safetensors")
    if how == "bare":  # a state_dict alone, as safetensors.torch.save_file(model.state_dict()) writes it
        st.save_file(cm.state_dict_of(model), path)
        extra = extra + ["--vocabulary-from", corpus]
    else:
        cm.save(model, path, prefix="encoder.gru." if how == "prefix" else cm.DEFAULT_PREFIX)
    imported = run("import-torch", "--weights", path, "--out", S(name + ".ckpt"), *extra)
    check(f"wrote    {S(name + '.ckpt')} at iteration 0" in imported.stdout, f"{name}: import-torch writes a checkpoint")
    compare(model, S(name + ".ckpt"), name, f"{name} torch -> cellforge")
    if model.rnn.bias:  # bias=False comes back as zero biases, which export writes (CharModel's rnn has bias=True)
        run("export-torch", "--checkpoint", S(name + ".ckpt"), "--out", S(name + ".back.safetensors"))
        back = cm.load(S(name + ".back.safetensors"))
        check(same_bits(cm.state_dict_of(model), cm.state_dict_of(back)),
              f"{name}: torch -> import -> export gives PyTorch's tensors bit for bit")

# ---- Fine-tuning an imported model -------------------------------------------------------------
t_model = pytorch_models[0][1]
imported = run("import-torch", "--weights", S("t_lstm2e.safetensors"), "--out", S("tune.ckpt"), "--vocabulary-from", corpus,
               "--batch", "4", "--unroll", "16", "--optimizer", "adam", "--lr", "2e-3", "--seed", "3")
check(f"fine-tune: cellforge train --resume {S('tune.ckpt')} --corpus {corpus}" in imported.stdout,
      "import-torch --vocabulary-from says how to fine-tune")
tuned = run("train", "--corpus", corpus, "--resume", S("tune.ckpt"), "--iterations", "20", "--eval-every", "10",
            "--print-every", "10", "--sample-length", "0", "--threads", "1", "--out", S("tuned"))
check(f"resumed  {S('tune.ckpt')} at iteration 0" in tuned.stdout, "train --resume takes the imported checkpoint")
with open(S("tuned.csv")) as f:
    rows = [line.split(",") for line in f.read().split()[1:]]
first_loss = float(rows[0][1])
check(first_loss < 0.8 * math.log(V), f"fine-tuning starts from the PyTorch model's loss ({first_loss:.3f} nats), "
                                      f"not a fresh model's (~{math.log(V):.3f})")
run("export-torch", "--checkpoint", S("tuned.ckpt"), "--out", S("tuned.safetensors"))
tuned_model = cm.load(S("tuned.safetensors"))
compare(tuned_model, S("tuned.ckpt"), "tuned", "fine-tuned in cellforge -> torch")
check(not same_bits(cm.state_dict_of(tuned_model), cm.state_dict_of(t_model)), "fine-tuning changed the weights")
no_corpus = run("import-torch", "--weights", S("t_lstm2e.safetensors"), "--out", S("nocorpus.ckpt"))
check("fine-tuning needs the text: import with --vocabulary-from CORPUS" in no_corpus.stdout,
      "import-torch without a corpus says fine-tuning needs one")
refused = run("train", "--corpus", corpus, "--resume", S("nocorpus.ckpt"), "--iterations", "2", expect=2)
check("to fine-tune, import again with --vocabulary-from CORPUS" in refused.stderr,
      "train --resume of a checkpoint imported without a corpus says to import again with one")
sampled = run("sample", "--checkpoint", S("nocorpus.ckpt"), "--length", "20", "--prime", "the ").stdout
check(sampled.startswith("the ") and len(sampled) == 4 + 20 + 1, "cellforge sample runs an imported model")

# ---- Edge cases of score ------------------------------------------------------------------------
one = write("one.txt", b"t")
p = run("score", "--checkpoint", S("lstm1.ckpt"), "--text", one, "--logits", S("one.safetensors"))
tensors, _ = st.read_file(S("one.safetensors"))
check("nothing to predict" in p.stdout and list(tensors["logits"].shape) == [1, V] and list(tensors["log_probs"].shape) == [0],
      "score of a 1-character text writes its logits and no prediction")


# ---- User errors --------------------------------------------------------------------------------
def refused_with(args, message, what, out=None):
    p = run(*args, expect=2)
    command = args[0]
    ok = p.stderr.startswith(f"cellforge {command}: error: ") and message in p.stderr
    if out is not None:
        ok = ok and not os.path.exists(out)
    check(ok, f"error: {what}")
    if not ok:
        print(p.stderr)


run("train", *train_common, "--cell", "peephole_lstm", "--layers", "1", "--hidden", "8", "--iterations", "2", "--out",
    S("peephole"))
refused_with(["export-torch", "--checkpoint", S("peephole.ckpt"), "--out", S("peephole.safetensors")],
             f"checkpoint '{S('peephole.ckpt')}' cannot be exported to PyTorch: layer 0's cell 'peephole_lstm' is not one "
             "that torch.nn has; PyTorch's state_dict names fit only the zoo cells rnn, rnn_relu, lstm, lstmp (proj_size) "
             "and gru", "a cell torch.nn lacks names the cells that can be exported", S("peephole.safetensors"))
refused_with(["export-torch", "--checkpoint", S("lstm1.safetensors"), "--out", S("x.safetensors")],
             f"--checkpoint '{S('lstm1.safetensors')}' is a PyTorch character model file (safetensors, format 'pt'), not a "
             f"cellforge checkpoint; make a checkpoint of it first: cellforge import-torch --weights {S('lstm1.safetensors')}",
             "export-torch of a PyTorch file", S("x.safetensors"))
refused_with(["score", "--checkpoint", S("t_relu1_bare.safetensors"), "--text", text],
             "--vocabulary-from TRAINING_TEXT", "score of a bare PyTorch state_dict says how to import it")
refused_with(["import-torch", "--weights", S("lstm1.ckpt"), "--out", S("x.ckpt")],
             f"safetensors file '{S('lstm1.ckpt')}' is a cellforge checkpoint (format 'cellforge.char_lm'), not a PyTorch "
             "model file", "import-torch of a cellforge checkpoint", S("x.ckpt"))
refused_with(["import-torch", "--weights", corpus, "--out", S("x.ckpt")], f"safetensors file '{corpus}'",
             "import-torch of a text file", S("x.ckpt"))
refused_with(["import-torch", "--weights", S("lstm1.safetensors"), "--out", S("x.ckpt"), "--vocabulary-from", other],
             f"differs from the 21 distinct characters of '{other}'", "a vocabulary that differs from the corpus's",
             S("x.ckpt"))
refused_with(["import-torch", "--weights", S("t_relu1_bare.safetensors"), "--out", S("x.ckpt"), "--nonlinearity", "relu",
              "--vocabulary-from", other],
             "the vocabulary has 21 characters but head.weight has 34 rows, one per character", "a bare file and a text "
             "with another vocabulary size", S("x.ckpt"))
refused_with(["import-torch", "--weights", S("t_relu1_bare.safetensors"), "--out", S("x.ckpt"), "--vocabulary-from", corpus],
             "give it with --nonlinearity tanh or --nonlinearity relu", "a bare nn.RNN file asks for its nonlinearity",
             S("x.ckpt"))
refused_with(["import-torch", "--weights", S("t_relu1_bare.safetensors"), "--out", S("x.ckpt"), "--nonlinearity", "relu"],
             "has no vocabulary (metadata 'cellforge.vocabulary')", "a file without a vocabulary asks for the text",
             S("x.ckpt"))
refused_with(["import-torch", "--weights", S("t_gru2_prefix.safetensors"), "--out", S("x.ckpt"), "--prefix", "rnn."],
             "its entries seem to be under 'encoder.gru.': import with --prefix 'encoder.gru.'", "a wrong prefix",
             S("x.ckpt"))
refused_with(["export-torch", "--checkpoint", S("lstm1.ckpt"), "--out", S("x.safetensors"), "--prefix", "rnn"],
             "--prefix 'rnn' is not a submodule's prefix", "an export prefix without its dot", S("x.safetensors"))
refused_with(["import-torch", "--weights", S("lstm1.safetensors"), "--out", S("x.ckpt"), "--prefix", "rnn"],
             "--prefix 'rnn' is not a submodule's prefix", "an import prefix without its dot", S("x.ckpt"))
bad_text = write("bad.txt", b"the cat sat on the mat: Q\n")
refused_with(["score", "--checkpoint", S("lstm1.ckpt"), "--text", bad_text],
             f"the text '{bad_text}' has the character 'Q' (at position 24) that the model's vocabulary lacks",
             "score of a text with a character the model lacks")
empty_text = write("empty.txt", b"")
refused_with(["score", "--checkpoint", S("lstm1.ckpt"), "--text", empty_text], f"the text '{empty_text}' is empty",
             "score of an empty text")

tensors, meta = st.read_file(S("lstm1.safetensors"))
meta = {k: v for k, v in meta.items() if not k.startswith("checksum.")}
st.save_file({k: v for k, v in tensors.items() if k != "head.bias"}, S("nobias.safetensors"), meta)
refused_with(["import-torch", "--weights", S("nobias.safetensors"), "--out", S("x.ckpt")],
             "missing tensor 'head.bias': the bias [V] of nn.Linear(16, V), the output layer\n  fix: write the whole model "
             "with scripts/torch_char_model.py's save(model, path)", "a missing head.bias", S("x.ckpt"))
nan = dict(tensors)
nan["head.weight"] = tensors["head.weight"].clone()
nan["head.weight"][2, 3] = float("nan")
st.save_file(nan, S("nan.safetensors"), meta)
refused_with(["import-torch", "--weights", S("nan.safetensors"), "--out", S("x.ckpt")],
             "tensor 'head.weight' holds NaN at element 35; cellforge imports finite weights only", "a NaN weight",
             S("x.ckpt"))
wrong = dict(tensors)
wrong["rnn.weight_hh_l0"] = torch.zeros(64, 15)
st.save_file(wrong, S("wrongshape.safetensors"), meta)
refused_with(["import-torch", "--weights", S("wrongshape.safetensors"), "--out", S("x.ckpt")],
             "tensor 'rnn.weight_hh_l0' is [64, 15] but the network needs [64, 16]", "a misshapen recurrent weight",
             S("x.ckpt"))
bidirectional = dict(meta)
bidirectional[st.MODULE_KEY] = bidirectional[st.MODULE_KEY].replace('"bidirectional":false', '"bidirectional":true')
st.save_file(tensors, S("bidirectional.safetensors"), bidirectional)
refused_with(["import-torch", "--weights", S("bidirectional.safetensors"), "--out", S("x.ckpt")],
             "has no bidirectional layers", "a bidirectional module", S("x.ckpt"))
try:
    cm.load(S("t_relu1_bare.safetensors"))
    check(False, "error: torch_char_model.load of a bare state_dict")
except cm.CharModelError as e:
    check("not a character model file" in str(e), "error: torch_char_model.load of a bare state_dict says what is missing")

print(f"worst over {len(models)} cellforge-trained and {len(pytorch_models)} PyTorch-made models on {len(text_bytes)} "
      f"characters: logits max |cellforge - torch| = {worst['logits']:.2e} (bound {LOGITS_BOUND:g}); "
      f"loss |difference| = {worst['loss']:.1e} as printed (6 decimals), {worst['loss_from_logits']:.1e} from the "
      f"written log-probabilities")
if failures:
    sys.exit(f"{len(failures)} check(s) failed")
