#!/usr/bin/python3
"""PyTorch as the oracle for cellforge's RNN, LSTM (with and without proj_size) and GRU networks.

For each random case (module kind, layers, directions, sizes, batch, steps, per-sequence lengths and
seed) this script builds the torch.nn module, writes a case file (input, non-zero initial states,
output and final-state gradients, lengths) and either writes the module's state_dict for cellforge
to import ("import" cases) or lets cellforge draw the weights and export them for PyTorch to load
with load_state_dict(strict=True) ("export" cases). tests/torch/torch_oracle runs the cases through
the JIT (forward and BPTT) and writes the outputs, final states and the gradients of every weight,
of the input and of the initial states; this script runs the same module in PyTorch (variable
lengths through pack_padded_sequence with enforce_sorted=False) and compares.

Tolerance (each tensor, float32 against float32):
    max |cellforge - torch| <= tol * max(1, max |torch|),   tol = 5e-5
That is an absolute bound for tensors whose entries stay within [-1, 1] (outputs and states of
tanh and sigmoid gated cells, most gradients of the small cases), and a bound relative to the
tensor's largest entry above that. Relative to the tensor and not to each entry, because a weight
gradient is a sum over T x B rows computed in a different order by the two libraries: its rounding
error scales with the magnitude of the terms, which the largest entry measures, not with the
(possibly cancelled) entry itself. Both libraries are also compared with PyTorch in float64; that
error is printed, to tell which side a difference comes from.

Every case prints its seed; rerun one with --cases 1 --first-case K.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time

import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import torch_safetensors as st  # noqa: E402

KINDS = ["RNN_TANH", "RNN_RELU", "LSTM", "LSTM_PROJ", "GRU"]
QUANTITIES = ["output", "h_n", "c_n", "grad_input", "grad_h0", "grad_c0",
              "grad_weight_ih", "grad_weight_hh", "grad_bias_ih", "grad_bias_hh", "grad_weight_hr"]


def case_config(index, first_seed):
    """The case `index`: every (kind, one or more layers, directions, lengths) combination comes
    round once per 40 cases; the sizes, weights and data are random from the case's seed."""
    seed = first_seed + index
    rng = random.Random(seed)
    combo = index % 40
    kind = KINDS[combo % 5]
    deep, bidirectional, packed = bool(combo // 5 % 2), bool(combo // 10 % 2), bool(combo // 20 % 2)
    # One case in ten is larger (the GEMM kernels' blocked paths) and runs on two threads; the
    # large ones go round the kinds too (cases 0, 11, 22, ...).
    large = index % 10 == index // 10 % 10
    hidden = rng.randint(24, 80) if large else rng.randint(2, 12)
    config = {
        "kind": kind, "seed": seed,
        "num_layers": rng.choice([2, 3]) if deep else 1,
        "bidirectional": bidirectional, "packed": packed,
        "input_size": rng.randint(8, 64) if large else rng.randint(1, 10), "hidden_size": hidden,
        "proj_size": rng.randint(1, hidden - 1) if kind == "LSTM_PROJ" else 0,
        "batch": rng.randint(4, 16) if large else rng.randint(1, 5),
        "unroll": rng.randint(8, 24) if large else rng.randint(1, 9),
        "threads": 2 if large else 1,
        "bias": rng.random() >= 0.15,
        # PyTorch's init (uniform in +-1/sqrt(H)) times a gain, so that some cases saturate the gates.
        "gain": rng.choice([1.0, 1.0, 2.0, 3.0]),
        # A quarter of the cases go the other way: cellforge draws and exports the weights.
        "weights": "export" if index % 4 == 3 else "import",
        # Import cases alternate between a bare state_dict (as the safetensors package writes it)
        # and one that says which module wrote it.
        "describe_module": index % 2 == 0,
    }
    return config


def make_module(config):
    mode = {"LSTM_PROJ": "LSTM"}.get(config["kind"], config["kind"])
    return st.build_module({"mode": mode, "input_size": config["input_size"], "hidden_size": config["hidden_size"],
                            "num_layers": config["num_layers"], "bidirectional": config["bidirectional"],
                            "proj_size": config["proj_size"], "bias": config["bias"]})


def write_case(config, prefix):
    """Writes the case files; returns (module or None, data) with the data PyTorch needs."""
    torch.manual_seed(config["seed"])
    module = make_module(config)
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(config["gain"])
    lstm = isinstance(module, torch.nn.LSTM)
    T, B, X = config["unroll"], config["batch"], config["input_size"]
    D, L, H = 2 if config["bidirectional"] else 1, config["num_layers"], config["hidden_size"]
    S = config["proj_size"] or H
    data = {
        "input": torch.randn(T, B, X),
        "h0": 0.5 * torch.randn(L * D, B, S),
        "grad_output": torch.randn(T, B, D * S),
        "grad_h_n": torch.randn(L * D, B, S),
    }
    if lstm:
        data["c0"] = 0.5 * torch.randn(L * D, B, H)
        data["grad_c_n"] = torch.randn(L * D, B, H)
    if config["packed"]:
        lengths = torch.randint(1, T + 1, (B,), dtype=torch.int64)
        lengths[torch.randint(0, B, (1,))] = T  # the longest sequence fills the unroll
        data["lengths"] = lengths
    case = {"batch": B, "unroll": T, "variable_lengths": config["packed"], "weights": config["weights"],
            "seed": config["seed"], "threads": config["threads"]}
    st.save_file(data, prefix + ".case.safetensors",
                 {"case": json.dumps(case), st.MODULE_KEY: json.dumps(st.module_description(module))})
    if config["weights"] == "import":
        if config["describe_module"]:
            st.save_module(module, prefix + ".weights.safetensors")
        else:
            st.save_file(module.state_dict(), prefix + ".weights.safetensors")
        return module, data
    return None, data


def run_torch(module, data, dtype):
    """Outputs, final states and the gradients of L = <dy, y> + <dh_n, h_n> + <dc_n, c_n>."""
    m = module.to(dtype)
    lstm = isinstance(m, torch.nn.LSTM)
    x = data["input"].to(dtype).requires_grad_()
    h0 = data["h0"].to(dtype).requires_grad_()
    leaves = [x, h0]
    hx = h0
    if lstm:
        c0 = data["c0"].to(dtype).requires_grad_()
        leaves.append(c0)
        hx = (h0, c0)
    inp = x
    if "lengths" in data:
        inp = torch.nn.utils.rnn.pack_padded_sequence(x, data["lengths"], enforce_sorted=False)
    out, state = m(inp, hx)
    if "lengths" in data:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=x.shape[0])
    results = {"output": out, "h_n": state[0] if lstm else state}
    if lstm:
        results["c_n"] = state[1]
    loss = (out * data["grad_output"].to(dtype)).sum() + (results["h_n"] * data["grad_h_n"].to(dtype)).sum()
    if lstm:
        loss = loss + (results["c_n"] * data["grad_c_n"].to(dtype)).sum()
    names = [n for n, _ in m.named_parameters()]
    grads = torch.autograd.grad(loss, leaves + [p for _, p in m.named_parameters()])
    results["grad_input"], results["grad_h0"] = grads[0], grads[1]
    if lstm:
        results["grad_c0"] = grads[2]
    for name, g in zip(names, grads[len(leaves):]):
        results["grad." + name] = g
    return {k: v.detach().double() for k, v in results.items()}


def quantity(name):
    """The row of the summary a tensor counts in: grad.weight_ih_l1_reverse -> grad_weight_ih."""
    if name.startswith("grad."):
        return "grad_" + name[len("grad."):].split("_l")[0]
    return name


def error(ours, reference):
    """max |ours - reference| / max(1, max |reference|), and the same unscaled."""
    if not reference.numel():
        return 0.0, 0.0
    absolute = (ours - reference).abs().max().item()
    return absolute / max(1.0, reference.abs().max().item()), absolute


def compare(config, prefix, module, data):
    """Per quantity: the errors of cellforge vs torch float32, cellforge vs float64, torch float32 vs
    float64 (scaled as the tolerance says), and of cellforge vs torch float32 unscaled."""
    if module is None:  # an export case: PyTorch loads what cellforge wrote, strictly
        module = st.load_module(prefix + ".weights.safetensors")
        expected = make_module(config)
        if st.module_description(module) != st.module_description(expected):
            raise AssertionError(f"cellforge exported {st.module_description(module)}, expected "
                                 f"{st.module_description(expected)}")
    ours = {k: v.double() for k, v in st.load_file(prefix + ".result.safetensors").items()}
    ref32 = run_torch(module.float(), data, torch.float32)
    ref64 = run_torch(module.double(), data, torch.float64)
    if set(ours) != set(ref32):
        raise AssertionError(f"cellforge gave {sorted(ours)}, PyTorch {sorted(ref32)}")
    errors = {}
    for name in ref32:
        if ours[name].shape != ref32[name].shape:
            raise AssertionError(f"{name}: cellforge shape {list(ours[name].shape)}, PyTorch {list(ref32[name].shape)}")
        q = quantity(name)
        scaled, absolute = error(ours[name], ref32[name])
        e = (scaled, error(ours[name], ref64[name])[0], error(ref32[name], ref64[name])[0], absolute)
        errors[q] = tuple(max(a, b) for a, b in zip(errors.get(q, (0, 0, 0, 0)), e))
    return errors


def describe(config):
    kind = config["kind"]
    text = f"{kind:9s} L={config['num_layers']} {'bi ' if config['bidirectional'] else 'uni'} " \
           f"{'packed' if config['packed'] else 'padded'} X={config['input_size']:2d} H={config['hidden_size']:2d}"
    if config["proj_size"]:
        text += f" P={config['proj_size']}"
    if not config["bias"]:
        text += " no-bias"
    if config["gain"] != 1.0 and config["weights"] == "import":
        text += f" gain={config['gain']:g}"
    text += f" B={config['batch']} T={config['unroll']} {config['weights']}"
    return text + (f" threads={config['threads']}" if config["threads"] > 1 else "")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--driver", required=True, help="the torch_oracle executable")
    p.add_argument("--out", required=True, help="directory for the case files")
    p.add_argument("--cases", type=int, default=120)
    p.add_argument("--first-case", type=int, default=0)
    p.add_argument("--first-seed", type=int, default=1000)
    p.add_argument("--jobs", type=int, default=2, help="driver processes run side by side")
    p.add_argument("--tolerance", type=float, default=5e-5)
    args = p.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    start = time.time()

    indices = list(range(args.first_case, args.first_case + args.cases))
    configs = {i: case_config(i, args.first_seed) for i in indices}
    prefixes = {i: os.path.join(args.out, f"case{i:04d}") for i in indices}
    for i in indices:
        for suffix in (".result.safetensors", ".weights.safetensors") if configs[i]["weights"] == "export" else (
                ".result.safetensors",):
            if os.path.exists(prefixes[i] + suffix):
                os.remove(prefixes[i] + suffix)
    cases = {i: write_case(configs[i], prefixes[i]) for i in indices}

    # The drivers: the cases dealt round-robin to --jobs processes.
    jobs = max(1, min(args.jobs, len(indices)))
    procs = [subprocess.Popen([args.driver] + [prefixes[i] for i in indices[j::jobs]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for j in range(jobs)]
    driver_failed = False
    for proc in procs:
        out, err = proc.communicate()
        sys.stdout.write(out)
        if err:
            sys.stdout.write(err)
        driver_failed |= proc.returncode != 0
    driven = time.time()

    worst = {q: (0.0, None) for q in QUANTITIES}
    worst64 = {q: (0.0, 0.0, 0.0) for q in QUANTITIES}
    failures = []
    for i in indices:
        config = configs[i]
        module, data = cases[i]
        try:
            errors = compare(config, prefixes[i], module, data)
        except Exception as e:  # a missing result, a shape or a name that differs
            failures.append(f"case {i} (seed {config['seed']}): {e}")
            print(f"case {i:4d} seed {config['seed']} {describe(config)}: ERROR {e}")
            continue
        bad = [q for q, e in errors.items() if not e[0] <= args.tolerance]
        for q, e in errors.items():
            if e[0] > worst[q][0] or worst[q][1] is None:
                worst[q] = (e[0], i)
            worst64[q] = (max(worst64[q][0], e[1]), max(worst64[q][1], e[2]), max(worst64[q][2], e[3]))
        line = " ".join(f"{q.replace('grad_', 'd')}={e[0]:.1e}" for q, e in errors.items())
        print(f"case {i:4d} seed {config['seed']} {describe(config)}: max err {max(e[0] for e in errors.values()):.2e}"
              f"{'  FAIL ' + ','.join(bad) if bad else ''}  [{line}]")
        if bad:
            failures.append(f"case {i} (seed {config['seed']}, {describe(config)}): {', '.join(bad)} above "
                            f"{args.tolerance:g}")

    print(f"\n{len(indices)} cases ({sum(c['weights'] == 'import' for c in configs.values())} import, "
          f"{sum(c['weights'] == 'export' for c in configs.values())} export), tolerance {args.tolerance:g} "
          f"(max |cellforge - torch| / max(1, max |torch|) per tensor)")
    print(f"{'quantity':16s} {'vs torch f32':>13s} {'(case)':>7s} {'cellforge vs f64':>17s} {'torch f32 vs f64':>17s} "
          f"{'unscaled vs f32':>16s}")
    for q in QUANTITIES:
        e, at = worst[q]
        if at is None:
            continue
        print(f"{q:16s} {e:13.2e} {at:7d} {worst64[q][0]:17.2e} {worst64[q][1]:17.2e} {worst64[q][2]:16.2e}")
    print(f"time: {time.time() - start:.1f} s ({driven - start:.1f} s until the drivers finished)")
    if driver_failed or failures:
        print(f"\nFAILED: {len(failures)} case(s)" + ("; a driver reported errors (above)" if driver_failed else ""))
        for f in failures:
            print("  " + f)
        sys.exit(1)
    print("all cases agree with PyTorch")


if __name__ == "__main__":
    main()
