#!/usr/bin/python3
"""crosscheck.py — an independent safetensors writer and reader (the format's specification
followed with struct, json and numpy; no weightbridge code), used by run.sh to check wbr against
it in both directions.

  crosscheck.py write DIR                 write test files DIR/NAME.safetensors (and a manifest),
                                          each with DIR/NAME.expect.json: its tensors in order
  crosscheck.py check-inspect OUT EXPECT  OUT (`wbr inspect --json`) lists exactly EXPECT
  crosscheck.py check-copy ORIG COPY      COPY (written by wbr) holds ORIG's tensors, bytes and
                                          metadata in ORIG's header order, laid out as we promise
  crosscheck.py check-made FILE           FILE (rewrite.c make) holds the values of its formulas
Exit status 0 when the check holds; otherwise a one-line reason on stderr.
"""
import json
import os
import random
import struct
import sys

import numpy as np

NP = {  # safetensors dtype -> numpy dtype of the same width (raw bits for BF16 and F8)
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "F8_E4M3": "u1", "F8_E5M2": "u1",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}


def die(msg):
    sys.stderr.write(msg + "\n")
    sys.exit(1)


# ---- the independent writer -------------------------------------------------------------------


def write_st(path, tensors, metadata=None, data_order=None, header_order=None, pretty=False):
    """tensors: list of (name, dtype, ndarray). The data goes in data_order (names; default:
    list order), the header lists entries in header_order (default: list order)."""
    by_name = {n: (d, a) for n, d, a in tensors}
    data_order = data_order or [n for n, _, _ in tensors]
    header_order = header_order or [n for n, _, _ in tensors]
    offsets, blob = {}, b""
    for n in data_order:
        raw = np.ascontiguousarray(by_name[n][1]).tobytes()
        offsets[n] = [len(blob), len(blob) + len(raw)]
        blob += raw
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    for n in header_order:
        d, a = by_name[n]
        header[n] = {"dtype": d, "shape": list(a.shape), "data_offsets": offsets[n]}
    text = json.dumps(header, separators=None if pretty else (",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob)
    expect = {"tensors": [[n, by_name[n][0], list(by_name[n][1].shape)] for n in header_order],
              "metadata": metadata or {}}
    with open(path.rsplit(".", 1)[0] + ".expect.json", "w") as f:
        json.dump(expect, f)


def arrays(rng, dtypes):
    out = []
    for i, d in enumerate(dtypes):
        shape = [(rng.randrange(1, 5)) for _ in range(rng.randrange(0, 4))]
        raw = np.frombuffer(rng.randbytes(int(np.prod(shape, dtype=np.int64)) * np.dtype(NP[d]).itemsize),
                            dtype=NP[d] if d != "BOOL" else "u1")
        if d == "BOOL":
            raw = raw % 2 == 1
        out.append(("layer%d.%s" % (i, d.lower()), d, raw.reshape(shape)))
    return out


def cmd_write(out):
    os.makedirs(out, exist_ok=True)
    rng = random.Random(20240607)
    all_dt = list(NP)
    # Every dtype, names sorted, compact header, metadata.
    t = sorted(arrays(rng, all_dt), key=lambda x: x[0])
    write_st(os.path.join(out, "sorted.safetensors"), t, metadata={"format": "pt", "k": "v"})
    # Header order differs from both sorted order and data order (legal; wbr keeps header order).
    t = arrays(rng, ["F32", "I64", "BF16", "U8", "F16", "I8"])
    names = [n for n, _, _ in t]
    hdr = names[:]
    rng.shuffle(hdr)
    dat = names[::-1]
    write_st(os.path.join(out, "unsorted.safetensors"), t, header_order=hdr, data_order=dat)
    # The reference writer's habits: data sorted by dtype width then name, json.dumps defaults.
    t = arrays(rng, ["F16", "F64", "I32", "U16", "F32"])
    t += [("zero.size", "F32", np.zeros((3, 0), dtype="<f4")),
          ("scalar", "F64", np.array(3.25, dtype="<f8")),
          ("unicode.\u00e9\u00e8", "U8", np.arange(5, dtype="u1"))]
    width = {n: np.dtype(NP[d]).itemsize for n, d, _ in t}
    order = sorted(width, key=lambda n: (-width[n], n))
    write_st(os.path.join(out, "reference_style.safetensors"), t, data_order=order,
             header_order=order, metadata={}, pretty=True)
    # Metadata only, no tensors.
    write_st(os.path.join(out, "no_tensors.safetensors"), [], metadata={"note": "empty"})
    # One tensor larger than wbr's 1 MiB output buffer, between two small ones.
    big = np.frombuffer(rng.randbytes(3 << 20), dtype="<f4").reshape(768, 1024)
    t = [("a", "I16", np.arange(-3, 3, dtype="<i2")), ("big", "F32", big),
         ("z", "U8", np.arange(3, dtype="u1"))]
    write_st(os.path.join(out, "big.safetensors"), t)
    # A manifest written the way people write them by hand or with json.dump(indent=2).
    man = {"tensors": {"stem.0.weight": {"shape": [96, 3, 4, 4], "dtype": "F32"},
                       "head.bias": {"dtype": "bf16", "shape": [1000]},
                       "step": {"shape": [], "dtype": "I64"}}}
    with open(os.path.join(out, "hand.json"), "w") as f:
        json.dump(man, f, indent=2)
    with open(os.path.join(out, "hand.expect.json"), "w") as f:
        json.dump({"tensors": [[n, e["dtype"].upper(), e["shape"]] for n, e in man["tensors"].items()],
                   "metadata": {}}, f)


# ---- the independent reader -------------------------------------------------------------------


def read_st(path):
    """Returns (tensors [(name, dtype, shape, bytes)] in header order, metadata, raw header,
    header entries [(name, begin, end)] in header order, data length)."""
    b = open(path, "rb").read()
    if len(b) < 8:
        die("%s: shorter than 8 bytes" % path)
    n = struct.unpack("<Q", b[:8])[0]
    raw = b[8:8 + n]
    pairs = json.loads(raw.decode("utf-8"), object_pairs_hook=lambda p: p)
    data = b[8 + n:]
    tensors, meta, spans = [], None, []
    for k, v in pairs:
        if k == "__metadata__":
            meta = dict(v)
            continue
        e = dict(v)
        lo, hi = e["data_offsets"]
        tensors.append((k, e["dtype"], list(e["shape"]), data[lo:hi]))
        spans.append((k, lo, hi))
    return tensors, meta or {}, raw, spans, len(data), pairs


def cmd_check_inspect(out, expect):
    got = json.loads(open(out).read(), object_pairs_hook=lambda p: p)
    exp = json.load(open(expect))
    top = dict(got)
    if "tensors" not in top:
        die("no \"tensors\" in wbr's output")
    rows = [[n, dict(e)["dtype"], dict(e)["shape"]] for n, e in top["tensors"]]
    if rows != exp["tensors"]:
        die("wbr lists %s, expected %s" % (rows[:6], exp["tensors"][:6]))


def cmd_check_copy(orig, copy):
    t1, m1, _, _, _, _ = read_st(orig)
    t2, m2, raw, spans, dlen, pairs = read_st(copy)
    if [x[:3] for x in t1] != [x[:3] for x in t2]:
        die("names/dtypes/shapes differ: %s vs %s" % ([x[:3] for x in t1][:4], [x[:3] for x in t2][:4]))
    for (n, d, s, b1), (_, _, _, b2) in zip(t1, t2):
        a1 = np.frombuffer(b1, dtype=NP[d])
        a2 = np.frombuffer(b2, dtype=NP[d])
        # bitwise: NaNs and signed zeros must survive too
        if a1.shape != a2.shape or a1.tobytes() != a2.tobytes():
            die("tensor %r: values differ" % n)
        if a1.size != int(np.prod(s, dtype=np.int64)):
            die("tensor %r: %d elements for shape %s" % (n, a1.size, s))
    if m1 != m2:
        die("metadata %r vs %r" % (m1, m2))
    # The layout wbr promises: 8-byte aligned header padded with spaces, __metadata__ first,
    # offsets contiguous in header order from 0 to the end of the file.
    if len(raw) % 8:
        die("header length %d is not a multiple of 8" % len(raw))
    if raw != raw.rstrip(b" ") + b" " * (len(raw) - len(raw.rstrip(b" "))):
        die("header padding is not spaces")
    if m2 and pairs[0][0] != "__metadata__":
        die("__metadata__ is not the first key")
    pos = 0
    for n, lo, hi in spans:
        if lo != pos:
            die("tensor %r starts at %d, expected %d" % (n, lo, pos))
        pos = hi
    if pos != dlen:
        die("data section is %d bytes, tensors end at %d" % (dlen, pos))


def bf16_to_f32(bits):
    return (bits.astype("<u4") << 16).view("<f4")


def cmd_check_made(path):
    t, meta, _, _, _, _ = read_st(path)
    got = {n: (d, s, np.frombuffer(b, dtype=NP[d]).reshape(s)) for n, d, s, b in t}
    i = np.arange(12, dtype=np.float32)
    want = {
        "net.f32": ("F32", [3, 4], (i * 0.5 - 1.0).reshape(3, 4)),
        "net.f64": ("F64", [5], 1.0 / np.arange(1, 6, dtype=np.float64)),
        "net.bf16": ("BF16", [2, 3], (np.arange(6, dtype=np.float32) ** 2 - 2.5).reshape(2, 3)),
        "net.i64": ("I64", [4], (np.arange(4, dtype=np.int64) - 2) * 1000000000007),
        "net.i32": ("I32", [3], -70000 * np.arange(1, 4, dtype=np.int32)),
        "net.i16": ("I16", [2], np.array([-300, 700], dtype=np.int16)),
        "net.i8": ("I8", [5], (np.arange(5) * 50 - 128).astype(np.int8)),
        "net.u8": ("U8", [7, 1, 1], (np.arange(7) * 37).astype(np.uint8).reshape(7, 1, 1)),
        "net.bool": ("BOOL", [2, 2], np.array([[False, True], [False, True]])),
        "net.u64": ("U64", [2], np.array([2**64 - 1, 3], dtype=np.uint64)),
        "net.empty": ("F32", [2, 0], np.zeros((2, 0), dtype=np.float32)),
        "net.scalar": ("F64", [], np.array(0.5)),
    }
    if list(got) != list(want):
        die("tensors %s, expected %s" % (list(got), list(want)))
    for n, (d, s, v) in want.items():
        gd, gs, ga = got[n]
        if (gd, gs) != (d, s):
            die("%s: %s %s, expected %s %s" % (n, gd, gs, d, s))
        if d == "BF16":
            ga = bf16_to_f32(ga)
        if not np.array_equal(ga, v):
            die("%s: values %s, expected %s" % (n, ga.ravel()[:6], np.asarray(v).ravel()[:6]))
    if meta != {"format": "pt", "made_by": "rewrite.c"}:
        die("metadata %r" % meta)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"write": cmd_write, "check-inspect": cmd_check_inspect, "check-copy": cmd_check_copy,
     "check-made": cmd_check_made}[cmd](*args)


if __name__ == "__main__":
    main()
