#!/usr/bin/python3
"""ggufpy.py — an independent GGUF v3 writer and reader for the tests, written from the spec
(ggml/docs/gguf.md) with struct only, so weightbridge's reader and writer are checked against a
second implementation. Values are given as (type, value) pairs; arrays as ("arr", etype, [...])."""
import struct

import numpy as np

VT = {"u8": 0, "i8": 1, "u16": 2, "i16": 3, "u32": 4, "i32": 5, "f32": 6, "bool": 7, "str": 8,
      "arr": 9, "u64": 10, "i64": 11, "f64": 12}
VT_NAME = {v: k for k, v in VT.items()}
FMT = {"u8": "<B", "i8": "<b", "u16": "<H", "i16": "<h", "u32": "<I", "i32": "<i", "f32": "<f",
       "bool": "<?", "u64": "<Q", "i64": "<q", "f64": "<d"}
# ggml type numbers of the plain types, and numpy dtypes for them (BF16 travels as raw u2).
GT = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8, "Q4_K": 12, "I8": 24, "I16": 25, "I32": 26,
      "I64": 27, "F64": 28, "BF16": 30}
GT_NAME = {v: k for k, v in GT.items()}
NP = {"F32": "<f4", "F16": "<f2", "I8": "i1", "I16": "<i2", "I32": "<i4", "I64": "<i8", "F64": "<f8",
      "BF16": "<u2"}
# Quantized types (ggml's block layouts): values per block, bytes per block. read() returns
# their raw bytes.
QB = {"Q4_0": (32, 18), "Q8_0": (32, 34), "Q4_K": (256, 144)}


def s(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack("<Q", len(b)) + b


def value(t, v):
    if t == "str":
        return s(v)
    if t == "arr":
        et, items = v
        out = struct.pack("<IQ", VT[et], len(items))
        for it in items:
            out += value(et, it)
        return out
    return struct.pack(FMT[t], v)


def pad(n, a):
    return (a - n % a) % a


def write(path, kv, tensors, alignment=32, version=3, offsets=None):
    """kv: list of (key, type, value); tensors: list of (name, typename, shape outermost-first,
    raw bytes). Returns the bytes written."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kv))
    for k, t, v in kv:
        out += s(k) + struct.pack("<I", VT[t]) + value(t, v)
    off = 0
    offs = []
    for i, (name, tn, shape, raw) in enumerate(tensors):
        dims = list(reversed(shape))
        o = offsets[i] if offsets else off
        out += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", GT[tn], o)
        offs.append(o)
        off += len(raw) + pad(len(raw), alignment)
    out += b"\0" * pad(len(out), alignment)
    for name, tn, shape, raw in tensors:
        out += raw + b"\0" * pad(len(raw), alignment)
    if path:
        with open(path, "wb") as f:
            f.write(out)
    return out


class R:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        if self.p + n > len(self.b):
            raise ValueError("truncated")
        x = self.b[self.p:self.p + n]
        self.p += n
        return x

    def un(self, f):
        return struct.unpack(f, self.take(struct.calcsize(f)))[0]

    def str(self):
        return self.take(self.un("<Q")).decode()

    def val(self, t):
        name = VT_NAME[t]
        if name == "str":
            return ("str", self.str())
        if name == "arr":
            et = self.un("<I")
            n = self.un("<Q")
            return ("arr", VT_NAME[et], [self.val(et)[1] if VT_NAME[et] != "arr" else self.val(et)
                                         for _ in range(n)])
        return (name, self.un(FMT[name]))


def read(path):
    """Returns (kv: dict key -> (type, value), tensors: list of (name, type, shape, ndarray|bytes))."""
    b = open(path, "rb").read()
    r = R(b)
    assert r.take(4) == b"GGUF", "magic"
    ver = r.un("<I")
    assert ver == 3, ver
    nt, nkv = r.un("<Q"), r.un("<Q")
    kv = {}
    for _ in range(nkv):
        k = r.str()
        assert k not in kv, "duplicate key " + k
        kv[k] = r.val(r.un("<I"))
    align = kv.get("general.alignment", ("u32", 32))
    assert align[0] == "u32"
    align = align[1]
    infos = []
    for _ in range(nt):
        name = r.str()
        nd = r.un("<I")
        dims = [r.un("<Q") for _ in range(nd)]
        t = r.un("<I")
        off = r.un("<Q")
        infos.append((name, GT_NAME[t], list(reversed(dims)), off))
    start = r.p + pad(r.p, align)
    tensors = []
    expect = 0
    for name, tn, shape, off in infos:
        assert off == expect and off % align == 0, (name, off, expect)
        if tn in QB:
            per, size = QB[tn]
            n = int(np.prod(shape, dtype=np.int64)) // per * size
        else:
            n = int(np.prod(shape, dtype=np.int64)) * np.dtype(NP[tn]).itemsize
        raw = b[start + off:start + off + n]
        assert len(raw) == n, "tensor past end"
        tensors.append((name, tn, shape, raw if tn in QB else np.frombuffer(raw, NP[tn]).reshape(shape)))
        expect += n + pad(n, align)
    return kv, tensors
