#!/usr/bin/python3
"""A cellforge character language model as a PyTorch module, and back.

`cellforge export-torch --checkpoint RUN.ckpt --out MODEL.safetensors` writes a trained model as the
state_dict of CharModel below; `cellforge import-torch --weights MODEL.safetensors --out RUN.ckpt`
reads one back into a cellforge checkpoint (to sample, score, or fine-tune with `train --resume`).

CharModel is what cellforge's language model computes (runtime/train/network.hpp), in torch.nn:

    tokens [T, B] --one-hot (X = V) or nn.Embedding(V, E)--> x [T, B, X]
           --nn.RNN / LSTM / GRU (batch_first=False)--> y [T, B, H] (P with proj_size)
           --nn.Dropout(p) (training only)--> nn.Linear(H, V)--> logits [T, B, V]

The file (safetensors; torch_safetensors.py reads and writes it with the standard library):

    embedding.weight        [V, E]     embedding input only
    rnn.weight_ih_l0 ...               the torch.nn module's own state_dict, under a prefix ("rnn.")
    head.weight, head.bias  [V, Y], [V]
    metadata (strings)      cellforge.torch_module  the module's constructor arguments, as JSON
                            cellforge.vocabulary    token k = the k-th smallest byte of the training
                                                    text; printable ASCII as itself except "\\" as
                                                    "\\\\", every other byte as "\\xHH"
                            cellforge.encoding      one_hot | embedding
                            cellforge.dropout       p before the upper layers and the head
                            cellforge.loss          every_step | last_step (how it was trained)
                            cellforge.prefix        where the module's entries are ("rnn.")
                            cellforge.char_model    "1", the layout's version; and a few for people

As a module (put scripts/ on sys.path; run with /usr/bin/python3, which has Debian's python3-torch):
    model = load(path)                      the CharModel a file holds, weights loaded strictly, eval()
    save(model, path, prefix="rnn.")        the same layout, for import-torch
    CharModel.for_text(text, "LSTM", hidden_size=..., num_layers=..., embedding_dim=0)
    logits(model, text) -> [N, V]           after reading characters 0..t from a zero state
    loss(model, text) -> float              mean cross-entropy (nats) of the N - 1 next characters
    sample(model, length, temperature, prime, seed) -> bytes
As a command:
    torch_char_model.py show MODEL.safetensors
    torch_char_model.py score MODEL.safetensors --text FILE [--logits OUT.safetensors]
    torch_char_model.py sample MODEL.safetensors [--length 200] [--temperature 0.8] [--prime TEXT] [--seed 1]
`score` prints the number `cellforge score` prints for the checkpoint the file came from.
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_safetensors as st  # noqa: E402

LAYOUT_VERSION = "1"
CHAR_MODEL_KEY = "cellforge.char_model"
PREFIX_KEY = "cellforge.prefix"
VOCABULARY_KEY = "cellforge.vocabulary"
VOCABULARY_SIZE_KEY = "cellforge.vocabulary_size"
ENCODING_KEY = "cellforge.encoding"
DROPOUT_KEY = "cellforge.dropout"
LOSS_KEY = "cellforge.loss"
MODULE_PYTHON_KEY = "cellforge.torch_module_python"
CELL_KEY = "cellforge.cell"
DEFAULT_PREFIX = "rnn."


class CharModelError(ValueError):
    """A file that is not a character model, or a text the model cannot read."""


def escape_vocabulary(symbols):
    """The vocabulary (bytes) as the metadata spells it."""
    out = []
    for c in symbols:
        if c == 0x5C:
            out.append("\\\\")
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        else:
            out.append(f"\\x{c:02x}")
    return "".join(out)


def unescape_vocabulary(text):
    """The bytes escape_vocabulary spelled; CharModelError for anything else."""
    out, i = bytearray(), 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            if not " " <= c <= "~":
                raise CharModelError(f"metadata '{VOCABULARY_KEY}' has {c!r} at {i}; every byte outside printable "
                                     f"ASCII is spelled \\xHH")
            out.append(ord(c))
            i += 1
        elif text[i + 1:i + 2] == "\\":
            out.append(0x5C)
            i += 2
        elif text[i + 1:i + 2] == "x" and len(text) >= i + 4 and all(h in "0123456789abcdefABCDEF" for h in text[i + 2:i + 4]):
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            raise CharModelError(f"metadata '{VOCABULARY_KEY}' has a backslash at {i} that starts neither \\\\ nor \\xHH")
    return bytes(out)


def vocabulary_of(text):
    """The vocabulary cellforge gives a text: its distinct bytes in increasing order."""
    return bytes(sorted(set(text)))


class CharModel(torch.nn.Module):
    """Input encoding -> torch.nn.RNN / LSTM / GRU -> dropout -> Linear head: cellforge's language model.

    vocabulary: bytes (distinct, increasing; token k = vocabulary[k]); rnn: the module's constructor
    arguments as torch_safetensors.module_description writes them; embedding_dim: 0 for one-hot
    input, else E; dropout: before the head (the module's own dropout is between its layers);
    loss: "every_step" or "last_step", kept for the round trip (the logits do not depend on it).
    """

    def __init__(self, vocabulary, rnn, embedding_dim=0, dropout=0.0, loss="every_step"):
        super().__init__()
        vocabulary = bytes(vocabulary)
        if list(vocabulary) != sorted(set(vocabulary)) or not vocabulary:
            raise CharModelError("the vocabulary must be distinct bytes in increasing order (vocabulary_of(text))")
        if loss not in ("every_step", "last_step"):
            raise CharModelError(f"loss is '{loss}', not every_step or last_step")
        self.vocabulary, self.loss_mode = vocabulary, loss
        V = len(vocabulary)
        self.embedding = torch.nn.Embedding(V, embedding_dim) if embedding_dim else None
        expected_input = embedding_dim or V
        if rnn["input_size"] != expected_input:
            raise CharModelError(f"the recurrent module takes input_size={rnn['input_size']} but "
                                 f"{'the embedding has ' + str(embedding_dim) if embedding_dim else 'one-hot input has V = ' + str(V)}"
                                 f" features")
        if rnn.get("bidirectional", False):
            raise CharModelError("a character language model reads forward in time: bidirectional=False")
        self.rnn = st.build_module(rnn)
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(rnn.get("proj_size", 0) or rnn["hidden_size"], V)
        self._index = {c: k for k, c in enumerate(vocabulary)}

    @classmethod
    def for_text(cls, text, mode="LSTM", hidden_size=128, num_layers=1, embedding_dim=0, dropout=0.0, proj_size=0,
                 bias=True, loss="every_step"):
        """A freshly initialized model for the vocabulary of `text` (bytes). mode: LSTM, GRU, RNN_TANH, RNN_RELU."""
        vocabulary = vocabulary_of(text)
        rnn = {"mode": mode, "input_size": embedding_dim or len(vocabulary), "hidden_size": hidden_size,
               "num_layers": num_layers, "bias": bias, "bidirectional": False, "proj_size": proj_size,
               "dropout": dropout if num_layers > 1 else 0.0}
        return cls(vocabulary, rnn, embedding_dim, dropout, loss)

    def encode(self, text):
        """The tokens [N] of `text` (bytes); CharModelError naming the first character the vocabulary lacks."""
        try:
            return torch.tensor([self._index[c] for c in text], dtype=torch.long)
        except KeyError as e:
            position = text.index(bytes([e.args[0]]))
            raise CharModelError(f"the text has the character {bytes([e.args[0]])!r} at byte {position}, which the "
                                 f"model's vocabulary of {len(self.vocabulary)} characters lacks") from None

    def forward(self, tokens, state=None):
        """tokens [T, B] (long) -> logits [T, B, V] and the final state (h, or (h, c) for an LSTM)."""
        if self.embedding is not None:
            x = self.embedding(tokens)
        else:
            x = torch.nn.functional.one_hot(tokens, len(self.vocabulary)).float()
        y, state = self.rnn(x, state)
        return self.head(self.dropout(y)), state


def _description(model):
    return st.module_description(model.rnn)


def state_dict_of(model, prefix=DEFAULT_PREFIX):
    """CharModel's state_dict with the recurrent module's entries under `prefix`, in cellforge's order."""
    tensors = {}
    if model.embedding is not None:
        tensors["embedding.weight"] = model.embedding.weight
    for name, t in model.rnn.state_dict().items():
        tensors[prefix + name] = t
    tensors["head.weight"] = model.head.weight
    tensors["head.bias"] = model.head.bias
    return {k: v.detach().float().contiguous() for k, v in tensors.items()}


def metadata_of(model, prefix=DEFAULT_PREFIX):
    description = _description(model)
    rnn = model.rnn
    python = f"torch.nn.{type(rnn).__name__}(input_size={rnn.input_size}, hidden_size={rnn.hidden_size}, " \
             f"num_layers={rnn.num_layers}"
    if description["mode"] == "RNN_RELU":
        python += ", nonlinearity='relu'"
    if not description["bias"]:
        python += ", bias=False"
    if description["dropout"]:
        python += f", dropout={description['dropout']:g}"
    if description["proj_size"]:
        python += f", proj_size={description['proj_size']}"
    return {
        "format": "pt", st.MODULE_KEY: json.dumps(description), MODULE_PYTHON_KEY: python + ")",
        CHAR_MODEL_KEY: LAYOUT_VERSION, PREFIX_KEY: prefix, VOCABULARY_KEY: escape_vocabulary(model.vocabulary),
        VOCABULARY_SIZE_KEY: str(len(model.vocabulary)),
        ENCODING_KEY: "embedding" if model.embedding is not None else "one_hot",
        DROPOUT_KEY: repr(float(model.dropout.p)), LOSS_KEY: model.loss_mode,
    }


def save(model, path, prefix=DEFAULT_PREFIX):
    """Writes `model` in the layout `cellforge import-torch` reads (and export-torch writes)."""
    st.save_file(state_dict_of(model, prefix), path, metadata_of(model, prefix))


def load(path):
    """The CharModel a file written by `cellforge export-torch` (or save) holds, in eval mode."""
    tensors, meta = st.read_file(path)
    where = f"{path}: "
    if st.MODULE_KEY not in meta or VOCABULARY_KEY not in meta:
        missing = [k for k in (st.MODULE_KEY, VOCABULARY_KEY) if k not in meta]
        raise CharModelError(where + f"no metadata {', '.join(repr(k) for k in missing)}: not a character model file "
                                     f"(write one with cellforge export-torch or torch_char_model.save)")
    if meta.get(CHAR_MODEL_KEY, LAYOUT_VERSION) != LAYOUT_VERSION:
        raise CharModelError(where + f"layout version {meta[CHAR_MODEL_KEY]}; this script reads {LAYOUT_VERSION}")
    prefix = meta.get(PREFIX_KEY, DEFAULT_PREFIX)
    vocabulary = unescape_vocabulary(meta[VOCABULARY_KEY])
    embedding = tensors.get("embedding.weight")
    rnn = json.loads(meta[st.MODULE_KEY])
    # Without the dropout entry, the head's dropout is the module's (as import-torch reads such a file).
    default_dropout = rnn.get("dropout", 0.0) if rnn.get("num_layers", 1) > 1 else 0.0
    model = CharModel(vocabulary, rnn, embedding_dim=embedding.shape[1] if embedding is not None else 0,
                      dropout=float(meta.get(DROPOUT_KEY, default_dropout)), loss=meta.get(LOSS_KEY, "every_step"))
    state = {}
    for name, t in tensors.items():
        if name in ("embedding.weight", "head.weight", "head.bias"):
            state[name] = t
        elif name.startswith(prefix):
            state["rnn." + name[len(prefix):]] = t
        else:
            raise CharModelError(where + f"tensor '{name}' is neither under the prefix '{prefix}' nor head.* / embedding.*")
    model.load_state_dict(state, strict=True)
    return model.eval()


@torch.no_grad()
def logits(model, text):
    """[N, V]: row t holds the logits after reading characters 0..t of `text` (bytes) from a zero
    state, without dropout: what `cellforge score --logits` writes."""
    was_training = model.training
    model.eval()
    out, _ = model(model.encode(text)[:, None])
    model.train(was_training)
    return out[:, 0, :]


def loss(model, text):
    """The mean cross-entropy in nats of characters 1..N-1 of `text` given the ones before them."""
    tokens = model.encode(text)
    if len(tokens) < 2:
        raise CharModelError("the text needs at least 2 characters to predict one")
    scores = logits(model, text)[:-1].double()
    return torch.nn.functional.cross_entropy(scores, tokens[1:]).item()


@torch.no_grad()
def sample(model, length=200, temperature=0.8, prime=b"", seed=1):
    """`length` bytes after `prime`; temperature 0 picks the most likely character."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    prime = prime or model.vocabulary[:1]
    out, state = model(model.encode(prime)[:, None])
    scores, text = out[-1, 0], bytearray(prime)
    for _ in range(length):
        if temperature == 0:
            token = int(scores.argmax())
        else:
            token = int(torch.multinomial(torch.softmax(scores.double() / temperature, 0), 1, generator=generator))
        text.append(model.vocabulary[token])
        out, state = model(torch.tensor([[token]]), state)
        scores = out[-1, 0]
    return bytes(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="the model a file holds")
    show.add_argument("model")
    score = sub.add_parser("score", help="mean cross-entropy of a text, as `cellforge score`")
    score.add_argument("model")
    score.add_argument("--text", required=True)
    score.add_argument("--logits", help="write logits [N, V] and log_probs [N - 1] as safetensors")
    gen = sub.add_parser("sample", help="generate text")
    gen.add_argument("model")
    gen.add_argument("--length", type=int, default=200)
    gen.add_argument("--temperature", type=float, default=0.8)
    gen.add_argument("--prime", default="")
    gen.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    try:
        model = load(args.model)
        if args.command == "show":
            print(model)
            print(f"vocabulary: {len(model.vocabulary)} characters {model.vocabulary!r}; loss {model.loss_mode}")
            print(f"parameters: {sum(t.numel() for t in model.parameters())}")
        elif args.command == "score":
            with open(args.text, "rb") as f:
                text = f.read()
            value = loss(model, text)
            print(f"score    {len(text)} characters of {args.text}: mean cross-entropy {value:.6f} nats/char "
                  f"({value / math.log(2):.4f} bits/char) over {len(text) - 1} predictions")
            if args.logits:
                scores = logits(model, text)
                log_probs = torch.log_softmax(scores[:-1].double(), 1).gather(1, model.encode(text)[1:, None])[:, 0]
                st.save_file({"logits": scores, "log_probs": log_probs.float()}, args.logits,
                             {VOCABULARY_KEY: escape_vocabulary(model.vocabulary)})
        else:
            sys.stdout.buffer.write(sample(model, args.length, args.temperature, args.prime.encode(), args.seed) + b"\n")
    except (CharModelError, OSError) as e:
        sys.exit(f"torch_char_model {args.command}: error: {e}")


if __name__ == "__main__":
    main()
