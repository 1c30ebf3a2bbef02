#!/usr/bin/python3
"""torch_rnn.py — times the RNN part of one training step in PyTorch 1.13 (Debian's python3-torch).

What it measures: forward of a stack of L recurrent layers over T steps, then the backward pass
computing the gradients of every weight, of the input sequence and of the initial states, float32,
on the CPU. Timed per repetition: clearing the .grad fields, forward, backward. One JSON object per
line on stdout (peer, cell, sizes, threads, ms_median, ms_min, ms_all, fwd/bwd medians, BLAS core).
Why: PyTorch is what most people run; its TorchScript loop of tensor ops is what a person defining
a *new* cell gets today. Both are peers of cellforge (see /work/shared/research/perf-peers.md).

Peers
  --peer torch        nn.RNN (tanh), nn.LSTM, nn.GRU                     cells: rnn lstm gru
  --peer torchscript  the cells below as a time loop of tensor ops compiled with torch.jit.script
                      cells: rnn lstm gru peephole_lstm layernorm_lstm layernorm_lstm_summed
                      --hoist computes W·x_t for all t as one matmul before the loop (the
                      optimisation cellforge applies automatically); default: per step, as in
                      PyTorch's own custom-cell template (benchmarks/fastrnns/custom_lstms.py).
                      Like the template, the loop reads x.unbind(0): indexing x[t] instead makes
                      the backward build a zero-filled (T, B, ·) gradient per step (O(T²) traffic).

TorchScript cells, per layer, for t = 1..T (σ = logistic sigmoid, ⊙ = elementwise product;
W: (G·H, in), U: (G·H, H); "chunk" splits a G·H vector into G blocks of H in the order given):
  rnn             h_t = tanh(W x_t + U h_{t-1} + b)
  lstm            [z_i, z_f, z_g, z_o] = W x_t + U h_{t-1} + b
                  i = σ(z_i)  f = σ(z_f)  g = tanh(z_g)  o = σ(z_o)
                  c_t = f ⊙ c_{t-1} + i ⊙ g ;  h_t = o ⊙ tanh(c_t)
  peephole_lstm   [z_i, z_f, z_g, z_o] = W x_t + U h_{t-1} + b ; p_i, p_f, p_o ∈ R^H
                  i = σ(z_i + p_i ⊙ c_{t-1})  f = σ(z_f + p_f ⊙ c_{t-1})  g = tanh(z_g)
                  c_t = f ⊙ c_{t-1} + i ⊙ g
                  o = σ(z_o + p_o ⊙ c_t) ;  h_t = o ⊙ tanh(c_t)
  layernorm_lstm  LN(a; γ, β) = γ ⊙ (a − mean(a)) / sqrt(var(a) + 1e-5) + β   (over the features of
                  each row; var is the biased variance, as torch.layer_norm)
                  [z_i, z_f, z_g, z_o] = LN(W x_t; γ_x, β_x) + LN(U h_{t-1}; γ_h, β_h)
                  (γ_x, β_x, γ_h, β_h ∈ R^{4H}; no other bias) — cellforge's zoo cell of this name
                  i = σ(z_i)  f = σ(z_f)  g = tanh(z_g)  o = σ(z_o)
                  c_t = f ⊙ c_{t-1} + i ⊙ g                 (the carried state is not normalised)
                  h_t = o ⊙ tanh(LN(c_t; γ_c, β_c))          (γ_c, β_c ∈ R^H)
  layernorm_lstm_summed
                  as layernorm_lstm, but one normalisation of the summed pre-activations:
                  [z_i, z_f, z_g, z_o] = LN(W x_t + U h_{t-1}; γ_g, β_g)   (γ_g, β_g ∈ R^{4H})
  gru             [a_r, a_z, a_n] = W x_t + b_W ; [u_r, u_z, u_n] = U h_{t-1} + b_U
                  r = σ(a_r + u_r)  z = σ(a_z + u_z)  n = tanh(a_n + r ⊙ u_n)
                  h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}           (nn.GRU's form = oneDNN's lbr_gru)
  Layer l > 1 reads the outputs h_1..h_T of layer l − 1 as its x_1..x_T; y = outputs of layer L.

The loss gradient: backward is run as y.backward(dy) with a fixed random dy, which computes the
same gradients as ((y * dy).sum()).backward() without timing the extra product and sum.

Environment (traps in perf-peers.md): --threads N sets torch.set_num_threads(N) and, because they
are read when the libraries load / the process starts, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
MKL_NUM_THREADS, OMP_WAIT_POLICY=PASSIVE (N > 1) and larger glibc malloc thresholds
(MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_). If any is missing the script re-executes itself
with them (run_peers.sh sets them already); values already set are kept, except thread counts.
--raw-env skips this. Debian's torch links libblas.so.3: without OpenBLAS installed that is the
reference BLAS, ~7× slower; the JSON field "blas" names the BLAS core in use.

Checks (no timing; print one JSON line each with the max abs differences, exit 1 on failure):
  --check-onednn BIN   run BIN (onednn_rnn) in --check mode on the same weights, inputs and dy as
                       a float64 PyTorch reference; compare y and every gradient (cells rnn, lstm,
                       gru = nn modules; gru_classic = a small eager reference of oneDNN's GRU).
  --check-torchscript  compare the TorchScript cells (y and every gradient, float64) with
                       nn.RNN/LSTM/GRU on the same weights, peephole_lstm with zero peepholes with
                       nn.LSTM, and the layer-norm LSTMs with an eager transcription of the equations.

Usage: /usr/bin/python3 torch_rnn.py --peer torch --cell lstm --T 50 --B 32 --X 256 --H 256 --L 2
           --threads 2 [--reps 10] [--warmup 3] [--hoist]
"""
import argparse
import json
import os
import sys
import time

MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20),   # glibc's maximum (HEAP_MAX_SIZE / 2)
              "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
NN_CELLS = ("rnn", "lstm", "gru")
SCRIPT_CELLS = ("rnn", "lstm", "gru", "peephole_lstm", "layernorm_lstm", "layernorm_lstm_summed")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--peer", choices=("torch", "torchscript"), default="torch")
    p.add_argument("--cell", default="lstm")
    for name, default in (("T", 50), ("B", 32), ("X", 256), ("H", 256), ("L", 1)):
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--hoist", action="store_true", help="torchscript: W·x for all t before the loop")
    p.add_argument("--raw-env", action="store_true", help="do not fix the environment")
    p.add_argument("--check-onednn", metavar="BIN")
    p.add_argument("--check-torchscript", action="store_true")
    a = p.parse_args()
    if min(a.T, a.B, a.X, a.H, a.L, a.threads, a.reps) < 1 or a.warmup < 0:
        p.error("sizes, --threads and --reps must be >= 1, --warmup >= 0")
    if not (a.check_onednn or a.check_torchscript):
        allowed = NN_CELLS if a.peer == "torch" else SCRIPT_CELLS
        if a.cell not in allowed:
            p.error(f"peer {a.peer} has cells {', '.join(allowed)}")
    return a


def ensure_env(threads):
    """Re-exec with the thread/malloc environment if it is not in place (must precede torch)."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    if threads > 1:
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for var, value in MALLOC_ENV.items():
        env.setdefault(var, value)
    if env != dict(os.environ):
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


ARGS = parse_args()
if not ARGS.raw_env:
    ensure_env(ARGS.threads)

import torch  # noqa: E402  (after the environment is fixed)
from torch import Tensor  # noqa: E402
from typing import List  # noqa: E402

# ------------------------------------------------------------------------------------------------
# TorchScript cells: one scripted function per cell runs a whole layer (the time loop)
# ------------------------------------------------------------------------------------------------


@torch.jit.script
def rnn_layer(x: Tensor, h: Tensor, W: Tensor, U: Tensor, b: Tensor, hoist: bool) -> Tensor:
    Wt, Ut = W.t(), U.t()
    xs = (torch.matmul(x, Wt) + b if hoist else x).unbind(0)  # unbind: one backward node
    ys: List[Tensor] = []
    for t in range(len(xs)):
        gx = xs[t] if hoist else torch.addmm(b, xs[t], Wt)
        h = torch.tanh(gx + torch.mm(h, Ut))
        ys.append(h)
    return torch.stack(ys)


@torch.jit.script
def lstm_layer(x: Tensor, h: Tensor, c: Tensor, W: Tensor, U: Tensor, b: Tensor,
               hoist: bool) -> Tensor:
    Wt, Ut = W.t(), U.t()
    xs = (torch.matmul(x, Wt) + b if hoist else x).unbind(0)  # unbind: one backward node
    ys: List[Tensor] = []
    for t in range(len(xs)):
        gx = xs[t] if hoist else torch.addmm(b, xs[t], Wt)
        zi, zf, zg, zo = (gx + torch.mm(h, Ut)).chunk(4, 1)
        c = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
        h = torch.sigmoid(zo) * torch.tanh(c)
        ys.append(h)
    return torch.stack(ys)


@torch.jit.script
def peephole_lstm_layer(x: Tensor, h: Tensor, c: Tensor, W: Tensor, U: Tensor, b: Tensor,
                        p_i: Tensor, p_f: Tensor, p_o: Tensor, hoist: bool) -> Tensor:
    Wt, Ut = W.t(), U.t()
    xs = (torch.matmul(x, Wt) + b if hoist else x).unbind(0)  # unbind: one backward node
    ys: List[Tensor] = []
    for t in range(len(xs)):
        gx = xs[t] if hoist else torch.addmm(b, xs[t], Wt)
        zi, zf, zg, zo = (gx + torch.mm(h, Ut)).chunk(4, 1)
        i = torch.sigmoid(zi + p_i * c)
        f = torch.sigmoid(zf + p_f * c)
        c = f * c + i * torch.tanh(zg)
        h = torch.sigmoid(zo + p_o * c) * torch.tanh(c)
        ys.append(h)
    return torch.stack(ys)


@torch.jit.script
def layernorm_lstm_layer(x: Tensor, h: Tensor, c: Tensor, W: Tensor, U: Tensor, gamma_x: Tensor,
                         beta_x: Tensor, gamma_h: Tensor, beta_h: Tensor, gamma_c: Tensor,
                         beta_c: Tensor, hoist: bool) -> Tensor:
    Wt, Ut = W.t(), U.t()
    G, H = gamma_x.size(0), gamma_c.size(0)
    # LN(W x_t) depends on x_t alone: with --hoist it is computed for all t before the loop.
    xs = (torch.layer_norm(torch.matmul(x, Wt), [G], gamma_x, beta_x, 1e-5) if hoist
          else x).unbind(0)  # unbind: one backward node
    ys: List[Tensor] = []
    for t in range(len(xs)):
        gx = xs[t] if hoist else torch.layer_norm(torch.mm(xs[t], Wt), [G], gamma_x, beta_x, 1e-5)
        z = gx + torch.layer_norm(torch.mm(h, Ut), [G], gamma_h, beta_h, 1e-5)
        zi, zf, zg, zo = z.chunk(4, 1)
        c = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
        h = torch.sigmoid(zo) * torch.tanh(torch.layer_norm(c, [H], gamma_c, beta_c, 1e-5))
        ys.append(h)
    return torch.stack(ys)


@torch.jit.script
def layernorm_lstm_summed_layer(x: Tensor, h: Tensor, c: Tensor, W: Tensor, U: Tensor,
                                gamma_g: Tensor, beta_g: Tensor, gamma_c: Tensor, beta_c: Tensor,
                                hoist: bool) -> Tensor:
    Wt, Ut = W.t(), U.t()
    G, H = gamma_g.size(0), gamma_c.size(0)
    xs = (torch.matmul(x, Wt) if hoist else x).unbind(0)  # unbind: one backward node
    ys: List[Tensor] = []
    for t in range(len(xs)):
        gx = xs[t] if hoist else torch.mm(xs[t], Wt)
        z = torch.layer_norm(gx + torch.mm(h, Ut), [G], gamma_g, beta_g, 1e-5)
        zi, zf, zg, zo = z.chunk(4, 1)
        c = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
        h = torch.sigmoid(zo) * torch.tanh(torch.layer_norm(c, [H], gamma_c, beta_c, 1e-5))
        ys.append(h)
    return torch.stack(ys)


@torch.jit.script
def gru_layer(x: Tensor, h: Tensor, W: Tensor, U: Tensor, b_W: Tensor, b_U: Tensor,
              hoist: bool) -> Tensor:
    Wt, Ut = W.t(), U.t()
    xs = (torch.matmul(x, Wt) + b_W if hoist else x).unbind(0)  # unbind: one backward node
    ys: List[Tensor] = []
    for t in range(len(xs)):
        gx = xs[t] if hoist else torch.addmm(b_W, xs[t], Wt)
        ar, az, an = gx.chunk(3, 1)
        ur, uz, un = torch.addmm(b_U, h, Ut).chunk(3, 1)
        r = torch.sigmoid(ar + ur)
        z = torch.sigmoid(az + uz)
        n = torch.tanh(an + r * un)
        h = (1.0 - z) * n + z * h
        ys.append(h)
    return torch.stack(ys)


GATES = {"rnn": 1, "lstm": 4, "gru": 3, "gru_classic": 3, "peephole_lstm": 4, "layernorm_lstm": 4,
         "layernorm_lstm_summed": 4}


def script_params(cell, X, H, L, gen, dtype=torch.float32):
    """Per-layer parameter lists, in the argument order of the *_layer functions above."""
    k = H ** -0.5
    G = GATES[cell]

    def u(*shape, lo=-k, hi=k):  # float32 values even in float64, so that checks are exact
        t = torch.rand(*shape, generator=gen) * (hi - lo) + lo
        return t.to(dtype).requires_grad_()

    layers = []
    for l in range(L):
        inp = X if l == 0 else H
        W, U = u(G * H, inp), u(G * H, H)
        if cell == "layernorm_lstm":
            layers.append([W, U, u(G * H, lo=0.9, hi=1.1), u(G * H), u(G * H, lo=0.9, hi=1.1),
                           u(G * H), u(H, lo=0.9, hi=1.1), u(H)])
        elif cell == "layernorm_lstm_summed":
            layers.append([W, U, u(G * H, lo=0.9, hi=1.1), u(G * H), u(H, lo=0.9, hi=1.1), u(H)])
        elif cell == "gru":
            layers.append([W, U, u(G * H), u(G * H)])
        elif cell == "peephole_lstm":
            layers.append([W, U, u(G * H), u(H), u(H), u(H)])
        else:
            layers.append([W, U, u(G * H)])
    return layers


def script_forward(cell, layers, hoist):
    """Returns f(x, h0, c0) -> y running the scripted layer function of `cell` L times."""
    fn = {"rnn": rnn_layer, "lstm": lstm_layer, "gru": gru_layer,
          "peephole_lstm": peephole_lstm_layer, "layernorm_lstm": layernorm_lstm_layer,
          "layernorm_lstm_summed": layernorm_lstm_summed_layer}[cell]
    has_c = "lstm" in cell

    def forward(x, h0, c0):
        for l, p in enumerate(layers):
            states = (h0[l], c0[l]) if has_c else (h0[l],)
            x = fn(x, *states, *p, hoist)
        return x
    return forward


def nn_forward(cell, X, H, L):
    """nn.RNN / nn.LSTM / nn.GRU and f(x, h0, c0) -> y."""
    if cell == "rnn":
        m = torch.nn.RNN(X, H, L, nonlinearity="tanh")
    else:
        m = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](X, H, L)

    def forward(x, h0, c0):
        return m(x, (h0, c0) if cell == "lstm" else h0)[0]
    return m, forward


def inputs(T, B, X, H, L, gen, dtype=torch.float32):
    """x, h0, c0 (all requiring gradients) and dy, uniform in [-1, 1)."""
    def u(*s):  # float32 values even in float64, so that checks are exact
        return (torch.rand(*s, generator=gen) * 2 - 1).to(dtype)
    x, h0, c0, dy = u(T, B, X), u(L, B, H), u(L, B, H), u(T, B, H)
    return x.requires_grad_(), h0.requires_grad_(), c0.requires_grad_(), dy


# ------------------------------------------------------------------------------------------------
# Timing
# ------------------------------------------------------------------------------------------------

def blas_core():
    """Name of the BLAS torch uses (OpenBLAS core type, or the library file)."""
    import ctypes
    libs = [ln.split()[-1] for ln in open("/proc/self/maps") if "blas" in ln.split()[-1]]
    for path in dict.fromkeys(libs):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return "openblas-" + lib.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return os.path.basename(libs[0]) if libs else "none"


def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def run_timing(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(1234)  # nn modules initialise from the global generator
    gen = torch.Generator().manual_seed(1234)
    x, h0, c0, dy = inputs(a.T, a.B, a.X, a.H, a.L, gen)
    if a.peer == "torch":
        module, forward = nn_forward(a.cell, a.X, a.H, a.L)
        params = list(module.parameters())
    else:
        layers = script_params(a.cell, a.X, a.H, a.L, gen)
        forward = script_forward(a.cell, layers, a.hoist)
        params = [p for layer in layers for p in layer]
    leaves = params + [x, h0, c0]  # c0 gets no gradient unless the cell is an LSTM

    fwd, bwd = [], []
    # TorchScript's profiling executor specialises a graph on the first two calls: warm up >= 2.
    warmup = max(a.warmup, 2) if a.peer == "torchscript" else a.warmup
    for r in range(warmup + a.reps):
        t0 = time.perf_counter()
        for p in leaves:
            p.grad = None
        y = forward(x, h0, c0)
        t1 = time.perf_counter()
        y.backward(dy)
        t2 = time.perf_counter()
        if r >= warmup:
            fwd.append((t1 - t0) * 1e3)
            bwd.append((t2 - t1) * 1e3)

    checked = [y] + [p.grad for p in leaves if p.grad is not None]
    if not all(bool(torch.isfinite(t).all()) for t in checked):
        print("torch_rnn: non-finite values in output or gradients", file=sys.stderr)
        return 1
    if len(checked) < len(params) + 3:  # every weight, x, h0 (and c0 for LSTMs) need a gradient
        print("torch_rnn: some gradients were not computed", file=sys.stderr)
        return 1
    total = [f + b for f, b in zip(fwd, bwd)]
    out = {"peer": a.peer, "cell": a.cell, "T": a.T, "B": a.B, "X": a.X, "H": a.H, "L": a.L,
           "threads": torch.get_num_threads(), "ms_median": round(median(total), 3),
           "ms_min": round(min(total), 3), "ms_all": [round(t, 3) for t in total],
           "fwd_ms_median": round(median(fwd), 3), "bwd_ms_median": round(median(bwd), 3),
           "blas": blas_core(), "torch": torch.__version__}
    if a.peer == "torchscript":
        out["hoist"] = a.hoist
    print(json.dumps(out), flush=True)
    return 0


# ------------------------------------------------------------------------------------------------
# Checks
# ------------------------------------------------------------------------------------------------

def max_abs(a, b):
    return float((a.double() - b.double()).abs().max())


def grads(y, dy, tensors):
    return torch.autograd.grad(y, tensors, dy, allow_unused=True)


def classic_gru_forward(layers, x, h0):
    """oneDNN's original GRU (gates u, r, o), eager; W (3H, in), U (3H, H), b (3H)."""
    for l, (W, U, b) in enumerate(layers):
        h, ys = h0[l], []
        Wu, Wr, Wo = W.chunk(3, 0)
        Uu, Ur, Uo = U.chunk(3, 0)
        bu, br, bo = b.chunk(3, 0)
        for t in range(x.size(0)):
            u = torch.sigmoid(x[t] @ Wu.t() + h @ Uu.t() + bu)
            r = torch.sigmoid(x[t] @ Wr.t() + h @ Ur.t() + br)
            o = torch.tanh(x[t] @ Wo.t() + (r * h) @ Uo.t() + bo)
            h = u * h + (1 - u) * o
            ys.append(h)
        x = torch.stack(ys)
    return x


def check_onednn(a):
    """Compares onednn_rnn --check with a float64 PyTorch reference on identical data."""
    import copy
    import subprocess
    import tempfile
    import numpy as np
    cell, T, B, X, H, L = a.cell, a.T, a.B, a.X, a.H, a.L
    G = GATES[cell]
    torch.manual_seed(7)
    gen = torch.Generator().manual_seed(7)
    x, h0, c0, dy = inputs(T, B, X, H, L, gen, torch.float64)
    # Per-layer (W, U, bias rows), PyTorch layout, and oneDNN's gate order as a permutation.
    if cell == "gru_classic":
        layers = [[W, U, bW] for W, U, bW, _ in script_params("gru", X, H, L, gen, torch.float64)]
        forward = lambda x, h0, c0: classic_gru_forward(layers, x, h0)  # noqa: E731
        params = [p for layer in layers for p in layer]
        perm = [0, 1, 2]
    else:
        module, forward = nn_forward(cell, X, H, L)
        module = module.double()
        params = list(module.parameters())  # per layer: w_ih, w_hh, b_ih, b_hh
        perm = {"rnn": [0], "lstm": [0, 1, 2, 3], "gru": [1, 0, 2]}[cell]  # u, r, o = z, r, n
    y = forward(x, h0, c0)
    with torch.no_grad():  # the same network run by PyTorch in float32, for comparison
        if cell == "gru_classic":
            y32 = classic_gru_forward([[t.float() for t in p] for p in layers], x.float(),
                                      h0.float())
        else:
            m32 = copy.deepcopy(module).float()
            y32 = m32(x.float(), (h0.float(), c0.float()) if cell == "lstm" else h0.float())[0]
    names = ["x", "h0"] + (["c0"] if cell == "lstm" else [])
    data = [x, h0] + ([c0] if cell == "lstm" else [])
    all_grads = grads(y, dy, data + params)
    ref, pgrads = dict(zip(names, all_grads)), all_grads[len(data):]

    def to_onednn(w):  # (G*H, in) -> (in, G, H) in oneDNN's gate order
        return w.detach().view(G, H, -1)[perm].permute(2, 0, 1)

    def from_onednn(w):  # inverse of to_onednn
        out = torch.empty(G, H, w.shape[0], dtype=w.dtype)
        out[perm] = w.permute(1, 2, 0)
        return out.reshape(G * H, -1)

    with tempfile.TemporaryDirectory() as d:
        def save(name, t):
            t.detach().contiguous().to(torch.float32).numpy().tofile(os.path.join(d, name))

        def load(name, shape):
            return torch.from_numpy(np.fromfile(os.path.join(d, name), dtype=np.float32)
                                    ).view(*shape).double()

        for name, t in (("x", x), ("h0", h0), ("c0", c0), ("dy", dy)):
            save(name, t)
        per = len(params) // L
        for l in range(L):
            p = params[l * per:(l + 1) * per]
            save(f"wx{l}", to_onednn(p[0]))
            save(f"wh{l}", to_onednn(p[1]))
            if cell == "gru_classic":
                b = p[2].detach().view(3, H)
            elif cell == "gru":  # rows b_u, b_r, b_o (input side), b_u' (recurrent side of o)
                bi, bh = p[2].detach().view(3, H), p[3].detach().view(3, H)
                b = torch.stack([bi[1] + bh[1], bi[0] + bh[0], bi[2], bh[2]])
            else:
                b = (p[2] + p[3]).detach().view(G, H)[perm]
            save(f"b{l}", b)
        cmd = [a.check_onednn, "--check", d, "--cell", cell] + \
            [s for n in "TBXHL" for s in (f"--{n}", str(getattr(a, n)))]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

        diffs = {"y": max_abs(load("y", (T, B, H)), y), "dx": max_abs(load("dx", (T, B, X)),
                 ref["x"]), "dh0": max_abs(load("dh0", (L, B, H)), ref["h0"])}
        if cell == "lstm":
            diffs["dc0"] = max_abs(load("dc0", (L, B, H)), ref["c0"])
        dW = dU = db = 0.0
        for l in range(L):
            g = pgrads[l * per:(l + 1) * per]
            inp = X if l == 0 else H
            dW = max(dW, max_abs(from_onednn(load(f"dwx{l}", (inp, G, H))), g[0]))
            dU = max(dU, max_abs(from_onednn(load(f"dwh{l}", (H, G, H))), g[1]))
            if cell == "gru":
                gb = g[2].view(3, H)
                want = torch.stack([gb[1], gb[0], gb[2], g[3].view(3, H)[2]])
                db = max(db, max_abs(load(f"db{l}", (4, H)), want))
            else:
                db = max(db, max_abs(load(f"db{l}", (G, H)), g[2].view(G, H)[perm]))
        diffs.update(dW=dW, dU=dU, db=db)
        y_onednn = load("y", (T, B, H))
    worst = max(diffs.values())
    print(json.dumps({"check": "onednn-vs-torch-float64", "cell": cell, "T": T, "B": B, "X": X,
                      "H": H, "L": L, "max_abs_diff": {k: float(f"{v:.3g}") for k, v in
                                                       diffs.items()},
                      "y_onednn_vs_torch_float32": float(f"{max_abs(y_onednn, y32):.3g}"),
                      "worst": float(f"{worst:.3g}"), "ok": worst < 1e-4}), flush=True)
    return 0 if worst < 1e-4 else 1


def layernorm_lstm_reference(cell, layers, x, h0, c0):
    """The header's layer-norm LSTM equations, eager, with the normalisation written out."""
    def ln(a, gamma, beta):
        mu = a.mean(-1, keepdim=True)
        var = ((a - mu) ** 2).mean(-1, keepdim=True)
        return gamma * (a - mu) / torch.sqrt(var + 1e-5) + beta
    for l, p in enumerate(layers):
        W, U, gc, bc = p[0], p[1], p[-2], p[-1]
        h, c, ys = h0[l], c0[l], []
        for t in range(x.size(0)):
            if cell == "layernorm_lstm":
                z = ln(x[t] @ W.t(), p[2], p[3]) + ln(h @ U.t(), p[4], p[5])
            else:
                z = ln(x[t] @ W.t() + h @ U.t(), p[2], p[3])
            zi, zf, zg, zo = z.chunk(4, 1)
            c = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
            h = torch.sigmoid(zo) * torch.tanh(ln(c, gc, bc))
            ys.append(h)
        x = torch.stack(ys)
    return x


def check_torchscript(a):
    """TorchScript cells vs nn modules / eager references on the same weights (y, all grads)."""
    T, B, X, H, L = a.T, a.B, a.X, a.H, a.L
    torch.manual_seed(11)
    gen = torch.Generator().manual_seed(11)
    x, h0, c0, dy = inputs(T, B, X, H, L, gen, torch.float64)
    status = 0
    for cell in SCRIPT_CELLS:
        for hoist in (False, True):
            if cell.startswith("layernorm_lstm"):
                ref_p = script_params(cell, X, H, L, gen, torch.float64)
                ref_fwd = lambda x, h0, c0: layernorm_lstm_reference(cell, ref_p, x, h0, c0)  # noqa
                layers = [[t.detach().clone().requires_grad_() for t in p] for p in ref_p]
                pairs = [(p, q) for rp, lp in zip(ref_p, layers) for p, q in zip(rp, lp)]
            else:
                module, ref_fwd = nn_forward("lstm" if cell == "peephole_lstm" else cell, X, H, L)
                module = module.double()
                nn_p = list(module.parameters())  # per layer: w_ih, w_hh, b_ih, b_hh
                layers, pairs = [], []
                for l in range(L):
                    w_ih, w_hh, b_ih, b_hh = nn_p[4 * l:4 * l + 4]
                    d = [w_ih.detach(), w_hh.detach()] + \
                        ([b_ih.detach(), b_hh.detach()] if cell == "gru" else
                         [(b_ih + b_hh).detach()])
                    if cell == "peephole_lstm":
                        d += [torch.zeros(H, dtype=torch.float64)] * 3
                    layers.append([t.clone().requires_grad_() for t in d])
                    pairs += list(zip([w_ih, w_hh, b_ih] + ([b_hh] if cell == "gru" else []),
                                      layers[-1]))
            y_ref, y_s = ref_fwd(x, h0, c0), script_forward(cell, layers, hoist)(x, h0, c0)
            states = [x, h0] + ([c0] if "lstm" in cell else [])
            g_ref = grads(y_ref, dy, states + [p for p, _ in pairs])
            g_s = grads(y_s, dy, states + [q for _, q in pairs])
            diff = max([max_abs(y_ref, y_s)] + [max_abs(p, q) for p, q in zip(g_ref, g_s)])
            ok = diff < 1e-10
            status |= not ok
            reference = "eager" if cell.startswith("layernorm_lstm") else "nn"
            print(json.dumps({"check": "torchscript-vs-reference-float64", "cell": cell,
                              "hoist": hoist, "reference": reference,
                              "max_abs_diff": float(f"{diff:.3g}"), "ok": ok}), flush=True)
    return status


if __name__ == "__main__":
    if ARGS.check_onednn:
        sys.exit(check_onednn(ARGS))
    if ARGS.check_torchscript:
        sys.exit(check_torchscript(ARGS))
    sys.exit(run_timing(ARGS))
