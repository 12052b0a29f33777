#!/usr/bin/python3
"""check.py — independent checks with the real torch for tests/torch/run.sh. Each call prints
one line, "PASS: torch/ID" or "FAIL: torch/ID: why".

  check.py inspect ID PT JSON [KEY]   `wbr inspect --json` output lists PT's tensors (KEY's
                                      sub-dict), in order, with torch's shapes and dtypes
  check.py st ID PT ST [KEY]          the safetensors file holds exactly PT's tensors: names,
                                      order, dtypes, shapes and bytes
  check.py pt ID REF OUT [PREFIX]     torch.load(OUT, weights_only=True) equals REF's tensors
                                      exactly (REF a .pt or .safetensors; names get PREFIX)
  check.py e2e ID FILE                FILE (.pt or .safetensors) loads with strict=True into
                                      models.Mine and gives models.Theirs' outputs
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

DT = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
      torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
      torch.uint8: "U8", torch.bool: "BOOL"}
TORCH_DT = {v: k for k, v in DT.items()}


def flat(obj, prefix=""):
    """The tensors of a (nested) checkpoint in order, named like weightbridge names them."""
    out = []
    if isinstance(obj, torch.Tensor):
        out.append((prefix, obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out += flat(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += flat(v, f"{prefix}.{i}" if prefix else str(i))
    return out


def load_pt(path, key=None, trusted=True):
    # Reference files are our own (torch 1.13's weights_only cannot read protocol 4); files
    # weightbridge wrote are loaded the strict way.
    obj = torch.load(path, weights_only=not trusted)
    if key:
        obj = obj[key]
    return flat(obj)


def raw(t):
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def read_st(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n], object_pairs_hook=lambda p: p)
    body = data[8 + n:]
    out = []
    for name, e in header:
        if name == "__metadata__":
            continue
        e = dict(e)
        b, end = e["data_offsets"]
        out.append((name, e["dtype"], e["shape"], body[b:end]))
    return out


def load_any(path):
    if path.endswith(".safetensors"):
        res = []
        for name, dt, shape, b in read_st(path):
            t = torch.frombuffer(bytearray(b), dtype=TORCH_DT[dt]) if b else \
                torch.empty(0, dtype=TORCH_DT[dt])
            res.append((name, t.reshape(shape)))
        return res
    return load_pt(path)


def report(id, problems):
    if problems:
        print(f"FAIL: torch/{id}: " + "; ".join(problems[:5]))
    else:
        print(f"PASS: torch/{id}")


def cmd_inspect(id, pt, js, key=None):
    want = load_pt(pt, key)
    with open(js) as f:
        got = json.load(f, object_pairs_hook=lambda p: p)
    got = dict(got)["tensors"]
    p = []
    if [n for n, _ in got] != [n for n, _ in want]:
        p.append(f"names differ: {[n for n, _ in got][:8]} vs {[n for n, _ in want][:8]}")
    for (n, e), (_, t) in zip(got, want):
        e = dict(e)
        if e["shape"] != list(t.shape) or e["dtype"] != DT[t.dtype]:
            p.append(f"{n}: {e} vs {list(t.shape)} {t.dtype}")
    report(id, p)


def cmd_st(id, pt, st, key=None):
    want = load_pt(pt, key)
    got = read_st(st)
    p = []
    if [g[0] for g in got] != [n for n, _ in want]:
        p.append("names or order differ")
    for (n, dt, shape, b), (_, t) in zip(got, want):
        if dt != DT[t.dtype] or shape != list(t.shape):
            p.append(f"{n}: {dt} {shape} vs {t.dtype} {list(t.shape)}")
        elif b != raw(t):
            p.append(f"{n}: bytes differ")
    report(id, p)


def cmd_pt(id, ref, out, prefix=""):
    want = load_any(ref)
    try:
        got = load_pt(out, trusted=False)
    except Exception as e:  # torch refusing our file is the failure being tested
        report(id, [f"torch.load(weights_only=True) failed: {e}"])
        return
    p = []
    if [n for n, _ in got] != [prefix + n for n, _ in want]:
        p.append(f"names differ: {[n for n, _ in got][:6]} vs {[n for n, _ in want][:6]}")
    for (n, a), (_, b) in zip(got, want):
        if a.dtype != b.dtype or a.shape != b.shape:
            p.append(f"{n}: {a.dtype} {list(a.shape)} vs {b.dtype} {list(b.shape)}")
        elif raw(a) != raw(b):
            p.append(f"{n}: bytes differ")
        elif not a.is_contiguous():
            p.append(f"{n}: not contiguous")
    report(id, p)


def cmd_e2e(id, path):
    theirs = models.Theirs().eval()
    mine = models.Mine().eval()
    sd = dict(load_any(path))
    try:
        mine.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        report(id, [str(e)[:300]])
        return
    torch.manual_seed(5)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        a, b = theirs(x), mine(x)
    report(id, [] if torch.equal(a, b) else [f"outputs differ by {(a - b).abs().max().item()}"])


if __name__ == "__main__":  # hub.py imports raw and read_st
    cmd = sys.argv[1]
    {"inspect": cmd_inspect, "st": cmd_st, "pt": cmd_pt, "e2e": cmd_e2e}[cmd](*sys.argv[2:])
