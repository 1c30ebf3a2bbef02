#!/usr/bin/python3
"""The PyTorch twin of `cellforge train`: the same character-level language model trained the same way,
so the two can be compared on loss and speed (scripts/compare_with_torch.py runs both).

Same as cellforge, step for step:
  * vocabulary = the sorted distinct bytes of the corpus; one-hot input (char-rnn's);
  * split: the first 95 % of the text trains, the last 5 % validates (contiguous blocks);
  * batching: each part cut into B streams of equal length, batch k = the next T characters of every
    stream, target = the next character; the LSTM state is carried from batch to batch (truncated
    BPTT) and reset to zero when a pass over the training text starts again;
  * model: nn.LSTM(V, H, L) (gates i, f, g, o, two biases: the zoo's `lstm`) and a Linear head;
  * init: every parameter uniform(-0.08, 0.08), then the forget-gate rows [H, 2H) of bias_ih = 1
    (char-rnn sets the input-to-hidden forget bias); or, with --init CHECKPOINT, the exact initial
    parameters of a cellforge checkpoint (iteration 0), for a tight comparison;
  * loss: mean cross-entropy over all T x B predictions;
  * RMSprop (lr 2e-3, alpha 0.95, eps 1e-8 - char-rnn's optim.rmsprop and torch.optim.RMSprop are
    the same update), gradients clipped by value at 5 (char-rnn's grad_clip; --clip-norm for the
    global norm instead), a step with a non-finite gradient skipped;
  * validation: every validation batch from a zero state, state carried, mean loss.

Writes the loss curve as CSV (iteration,train_loss,val_loss) and prints a JSON summary line.
Needs Debian's python3-torch (run with /usr/bin/python3).
"""
import argparse
import json
import math
import struct
import sys
import time

import torch


def load_corpus(path):
    with open(path, "rb") as f:
        text = f.read()
    if not text:
        sys.exit(f"torch_char_rnn: the corpus '{path}' is empty")
    symbols = sorted(set(text))
    index = {c: i for i, c in enumerate(symbols)}
    return bytes(symbols), torch.tensor([index[c] for c in text], dtype=torch.long)


class Stream:
    """B parallel streams over a token sequence, T steps per batch (cellforge's BatchStream)."""

    def __init__(self, tokens, batch, unroll):
        n = len(tokens)
        self.stream_length = (n - 1) // batch if n > 0 else 0
        self.batches = self.stream_length // unroll
        self.tokens, self.batch, self.unroll = tokens, batch, unroll

    def get(self, k):
        starts = torch.arange(self.batch) * self.stream_length + k * self.unroll
        idx = starts[None, :] + torch.arange(self.unroll)[:, None]  # [T, B]
        return self.tokens[idx], self.tokens[idx + 1]


class CharLM(torch.nn.Module):
    def __init__(self, vocab, hidden, layers):
        super().__init__()
        self.vocab = vocab
        self.lstm = torch.nn.LSTM(vocab, hidden, layers)
        self.head = torch.nn.Linear(hidden, vocab)

    def forward(self, tokens, state):
        x = torch.nn.functional.one_hot(tokens, self.vocab).float()
        y, state = self.lstm(x, state)
        return self.head(y), state


def read_cellforge_checkpoint(path):
    """The float tensors and the vocabulary of a cellforge checkpoint (safetensors layout)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = bytearray(data[base + begin:base + end])
        if info["dtype"] == "F32":
            tensors[name] = torch.frombuffer(raw, dtype=torch.float32).reshape(info["shape"]).clone()
        elif info["dtype"] == "U8":
            tensors[name] = bytes(raw)
    return tensors


def initialize(model, args, vocabulary):
    if args.init:
        t = read_cellforge_checkpoint(args.init)
        if t["vocabulary"] != vocabulary:
            sys.exit("torch_char_rnn: the checkpoint's vocabulary differs from the corpus's")
        with torch.no_grad():
            for l in range(args.layers):
                getattr(model.lstm, f"weight_ih_l{l}").copy_(t[f"layer{l}.W_ih"])
                getattr(model.lstm, f"weight_hh_l{l}").copy_(t[f"layer{l}.W_hh"])
                getattr(model.lstm, f"bias_ih_l{l}").copy_(t[f"layer{l}.b_ih"])
                getattr(model.lstm, f"bias_hh_l{l}").copy_(t[f"layer{l}.b_hh"])
            model.head.weight.copy_(t["head.W"])
            model.head.bias.copy_(t["head.b"])
        return
    torch.manual_seed(args.seed)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-args.init_scale, args.init_scale)
        for l in range(args.layers):
            getattr(model.lstm, f"bias_ih_l{l}")[args.hidden:2 * args.hidden] = 1.0


def validate(model, stream, args):
    state = None
    total = 0.0
    n = stream.batches if args.val_batches <= 0 else min(args.val_batches, stream.batches)
    with torch.no_grad():
        for k in range(n):
            x, y = stream.get(k)
            logits, state = model(x, state)
            total += torch.nn.functional.cross_entropy(logits.reshape(-1, model.vocab), y.reshape(-1)).item()
    return total / n


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", required=True)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--unroll", type=int, default=50)
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--decay", type=float, default=0.95, help="RMSprop alpha")
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--clip", type=float, default=5.0, help="clip each gradient element to [-v, v]; 0 = off")
    p.add_argument("--clip-norm", type=float, default=0.0, help="clip the global gradient norm; 0 = off")
    p.add_argument("--val-fraction", type=float, default=0.05)
    p.add_argument("--val-batches", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--init-scale", type=float, default=0.08)
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--init", help="take the initial parameters from this cellforge checkpoint")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--csv", required=True)
    p.add_argument("--print-every", type=int, default=50)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    vocabulary, tokens = load_corpus(args.corpus)
    n_val = int(len(tokens) * args.val_fraction)
    train = Stream(tokens[:len(tokens) - n_val], args.batch, args.unroll)
    val = Stream(tokens[len(tokens) - n_val:], args.batch, args.unroll) if n_val > args.batch * args.unroll else None
    if train.batches < 1:
        sys.exit("torch_char_rnn: the training text is too short for one batch")
    model = CharLM(len(vocabulary), args.hidden, args.layers)
    initialize(model, args, vocabulary)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr, alpha=args.decay, eps=args.eps)

    rows = {}
    state, batch_index, train_seconds, clipped, refused = None, 0, 0.0, 0, 0
    val_loss = float("nan")
    for it in range(1, args.iterations + 1):
        start = time.perf_counter()
        x, y = train.get(batch_index)
        logits, state = model(x, state)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, model.vocab), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        grads = [q.grad for q in model.parameters()]
        if all(torch.isfinite(g).all() for g in grads):
            if args.clip > 0:
                if any((g.abs() > args.clip).any() for g in grads):
                    clipped += 1
                torch.nn.utils.clip_grad_value_(model.parameters(), args.clip)
            if args.clip_norm > 0:
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_norm)
                clipped += int(norm > args.clip_norm)
            optimizer.step()
        else:
            refused += 1
        state = tuple(s.detach() for s in state)
        batch_index += 1
        if batch_index == train.batches:
            batch_index, state = 0, None
        train_seconds += time.perf_counter() - start
        rows[it] = [loss.item(), None]
        if val and (it % args.eval_every == 0 or it == args.iterations):
            val_loss = validate(model, val, args)
            rows[it][1] = val_loss
        if it % args.print_every == 0 or it == args.iterations:
            rate = it * args.batch * args.unroll / train_seconds
            print(f"torch iter {it:6d}/{args.iterations}  train {loss.item():.4f}  val {val_loss:.4f}  {rate / 1000:.1f}k chars/s",
                  flush=True)
    with open(args.csv, "w") as f:
        f.write("iteration,train_loss,val_loss\n")
        for it, (tl, vl) in rows.items():
            f.write(f"{it},{tl:.9g},{'' if vl is None else f'{vl:.9g}'}\n")
    summary = {"iterations": args.iterations, "val_loss": val_loss,
               "train_chars_per_second": args.iterations * args.batch * args.unroll / train_seconds,
               "train_seconds": train_seconds, "clipped_steps": clipped, "refused_steps": refused,
               "threads": torch.get_num_threads(), "torch": torch.__version__}
    print("SUMMARY " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
