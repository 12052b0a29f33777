# st.py — a small, independent reader and writer of the safetensors format for the tests, written
# from the format's specification (8-byte little-endian header length N, N bytes of JSON header
# mapping names to {dtype, shape, data_offsets} plus an optional "__metadata__" of strings, then
# the data; offsets are relative to the data start). The reader is strict, so a malformed file
# written by wbr is a test failure, not a silent misread.
import json
import struct

import numpy as np

DTYPE_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
              "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}

# numpy dtypes with the same bytes (BF16 is carried as raw uint16).
NP_DTYPE = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
            "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "u1"}


class Tensor:
    """One tensor: name, safetensors dtype name, shape (tuple), raw little-endian bytes."""

    def __init__(self, name, dtype, shape, data):
        self.name, self.dtype, self.shape, self.data = name, dtype, tuple(int(d) for d in shape), bytes(data)

    def array(self):
        return np.frombuffer(self.data, dtype=NP_DTYPE[self.dtype]).reshape(self.shape)

    def __repr__(self):
        return "Tensor(%r, %s, %s, %d bytes)" % (self.name, self.dtype, list(self.shape), len(self.data))


def from_array(name, arr, dtype=None):
    """A Tensor from a numpy array (dtype name guessed from the array unless given)."""
    if dtype is None:
        dtype = {("f", 8): "F64", ("f", 4): "F32", ("f", 2): "F16", ("i", 8): "I64", ("i", 4): "I32",
                 ("i", 2): "I16", ("i", 1): "I8", ("u", 1): "U8"}[(arr.dtype.kind, arr.dtype.itemsize)]
    a = np.array(arr, dtype=NP_DTYPE[dtype], order="C")  # (ascontiguousarray would make a 0-d array 1-d)
    return Tensor(name, dtype, a.shape, a.tobytes())


def write(path, tensors, metadata=None):
    """Write tensors (list of Tensor, in order) and optional metadata (dict of str)."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for t in tensors:
        n = DTYPE_SIZE[t.dtype]
        for d in t.shape:
            n *= d
        assert n == len(t.data), (t, n)
        header[t.name] = {"dtype": t.dtype, "shape": list(t.shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for t in tensors:
            f.write(t.data)


class FormatError(Exception):
    pass


def read(path):
    """Read a safetensors file: (list of Tensor in file order, metadata dict or None, raw data
    region). Raises FormatError on anything the specification does not allow."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise FormatError("shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise FormatError("header length %d runs past the end of the file" % n)
    try:
        text = raw[8:8 + n].decode("utf-8")
        # Keys in file order: json keeps dict insertion order.
        header = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError("header is not UTF-8 JSON: %s" % e)
    if not isinstance(header, dict):
        raise FormatError("header is not a JSON object")
    data = raw[8 + n:]
    meta = header.pop("__metadata__", None)
    if meta is not None and (not isinstance(meta, dict) or
                             not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())):
        raise FormatError("__metadata__ is not a map of strings")
    spans = []
    tensors = []
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            raise FormatError("%s: keys %s" % (name, sorted(info)))
        dt, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        if dt not in DTYPE_SIZE:
            raise FormatError("%s: unknown dtype %r" % (name, dt))
        size = DTYPE_SIZE[dt]
        for d in shape:
            if not isinstance(d, int) or d < 0:
                raise FormatError("%s: bad shape %r" % (name, shape))
            size *= d
        if not (0 <= b <= e <= len(data)) or e - b != size:
            raise FormatError("%s: data_offsets [%d, %d] wrong for %d bytes (data region %d)"
                              % (name, b, e, size, len(data)))
        spans.append((b, e, name))
        tensors.append(Tensor(name, dt, shape, data[b:e]))
    # The tensors must tile the data region exactly: no gap, no overlap, nothing after.
    pos = 0
    for b, e, name in sorted(spans):
        if b != pos:
            raise FormatError("%s: data starts at %d, expected %d (gap or overlap)" % (name, b, pos))
        pos = e
    if pos != len(data):
        raise FormatError("%d bytes after the last tensor" % (len(data) - pos))
    return tensors, meta, data
