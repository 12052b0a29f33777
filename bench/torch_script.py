#!/usr/bin/python3
"""torch_script.py — the PyTorch baseline of bench/run.sh (issue 14): the job a user would write
in Python, done as cheaply as torch allows, so `wbr apply` is compared with equal work.

  torch_script.py transpose SRC OUT   every 2-D tensor t().contiguous(), the rest copied
  torch_script.py cast SRC OUT        every tensor .to(torch.bfloat16)
  torch_script.py compare A B         exit 1 unless A and B hold the same tensors (names, order,
                                      dtypes, shapes) and a sample of them has identical bytes

SRC is a safetensors file opened as one read-only mmap; each tensor is a torch.frombuffer view of
it (zero-copy: nothing is read before torch touches it). OUT is written streaming: the header
first (every output shape and dtype is known from SRC's header), then each tensor's bytes as soon
as torch has made them, one tensor at a time (never a whole-model buffer), to OUT.tmp renamed to
OUT at the end, as wbr does. torch gets every CPU (torch.set_num_threads(os.cpu_count()); the
Debian build starts with 1). Prints nothing on success."""
import json
import mmap
import os
import struct
import sys
import warnings

import numpy as np
import torch

TORCH = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
         "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
         "U8": torch.uint8, "BOOL": torch.bool}
SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
        "BOOL": 1}


def read_header(f):
    (n,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(n))
    meta = header.pop("__metadata__", None)
    return header, meta, 8 + n


def count(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def out_entry(job, dtype, shape):
    """The output tensor's (dtype, shape) for this job."""
    if job == "cast":
        return "BF16", shape
    if len(shape) == 2:
        return dtype, [shape[1], shape[0]]
    return dtype, shape


def as_bytes(t):
    """A zero-copy byte view of a contiguous tensor (numpy has no bfloat16: view it as int16)."""
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return memoryview(t.numpy()).cast("B")


def run(job, src, out):
    torch.set_num_threads(os.cpu_count() or 1)
    with open(src, "rb") as f:
        header, meta, base = read_header(f)
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    names = list(header)  # json keeps the file's order
    oheader, off = {}, 0
    if meta is not None:
        oheader["__metadata__"] = meta
    for name in names:
        dt, shape = out_entry(job, header[name]["dtype"], header[name]["shape"])
        n = count(shape) * SIZE[dt]
        oheader[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(oheader, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    tmp = out + ".tmp"
    with warnings.catch_warnings(), open(tmp, "wb") as o:
        warnings.simplefilter("ignore")  # frombuffer warns that the mmap is read-only
        o.write(struct.pack("<Q", len(hb)))
        o.write(hb)
        for name in names:
            h = header[name]
            a, b = h["data_offsets"]
            n = count(h["shape"])
            if n == 0:
                continue
            x = torch.frombuffer(mm, dtype=TORCH[h["dtype"]], count=n, offset=base + a)
            x = x.reshape(h["shape"])
            if job == "cast":
                y = x.to(torch.bfloat16)
            elif x.dim() == 2:
                y = x.t().contiguous()
            else:
                o.write(memoryview(mm)[base + a:base + b])  # unchanged: the mapped bytes
                continue
            o.write(as_bytes(y))
            del x, y
    os.replace(tmp, out)


def compare(pa, pb):
    with open(pa, "rb") as f:
        ha, _, ba = read_header(f)
    with open(pb, "rb") as f:
        hb, _, bb = read_header(f)
    na, nb = list(ha), list(hb)
    if na != nb:
        sys.exit(f"compare: {pa} and {pb} list different tensors or orders")
    for name in na:
        if (ha[name]["dtype"], ha[name]["shape"]) != (hb[name]["dtype"], hb[name]["shape"]):
            sys.exit(f"compare: {name}: {ha[name]['dtype']} {ha[name]['shape']} in {pa}, "
                     f"{hb[name]['dtype']} {hb[name]['shape']} in {pb}")
    # The sample: the largest tensor, the first and last, and every 7th (each dtype, 1-D to 4-D).
    sizes = [ha[n]["data_offsets"][1] - ha[n]["data_offsets"][0] for n in na]
    pick = sorted({0, len(na) - 1, sizes.index(max(sizes))} | set(range(0, len(na), 7)))
    checked = 0
    for i in pick:
        name = na[i]
        a0, a1 = ha[name]["data_offsets"]
        b0, b1 = hb[name]["data_offsets"]
        if a1 - a0 != b1 - b0:
            sys.exit(f"compare: {name}: {a1 - a0} bytes in {pa}, {b1 - b0} in {pb}")
        if a1 == a0:
            continue
        x = np.memmap(pa, dtype=np.uint8, mode="r", offset=ba + a0, shape=(a1 - a0,))
        y = np.memmap(pb, dtype=np.uint8, mode="r", offset=bb + b0, shape=(b1 - b0,))
        if not np.array_equal(x, y):
            bad = int(np.argmax(x != y))
            sys.exit(f"compare: {name}: the bytes differ (first at byte {bad} of {a1 - a0})")
        checked += a1 - a0
    print(f"{len(pick)} of {len(na)} tensors ({checked / 2**20:.1f} MiB) identical bytewise, "
          f"all {len(na)} names, dtypes and shapes equal, in order")


def main():
    if len(sys.argv) == 4 and sys.argv[1] in ("transpose", "cast"):
        run(sys.argv[1], sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


main()
