#!/usr/bin/python3
"""check.py WORK — the GGUF suite, against ggufpy.py (an independent struct-based writer and
reader following the spec): every plain tensor type and metadata value type read exactly (dims
reversed to outermost-first shapes), GGUF -> GGUF and GGUF -> safetensors -> GGUF keep every
value's type, quantized tensors are refused clearly, and the bad-input table."""
import json
import os
import re
import struct
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "npz"))
import ggufpy  # noqa: E402
from wbrtest import bad_rows, check_ok, check_rejects, result, wbr  # noqa: E402

WORK = sys.argv[1]


def p(name):
    return os.path.join(WORK, name)


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    meta = h.pop("__metadata__", {})
    return meta, {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in h.items()}


rng = np.random.default_rng(3)
tensors = []
for tn, shape in [("F32", [4, 3]), ("F16", [2, 3, 4]), ("BF16", [8]), ("F64", [1, 2, 3, 2]),
                  ("I8", [5]), ("I16", [2, 2]), ("I32", [3, 1]), ("I64", [2]), ("F32", [])]:
    a = (rng.standard_normal(shape) * 50).astype(ggufpy.NP[tn])
    tensors.append((f"blk.{len(tensors)}.{tn.lower()}", tn, shape, a.tobytes()))
tensors.append(("empty", "F32", [0, 5], b""))
KV = [("general.architecture", "str", "llama"), ("general.name", "str", "tiny \"test\"\n"),
      ("u8", "u8", 255), ("i8", "i8", -128), ("u16", "u16", 65535), ("i16", "i16", -32768),
      ("u32", "u32", 4294967295), ("i32", "i32", -2147483648), ("f32", "f32", 0.1),
      ("bool", "bool", True), ("u64", "u64", 2**64 - 1), ("i64", "i64", -2**63),
      ("f64", "f64", 1e-300), ("f32.inf", "f32", float("inf")),
      ("tokenizer.ggml.tokens", "arr", ("str", ["<s>", "a\"b\\c", "é", "\u0001", ""])),
      ("scores", "arr", ("f32", [0.5, -1.25, 3e-7])), ("types", "arr", ("i32", [1, -2, 3])),
      ("empty_arr", "arr", ("u8", [])),
      ("nested", "arr", ("arr", [("u16", [1, 2]), ("u16", [3])])),
      ("general.alignment", "u32", 64)]


def kv_equal(got, want):
    """got: ggufpy.read's dict; want: the KV list. Floats compare as f32/f64 bits."""
    bad = []
    for k, t, v in want:
        g = got.get(k)
        if g is None:
            bad.append(k + " missing")
        elif t == "arr" and v[0] == "f32":
            if g[:2] != ("arr", "f32") or [struct.pack("<f", x) for x in g[2]] != [struct.pack("<f", x) for x in v[1]]:
                bad.append(f"{k}: {g} != {v}")
        elif t == "arr":
            if g[0] != "arr" or g[1] != v[0] or (v[0] != "arr" and g[2] != list(v[1])) or \
               (v[0] == "arr" and [(x[1], x[2]) for x in g[2]] != list(v[1])):
                bad.append(f"{k}: {g} != {v}")
        elif t == "f32":
            if g[0] != "f32" or struct.pack("<f", g[1]) != struct.pack("<f", v):
                bad.append(f"{k}: {g}")
        elif g != (t, v):
            bad.append(f"{k}: {g} != {(t, v)}")
    return bad


src = p("model.gguf")
ggufpy.write(src, KV, tensors, alignment=64)
r = wbr("inspect", src, "--json")
if check_ok("gguf/inspect", r):
    doc = json.loads(r.stdout)
    got = [(n, d["dtype"], d["shape"]) for n, d in doc["tensors"].items()]
    want = [(n, tn, shape) for n, tn, shape, _ in tensors]
    result("gguf/inspect-shapes-outermost-first", got == want, f"{got[:3]} vs {want[:3]}")
    m = doc["metadata"]
    result("gguf/metadata-text", m.get("general.name") == "tiny \"test\"\n" and m.get("u64") == str(2**64 - 1)
           and m.get("i8") == "-128" and m.get("bool") == "true" and m.get("nested") == "[[1,2],[3]]"
           and json.loads(m.get("tokenizer.ggml.tokens")) == ["<s>", "a\"b\\c", "é", "\u0001", ""]
           and json.loads(m["gguf.types"]) == {"u8": "u8", "i8": "i8", "u16": "u16", "i16": "i16", "u32": "u32",
                                               "i32": "i32", "f32": "f32", "bool": "bool", "u64": "u64",
                                               "i64": "i64", "f64": "f64", "f32.inf": "f32",
                                               "tokenizer.ggml.tokens": "[str]", "scores": "[f32]",
                                               "types": "[i32]", "empty_arr": "[u8]", "nested": "[[u16]]",
                                               "general.alignment": "u32"},
           json.dumps(m)[:600])

rules = p("r.wbr")
with open(rules, "w") as f:
    f.write('weightbridge 1\nrename "blk.{i}.{t}" -> "layers.{i}.{t}"\n')


def ren(n):
    return n.replace("blk.", "layers.")


# GGUF -> safetensors: bytes exact.
r = wbr("apply", rules, src, "-o", p("m.safetensors"))
if check_ok("gguf/to-safetensors", r):
    meta, st = read_st(p("m.safetensors"))
    bad = [n for n, tn, shape, raw in tensors if st[ren(n)] != (tn, shape, raw)]
    result("gguf/to-safetensors-bytes", not bad and list(st) == [ren(n) for n, *_ in tensors], f"{bad[:3]}")

# GGUF -> GGUF: every metadata value with its type, tensors exact, alignment kept.
r = wbr("apply", rules, src, "-o", p("out.gguf"))
if check_ok("gguf/to-gguf", r):
    kv, ts = ggufpy.read(p("out.gguf"))
    result("gguf/to-gguf-metadata-typed", not kv_equal(kv, KV), "; ".join(kv_equal(kv, KV)[:3]))
    result("gguf/to-gguf-provenance", kv.get("weightbridge.rules") == ("str", "r.wbr"), str(kv.get("weightbridge.rules")))
    result("gguf/to-gguf-no-types-key", "gguf.types" not in kv, "gguf.types was written as a key")
    bad = [n for (n, tn, shape, raw), t in zip(tensors, ts)
           if (t[0], t[1], t[2], t[3].tobytes()) != (ren(n), tn, shape, raw)]
    result("gguf/to-gguf-tensors", not bad and len(ts) == len(tensors), f"{bad[:3]}")

# GGUF -> safetensors -> GGUF keeps the types (they travel in "gguf.types").
with open(p("back.wbr"), "w") as f:
    f.write('weightbridge 1\nrename "layers.{i}.{t}" -> "blk.{i}.{t}"\n')
r = wbr("apply", p("back.wbr"), p("m.safetensors"), "-o", p("back.gguf"))
if check_ok("gguf/via-safetensors", r):
    kv, ts = ggufpy.read(p("back.gguf"))
    result("gguf/via-safetensors-metadata-typed", not kv_equal(kv, KV), "; ".join(kv_equal(kv, KV)[:3]))
    result("gguf/via-safetensors-tensors", [t[3].tobytes() for t in ts] == [t[3] for t in tensors], "bytes")

# Version 2 files read the same.
ggufpy.write(p("v2.gguf"), KV[:3], tensors[:2], version=2)
r = wbr("inspect", p("v2.gguf"), "--json")
result("gguf/version-2", r.returncode == 0 and list(json.loads(r.stdout)["tensors"]) == [t[0] for t in tensors[:2]],
       r.stderr[-300:])

# A safetensors source (plain string metadata) -> GGUF.
with open(p("plain.safetensors"), "wb") as f:
    h = json.dumps({"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                    "u": {"dtype": "U8", "shape": [2], "data_offsets": [24, 26]}}).encode()
    h += b" " * (-len(h) % 8)
    f.write(struct.pack("<Q", len(h)) + h + np.arange(6, dtype="<f4").tobytes() + b"\1\2")
with open(p("w.wbr"), "w") as f:
    f.write('weightbridge 1\nrename "w" -> "v"\ndrop "u"\n')
r = wbr("apply", p("w.wbr"), p("plain.safetensors"), "-o", p("plain.gguf"))
if check_ok("gguf/from-safetensors", r):
    kv, ts = ggufpy.read(p("plain.gguf"))
    result("gguf/from-safetensors-read-back",
           kv.get("format") == ("str", "pt") and "general.alignment" not in kv and ts[0][0] == "v" and ts[0][2] == [2, 3]
           and ts[0][3].tobytes() == np.arange(6, dtype="<f4").tobytes(), f"{kv} {ts}")
with open(p("u.wbr"), "w") as f:
    f.write('weightbridge 1\nrename "w" -> "v"\n')
r = wbr("apply", p("u.wbr"), p("plain.safetensors"), "-o", p("u8.gguf"))
check_rejects("gguf/write-u8-refused", r, "cannot write tensor 'u' to GGUF: it is U8")
result("gguf/write-u8-nothing-written", not os.path.exists(p("u8.gguf")), "output exists")
with open(p("long.wbr"), "w") as f:
    f.write('weightbridge 1\nrename "w" -> "%s"\ndrop "u"\n' % ("n" * 64))
r = wbr("apply", p("long.wbr"), p("plain.safetensors"), "-o", p("long.gguf"))
check_rejects("gguf/write-long-name-refused", r, "its name is 64 bytes")

# Quantized tensors pass through as opaque blocks: rename and drop work, anything that needs their
# values is refused at plan time, and only a GGUF output can hold them.
qrng = np.random.default_rng(5)
q4k = qrng.integers(0, 256, 144 * 2, dtype=np.uint8).tobytes()  # [2, 256] Q4_K: 2 blocks
q80 = qrng.integers(0, 256, 34 * 4, dtype=np.uint8).tobytes()   # [4, 32] Q8_0: 4 blocks
q = [("tok_embd.weight", "F32", [2, 2], np.arange(4, dtype="<f4").tobytes()),
     ("blk.0.attn_q.weight", "Q4_K", [2, 256], q4k), ("blk.0.ffn_up.weight", "Q8_0", [4, 32], q80)]
ggufpy.write(p("q4.gguf"), [("general.architecture", "str", "llama")], q)
r = wbr("inspect", p("q4.gguf"))
result("gguf/quantized-inspect", r.returncode == 0 and re.search(r"blk\.0\.attn_q\.weight +Q4_K +\[2, 256\] +288", r.stdout)
       is not None and "644 parameters" in r.stdout, r.stdout + r.stderr[-300:])
with open(p("q.wbr"), "w") as f:
    f.write('weightbridge 1\nrename "blk.{i}.*" -> "layers.{i}.*"\n')
r = wbr("apply", p("q.wbr"), p("q4.gguf"), "-o", p("q4-renamed.gguf"))
if check_ok("gguf/quantized-rename", r):
    kv, ts = ggufpy.read(p("q4-renamed.gguf"))
    got = [(n, tn, sh, bytes(v) if isinstance(v, bytes) else v.tobytes()) for n, tn, sh, v in ts]
    want = [("tok_embd.weight", "F32", [2, 2], q[0][3]), ("layers.0.attn_q.weight", "Q4_K", [2, 256], q4k),
            ("layers.0.ffn_up.weight", "Q8_0", [4, 32], q80)]
    result("gguf/quantized-rename-blocks-kept", got == want, str([(n, tn, sh) for n, tn, sh, _ in got]))
    r = wbr("check", p("q.wbr"), p("q4.gguf"), "-t", p("q4-renamed.gguf"))
    result("gguf/quantized-check-against-gguf", r.returncode == 0, r.stderr[-300:])
with open(p("qbad.wbr"), "w") as f:
    f.write('weightbridge 1\ntranspose "blk.0.ffn_up.weight"\n')
r = wbr("plan", p("qbad.wbr"), p("q4.gguf"))
check_rejects("gguf/quantized-op-refused", r, "'blk.0.ffn_up.weight' is quantized (Q8_0): transpose needs its values")
with open(p("qcast.wbr"), "w") as f:
    f.write('weightbridge 1\ncast "blk.0.attn_q.weight" f16\n')
r = wbr("plan", p("qcast.wbr"), p("q4.gguf"))
check_rejects("gguf/quantized-cast-refused", r, "is quantized (Q4_K): cast needs its values")
r = wbr("apply", p("q.wbr"), p("q4.gguf"), "-o", p("q4.safetensors"))
check_rejects("gguf/quantized-to-safetensors-refused", r, "is quantized (Q4_K): a safetensors file cannot hold it")
result("gguf/quantized-to-safetensors-nothing-written", not os.path.exists(p("q4.safetensors")), "output exists")
with open(p("qdrop.wbr"), "w") as f:
    f.write('weightbridge 1\ndrop "blk.*"\n')
r = wbr("apply", p("qdrop.wbr"), p("q4.gguf"), "-o", p("q4-dropped.safetensors"))
check_ok("gguf/quantized-dropped-to-safetensors", r)
q5 = [("w", "Q8_0", [2, 30], b"\0" * 68)]
ggufpy.write(p("qrow.gguf"), [], q5)
r = wbr("inspect", p("qrow.gguf"))
check_rejects("gguf/quantized-partial-block", r, "tensor 'w' is Q8_0, whose rows must be whole blocks of 32 values, but ne[0] is 30")
# Two encodings of the same byte count (9 Q8_0 blocks and 17 Q4_0 blocks are 306 bytes each) are
# still different tensors: checking one against the other names both encodings.
ggufpy.write(p("qa.gguf"), [], [("w", "Q8_0", [9, 32], b"\1" * 306)])
ggufpy.write(p("qb.gguf"), [], [("w", "Q4_0", [17, 32], b"\1" * 306)])
with open(p("same.wbr"), "w") as f:
    f.write('weightbridge 1\n')
r = wbr("check", p("same.wbr"), p("qa.gguf"), "-t", p("qb.gguf"))
# (A target comparison names no rule line, like every "the target wants" error of `check`.)
result("gguf/quantized-encodings-differ", r.returncode == 1 and "tensor 'w' is Q8_0 but the target's is Q4_0"
       in r.stderr and r.stderr.count("error: ") == 1, r.stderr[-400:])
r = wbr("check", p("same.wbr"), p("qa.gguf"), "-t", p("qa.gguf"))
result("gguf/quantized-same-encoding-checks", r.returncode == 0, r.stderr[-300:])


# ---- bad inputs --------------------------------------------------------------------------------

def hdr(nt, nkv, version=3):
    return b"GGUF" + struct.pack("<IQQ", version, nt, nkv)


def gs(s):
    s = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(s)) + s


def kvb(key, vtype, payload):
    return gs(key) + struct.pack("<I", vtype) + payload


def tinfo(name, dims, gtype, off):
    return gs(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", gtype, off)


def pad(b, a=32):
    return b + b"\0" * (-len(b) % a)


G = "m.gguf"
H = hdr(0, 1)  # 24 bytes; a first key starts at offset 24, its type at 24+8+len(key)
arr = lambda et, n: struct.pack("<IQ", et, n)  # noqa: E731
nested = kvb("a", 9, b"".join(arr(9, 1) for _ in range(9)) + arr(0, 0))
w1 = tinfo("w", [2], 0, 0)
rows = [
    ("gguf-empty", G, b"", 'not a GGUF file: it does not start with "GGUF"'),
    ("gguf-magic", G, b"GGUX" + b"\0" * 20, 'not a GGUF file: it does not start with "GGUF"'),
    ("gguf-version-1", G, hdr(0, 0, 1), "GGUF version 1 is not supported (versions 2 and 3 are)"),
    ("gguf-big-endian", G, b"GGUF\0\0\0\3" + b"\0" * 16, "big-endian GGUF files are not supported"),
    ("gguf-truncated", G, b"GGUF\3\0\0\0", "header: needs 8 bytes at offset 8, past the end of the file (8 bytes)"),
    ("gguf-kv-count", G, hdr(0, 1 << 40), "header claims 1099511627776 metadata entries, more than the file's 24 bytes can hold"),
    ("gguf-tensor-count", G, hdr(1 << 40, 0), "header claims 1099511627776 tensors, more than the file's 24 bytes can hold"),
    ("gguf-key-empty", G, H + kvb("", 0, b"\1"), "metadata entry 0: key is empty"),
    ("gguf-key-past-end", G, H + struct.pack("<Q", 1000) + b"abcdef",
     "metadata entry 0: string of 1000 bytes at offset 24 runs past the end of the file (38 bytes)"),
    ("gguf-key-bad-utf8", G, H + kvb(b"\xff", 0, b"\1"), "metadata entry 0: key at offset 32 is not UTF-8 text"),
    ("gguf-dup-key", G, hdr(0, 2) + kvb("a", 0, b"\1") * 2, "metadata 'a' appears twice"),
    ("gguf-value-type", G, H + kvb("a", 13, b"\1"), "metadata 'a': unknown value type 13 (at offset 33)"),
    ("gguf-value-truncated", G, H + kvb("a", 4, b"\1"), "metadata 'a': needs 4 bytes at offset 37, past the end of the file (38 bytes)"),
    ("gguf-bool-2", G, H + kvb("a", 7, b"\2"), "metadata 'a': bool at offset 37 is 2, expected 0 or 1"),
    ("gguf-string-nul", G, H + kvb("a", 8, gs(b"x\0y")), "metadata 'a': string at offset 45 contains a NUL byte"),
    ("gguf-string-utf8", G, H + kvb("a", 8, gs(b"\xc3")), "metadata 'a': string at offset 45 is not valid UTF-8"),
    ("gguf-array-huge", G, H + kvb("a", 9, arr(4, 1 << 40)),
     "metadata 'a': array of 1099511627776 u32 values at offset 37 cannot fit in the 0 bytes left in the file"),
    ("gguf-array-type", G, H + kvb("a", 9, arr(13, 1)), "metadata 'a': array of unknown value type 13 (at offset 37)"),
    ("gguf-array-nested-deep", G, H + nested, "metadata 'a': arrays nested deeper than 8 levels"),
    ("gguf-alignment-type", G, H + kvb("general.alignment", 10, struct.pack("<Q", 32)),
     "metadata 'general.alignment' is of type u64, expected u32"),
    ("gguf-alignment-3", G, H + kvb("general.alignment", 4, struct.pack("<I", 3)),
     "metadata 'general.alignment' is 3, expected a power of two"),
    ("gguf-alignment-0", G, H + kvb("general.alignment", 4, struct.pack("<I", 0)),
     "metadata 'general.alignment' is 0, expected a power of two"),
    ("gguf-reserved-key", G, H + kvb("gguf.types", 8, gs("{}")),
     "metadata key 'gguf.types' is reserved by weightbridge (it records the types of GGUF values)"),
    ("gguf-name-empty", G, hdr(1, 0) + tinfo("", [2], 0, 0), "tensor info 0: tensor name is empty"),
    ("gguf-5-dims", G, hdr(1, 0) + tinfo("w", [1] * 5, 0, 0), "tensor 'w' has 5 dimensions, GGUF allows at most 4"),
    ("gguf-dim-huge", G, hdr(1, 0) + tinfo("w", [1 << 63], 0, 0), "tensor 'w': ne[0] is 9223372036854775808, larger than 2^53"),
    ("gguf-dim-2^53+1", G, hdr(1, 0) + tinfo("w", [0, (1 << 53) + 1], 0, 0), "tensor 'w': ne[1] is 9007199254740993, larger than 2^53"),
    ("gguf-overflow", G, pad(hdr(1, 0) + tinfo("w", [1 << 40, 1 << 40], 0, 0)),
     "tensor 'w': shape [1099511627776, 1099511627776] of F32 needs more bytes than fit in 64 bits"),
    ("gguf-tensor-type", G, hdr(1, 0) + tinfo("w", [2], 4, 0), "tensor 'w' has unknown tensor type 4"),
    ("gguf-tensor-type-huge", G, hdr(1, 0) + tinfo("w", [2], 1000, 0), "tensor 'w' has unknown tensor type 1000"),
    ("gguf-quantized-truncated", G, hdr(1, 0) + tinfo("w", [32], 8, 0),
     "tensor 'w': 34 bytes at data offset 0 run past the end of the file"),
    ("gguf-dup-tensor", G, pad(hdr(2, 0) + w1 + tinfo("w", [2], 0, 32)) + b"\0" * 64, "tensor 'w' appears twice"),
    ("gguf-offset", G, pad(hdr(1, 0) + tinfo("w", [2], 0, 32)) + b"\0" * 64, "tensor 'w' has data offset 32, expected 0"),
    ("gguf-offset-order", G, pad(hdr(2, 0) + tinfo("a", [2], 0, 32) + tinfo("b", [2], 0, 0)) + b"\0" * 64,
     "tensor 'a' has data offset 32, expected 0"),
    ("gguf-data-past-end", G, pad(hdr(1, 0) + tinfo("w", [16], 0, 0)) + b"\0" * 8,
     "tensor 'w': 64 bytes at data offset 0 run past the end of the file (the data section starts at 64, the file has 72 bytes)"),
    ("gguf-info-truncated", G, hdr(1, 0) + gs("w") + struct.pack("<I", 2) + b"\0" * 16,
     "tensor 'w': needs 4 bytes at offset 53, past the end of the file (53 bytes)"),
]
bad_rows("gguf", rows, WORK)
