#!/usr/bin/python3
"""Moves torch.nn.RNN / LSTM / GRU weights between PyTorch and cellforge as safetensors files,
with nothing but the standard library and torch (Debian has no python3-safetensors).

As a module (put scripts/ on sys.path):
    save_file(tensors, path, metadata=None)   dict name -> tensor, written as safetensors
    load_file(path) -> dict                   every tensor of a safetensors file (any writer)
    save_module(module, path)                 module.state_dict() + the module's constructor
                                              arguments, which `cellforge` reads to build the network
    load_module(path) -> nn.Module            builds the module a file describes (cellforge's export
                                              writes the description) and loads its weights strictly
As a command:
    torch_safetensors.py show FILE                       the tensors, dtypes, shapes and metadata
    torch_safetensors.py convert MODEL.pt OUT.safetensors [--prefix rnn.]
                                              a torch.save'd module or state_dict -> safetensors

The layout (the same as Hugging Face's safetensors): 8 bytes little-endian header length N, N bytes
of JSON header {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}},
padded with spaces to a multiple of 8, then the raw little-endian tensors back to back.
"""
import argparse
import json
import struct
import sys

import torch

_DTYPES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}
_TORCH_DTYPES = {name: dtype for dtype, name in _DTYPES.items()}

# The metadata key cellforge reads and writes the module's constructor arguments under.
MODULE_KEY = "cellforge.torch_module"


def save_file(tensors, path, metadata=None):
    """Writes `tensors` (a dict of name -> tensor, in its order) as a safetensors file."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, tensor in tensors.items():
        t = tensor.detach().cpu().contiguous()
        if t.dtype not in _DTYPES:
            raise ValueError(f"tensor '{name}' has dtype {t.dtype}, which safetensors cannot hold")
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def read_file(path):
    """(tensors, metadata) of a safetensors file, tensors as a dict in file order."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: {len(data)} bytes, too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: the header declares {n} bytes but the file has {len(data) - 8} after the length")
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = {}
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        if info["dtype"] not in _TORCH_DTYPES:
            raise ValueError(f"{path}: tensor '{name}' has dtype {info['dtype']}, which this reader does not know")
        dtype = _TORCH_DTYPES[info["dtype"]]
        if end == begin:
            tensors[name] = torch.empty(info["shape"], dtype=dtype)
        else:
            raw = bytearray(data[base + begin:base + end])
            tensors[name] = torch.frombuffer(raw, dtype=torch.uint8).view(dtype).reshape(info["shape"]).clone()
    return tensors, metadata


def load_file(path):
    """Every tensor of a safetensors file, as a dict name -> tensor."""
    return read_file(path)[0]


def module_description(module):
    """The constructor arguments of an nn.RNN / LSTM / GRU, as cellforge's metadata spells them."""
    return {
        "mode": module.mode, "input_size": module.input_size, "hidden_size": module.hidden_size,
        "num_layers": module.num_layers, "bias": bool(module.bias), "bidirectional": bool(module.bidirectional),
        "proj_size": int(getattr(module, "proj_size", 0)), "dropout": float(module.dropout),
    }


def build_module(description):
    """The nn.RNN / LSTM / GRU that a description (module_description, cellforge's metadata) names."""
    d = dict(description)
    mode = d.pop("mode")
    args = dict(input_size=d["input_size"], hidden_size=d["hidden_size"], num_layers=d.get("num_layers", 1),
                bias=d.get("bias", True), bidirectional=d.get("bidirectional", False), dropout=d.get("dropout", 0.0))
    if mode in ("RNN_TANH", "RNN_RELU"):
        return torch.nn.RNN(nonlinearity="tanh" if mode == "RNN_TANH" else "relu", **args)
    if mode == "LSTM":
        return torch.nn.LSTM(proj_size=d.get("proj_size", 0), **args)
    if mode == "GRU":
        return torch.nn.GRU(**args)
    raise ValueError(f"unknown mode '{mode}'; known: RNN_TANH, RNN_RELU, LSTM, GRU")


def save_module(module, path):
    """The module's state_dict, with its constructor arguments in the metadata."""
    save_file(module.state_dict(), path, {MODULE_KEY: json.dumps(module_description(module)), "format": "pt"})


def load_module(path):
    """The module a file written by save_module or by cellforge describes, with its weights."""
    tensors, metadata = read_file(path)
    if MODULE_KEY not in metadata:
        raise ValueError(f"{path}: no metadata '{MODULE_KEY}'; build the module yourself and "
                         f"module.load_state_dict(load_file(path))")
    module = build_module(json.loads(metadata[MODULE_KEY]))
    module.load_state_dict(tensors, strict=True)
    return module


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="list a file's tensors and metadata")
    show.add_argument("file")
    convert = sub.add_parser("convert", help="a torch.save'd module or state_dict -> safetensors")
    convert.add_argument("model")
    convert.add_argument("out")
    convert.add_argument("--prefix", default="", help="keep only the entries under this prefix (e.g. 'rnn.'), "
                                                      "without it")
    args = p.parse_args()
    if args.command == "show":
        tensors, metadata = read_file(args.file)
        checksums = [key for key in metadata if key.startswith("checksum.crc32c.")]
        for key, value in metadata.items():
            if key not in checksums:
                print(f"metadata {key} = {value}")
        if checksums:
            print(f"metadata: {len(checksums)} CRC-32C checksums (a file written by cellforge)")
        for name, t in tensors.items():
            print(f"{name}: {_DTYPES[t.dtype]} {list(t.shape)}")
        return
    obj = torch.load(args.model, map_location="cpu")
    module = obj if isinstance(obj, torch.nn.Module) else None
    state = obj.state_dict() if module is not None else obj
    if not isinstance(state, dict):
        sys.exit(f"torch_safetensors: {args.model} holds a {type(obj).__name__}, not a module or a state_dict")
    if args.prefix:
        state = {k[len(args.prefix):]: v for k, v in state.items() if k.startswith(args.prefix)}
        if module is not None:
            module = module.get_submodule(args.prefix.rstrip("."))
    metadata = {"format": "pt"}
    if isinstance(module, (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU)):
        metadata[MODULE_KEY] = json.dumps(module_description(module))
    save_file({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, args.out, metadata)
    print(f"wrote {len(state)} tensors to {args.out}")


if __name__ == "__main__":
    main()
