#!/usr/bin/python3
"""check.py WORK — sharded safetensors: Hugging Face-style checkpoints (NAME.safetensors.index.json
beside NAME-0000K-of-0000N.safetensors, written here in Python as transformers does) read
exactly and in weight-map order; the index output is read back by a Python reader; a 2-shard
gpt2 checkpoint converts through rules/gpt2_hf_to_nanogpt.wbr to the truth's values; bad inputs."""
import json
import os
import struct
import subprocess
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "npz"))
from wbrtest import TOP, WBR, bad_rows, check_ok, check_rejects, result, wbr  # noqa: E402

WORK = sys.argv[1]
DT = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1"}
check_pair = {}
_src = open(os.path.join(TOP, "tests", "fixtures", "check_pair.py")).read()
exec(compile(_src.split("\ndef main(")[0], "check_pair.py", "exec"), check_pair)


def p(*names):
    return os.path.join(WORK, *names)


def st_bytes(tensors, meta=None):
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a).tobytes()
        dt = [k for k, v in DT.items() if np.dtype(v) == a.dtype][0]
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"".join(blobs)


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    meta = h.pop("__metadata__", {})
    out = {}
    end = 0
    for k, v in h.items():
        b, e = v["data_offsets"]
        end = max(end, e)
        out[k] = np.frombuffer(data[b:e], DT[v["dtype"]]).reshape(v["shape"])
    assert end == len(data), "data section not tiled"
    return meta, out


def read_sharded(index):
    """A Python reader of an index and its shards, as transformers loads them."""
    doc = json.load(open(index))
    d = os.path.dirname(index)
    shards = {}
    for f in dict.fromkeys(doc["weight_map"].values()):
        assert "/" not in f
        shards[f] = read_st(os.path.join(d, f))[1]
    out = {}
    for name, f in doc["weight_map"].items():
        out[name] = shards[f][name]
    assert sum(len(s) for s in shards.values()) == len(out), "shards hold unlisted tensors"
    return doc, shards, out


def write_sharded(d, prefix, parts, sort_keys=True):
    """parts: list of dicts (one per shard). Writes shards and the index like save_pretrained."""
    os.makedirs(d, exist_ok=True)
    n = len(parts)
    wm, total = {}, 0
    for k, part in enumerate(parts):
        f = f"{prefix}-{k + 1:05d}-of-{n:05d}.safetensors"
        with open(os.path.join(d, f), "wb") as fh:
            fh.write(st_bytes(part, {"format": "pt"}))
        for name, a in part.items():
            wm[name] = f
            total += a.nbytes
    idx = os.path.join(d, f"{prefix}.safetensors.index.json")
    with open(idx, "w") as fh:
        json.dump({"metadata": {"total_size": total}, "weight_map": wm}, fh, indent=2, sort_keys=sort_keys)
    return idx


rng = np.random.default_rng(11)
part1 = {"model.embed.weight": rng.standard_normal((10, 4)).astype("<f4"),
         "model.layers.0.w": rng.standard_normal((4, 4)).astype("<f2"),
         "model.layers.0.b": np.arange(4, dtype="<i8")}
part2 = {"model.layers.1.w": rng.standard_normal((4, 4)).astype("<f2"),
         "model.norm.scale": np.ones((), dtype="<f4"), "model.empty": np.zeros((0, 2), dtype="<f4")}
allt = {**part1, **part2}
idx = write_sharded(p("hf"), "model", [part1, part2])
order = list(json.load(open(idx))["weight_map"])
r = wbr("inspect", idx, "--json")
if check_ok("sharded/inspect", r):
    doc = json.loads(r.stdout)
    got = [(n, d["shape"]) for n, d in doc["tensors"].items()]
    result("sharded/inspect-weight-map-order", got == [(n, list(allt[n].shape)) for n in order], str(got[:3]))
    result("sharded/inspect-metadata", doc.get("metadata") == {"format": "pt"}, str(doc.get("metadata")))

rules = p("r.wbr")
with open(rules, "w") as f:
    f.write('weightbridge 1\nrename "model.*" -> "m.*"\n')
r = wbr("apply", rules, idx, "-o", p("one.safetensors"))
if check_ok("sharded/to-safetensors", r):
    _, st = read_st(p("one.safetensors"))
    bad = [n for n in order if st["m." + n[6:]].tobytes() != allt[n].tobytes()]
    result("sharded/to-safetensors-bytes", not bad and list(st) == ["m." + n[6:] for n in order], str(bad[:3]))

os.makedirs(p("out"))
r = wbr("apply", rules, idx, "-o", p("out", "conv.safetensors.index.json"))
if check_ok("sharded/to-sharded", r):
    doc, shards, out = read_sharded(p("out", "conv.safetensors.index.json"))
    bad = [n for n in order if out["m." + n[6:]].tobytes() != allt[n].tobytes()]
    result("sharded/to-sharded-python-reads", not bad and list(out) == ["m." + n[6:] for n in order], str(bad[:3]))
    result("sharded/to-sharded-names", list(shards) == ["conv-00001-of-00001.safetensors"], str(list(shards)))
    result("sharded/to-sharded-total-size", doc["metadata"]["total_size"] == sum(a.nbytes for a in allt.values()),
           str(doc["metadata"]))
    result("sharded/to-sharded-no-temp-files",
           sorted(os.listdir(p("out"))) == ["conv-00001-of-00001.safetensors", "conv.safetensors.index.json"],
           str(os.listdir(p("out"))))
    r = wbr("inspect", p("out", "conv.safetensors.index.json"), "--json")
    result("sharded/to-sharded-reread", r.returncode == 0 and len(json.loads(r.stdout)["tensors"]) == len(allt),
           r.stderr[-300:])

# --max-shard-size: several shards, each within the limit (a bigger tensor alone, zero-byte
# tensors ride along with whatever shard they fall into).
r = wbr("apply", "--max-shard-size", "100", rules, idx, "-o", p("out", "small.safetensors.index.json"))
if check_ok("sharded/max-shard-size", r):
    doc, shards, out = read_sharded(p("out", "small.safetensors.index.json"))
    sizes = [sum(a.nbytes for a in s.values()) for s in shards.values()]
    result("sharded/max-shard-size-split", len(shards) > 1 and all(s <= 100 or sum(1 for a in v.values() if a.nbytes) == 1 for s, v in zip(sizes, shards.values()))
           and all(out["m." + n[6:]].tobytes() == allt[n].tobytes() for n in order), f"{sizes}")

# A real pair from a 2-shard checkpoint: gpt2 (Hugging Face names) -> nanoGPT.
pair = os.path.join(TOP, "tests", "fixtures", "gpt2_hf_to_nanogpt")
a = json.load(open(os.path.join(pair, "a.json")))["tensors"]
b = json.load(open(os.path.join(pair, "b.json")))["tensors"]
truth = json.load(open(os.path.join(pair, "truth.json")))["targets"]
rng = np.random.default_rng(1234)
src = {n: rng.standard_normal(d["shape"]).astype(DT[d["dtype"]]) for n, d in a.items()}
names = list(src)
half = len(names) // 2
gidx = write_sharded(p("gpt2"), "model", [{n: src[n] for n in names[:half]}, {n: src[n] for n in names[half:]}])
r = wbr("apply", os.path.join(TOP, "rules", "gpt2_hf_to_nanogpt.wbr"), gidx, "-t", os.path.join(pair, "b.json"),
        "-o", p("gpt2.safetensors"))
if check_ok("sharded/gpt2/apply", r):
    _, st = read_st(p("gpt2.safetensors"))
    bad = [n for n, tr in truth.items()
           if check_pair["replay"]([src[s] for s in tr["from"]], tr["ops"]).tobytes() != st[n].tobytes()]
    result("sharded/gpt2/values-equal-truth", not bad and list(st) == list(b), str(bad[:4]))

# The output is protected like any: writing the index over the input is refused.
r = wbr("apply", rules, idx, "-o", idx)
result("sharded/output-is-input", r.returncode == 2 and "the output is the same file as the input" in r.stderr,
       f"exit {r.returncode}: {r.stderr[-300:]}")


# ---- bad inputs --------------------------------------------------------------------------------

I = "m.safetensors.index.json"
S1, S2 = "s1.safetensors", "s2.safetensors"
x = np.zeros(2, "<f4")


def ix(wm, **top):
    doc = dict(top)
    doc["weight_map"] = wm
    return json.dumps(doc)


def files(index, **shards):
    d = {I: index}
    d.update({k.replace("_", ".") + ".safetensors": v for k, v in shards.items()})
    return d


rows = [
    ("idx-not-json", I, "{\"weight_map\": ", "index is not valid JSON: unexpected end of JSON at byte 15"),
    ("idx-list", I, "[]", "index is a list, expected an object"),
    ("idx-no-map", I, '{"metadata": {}}', 'index has no "weight_map"'),
    ("idx-map-list", I, '{"weight_map": []}', '"weight_map" is a list, expected an object mapping tensor names to shard files'),
    ("idx-meta-list", I, '{"metadata": [], "weight_map": {}}', '"metadata" is a list, expected an object'),
    ("idx-dup-top", I, '{"weight_map": {}, "weight_map": {}}', 'top-level key "weight_map" appears twice'),
    ("idx-dup-tensor", I, '{"weight_map": {"a": "s1.safetensors", "a": "s1.safetensors"}}',
     "tensor 'a' appears twice in \"weight_map\""),
    ("idx-empty-name", I, ix({"": S1}), '"weight_map" has a tensor with an empty name'),
    ("idx-value-number", I, ix({"a": 1}), "\"weight_map\": tensor 'a' maps to a number, expected a shard file name"),
    ("idx-traversal", I, ix({"a": "../s1.safetensors"}),
     "\"weight_map\": tensor 'a' maps to '../s1.safetensors', which is not a file name in the index's directory"),
    ("idx-absolute", I, ix({"a": "/etc/passwd.safetensors"}),
     "\"weight_map\": tensor 'a' maps to '/etc/passwd.safetensors', which is not a file name in the index's directory"),
    ("idx-dotdot", I, ix({"a": ".."}), "\"weight_map\": tensor 'a' maps to '..', which is not a file name in the index's directory"),
    ("idx-backslash", I, ix({"a": "..\\s1.safetensors"}),
     "\"weight_map\": tensor 'a' maps to '..\\s1.safetensors', which is not a file name in the index's directory"),
    ("idx-empty-file-name", I, ix({"a": ""}), "\"weight_map\": tensor 'a' maps to '', which is not a file name in the index's directory"),
    ("idx-not-safetensors", I, ix({"a": "s1.bin"}), "\"weight_map\": tensor 'a' maps to 's1.bin', which is not a .safetensors file"),
    ("idx-missing-shard", I, ix({"a": S1}), "shard 's1.safetensors' named in \"weight_map\" does not exist"),
    ("idx-bad-shard", I, files(ix({"a": S1}), s1=b"\1\2\3"),
     "file is 3 bytes: too short for safetensors (it starts with an 8-byte header length)", S1),
    ("idx-not-in-shard", I, files(ix({"a": S1, "b": S1}), s1=st_bytes({"a": x})),
     "\"weight_map\" puts tensor 'b' in 's1.safetensors', which has no such tensor"),
    ("idx-unlisted", I, files(ix({"a": S1}), s1=st_bytes({"a": x, "z": x})),
     "shard 's1.safetensors' holds tensor 'z', which \"weight_map\" does not list"),
    ("idx-two-shards", I, files(ix({"a": S1, "b": S2}), s1=st_bytes({"a": x}), s2=st_bytes({"b": x, "a": x})),
     "shard 's2.safetensors' holds tensor 'a', which \"weight_map\" puts in 's1.safetensors'"),
]
bad_rows("sharded", rows, WORK)
