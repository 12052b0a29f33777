"""check.py -- `wbr match --layouts SRC:TARGET` (wbr_match_options version 3) by forward pass: JAX-
style sources whose names do not say their layout (Haiku `w` [in, out], Flax Dense `weight` [in,
out], a PyTorch parameter called `kernel` [out, in]) matched onto PyTorch-named targets, applied
with wbr, and the layers evaluated with NumPy on both sides. Prints PASS/FAIL lines."""
import json
import os
import struct
import subprocess
import sys

import numpy as np

WBR, TMP = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)


def save_st(path, tensors):
    """A safetensors file of float32 arrays, written by hand (the reader under test is wbr's)."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load_st(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, d in header.items():
        if name == "__metadata__":
            continue
        a, b = d["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], np.float32).reshape(d["shape"])
    return out


def manifest(path, shapes):
    with open(path, "w") as f:
        json.dump({"tensors": {k: {"shape": list(v), "dtype": "F32"} for k, v in shapes.items()}}, f)


def wbr(*args):
    p = subprocess.run([WBR] + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def case(cid, src, tgt_shapes, layouts, forward, want_exit=0, want_text=None):
    """Match src (dict of arrays) onto a manifest of tgt_shapes with --layouts (or none), apply,
    and compare forward(src_arrays, out_arrays) -> list of (got, want)."""
    d = os.path.join(TMP, cid)
    os.makedirs(d, exist_ok=True)
    sp, tp, rp, op = (os.path.join(d, x) for x in ("src.safetensors", "tgt.json", "r.wbr", "out.safetensors"))
    save_st(sp, src)
    manifest(tp, tgt_shapes)
    args = ["match", sp, tp, "-o", rp] + (["--layouts", layouts] if layouts else [])
    rc, out, err = wbr(*args)
    if rc != want_exit:
        return print("FAIL: layouts/%s: match exited %d, wanted %d: %s" % (cid, rc, want_exit, err[-400:]))
    if want_text is not None:
        text = open(rp).read() if os.path.exists(rp) else out
        ok = want_text in text + err
        return print(("PASS: layouts/%s" % cid) if ok else "FAIL: layouts/%s: no %r in the draft/stderr" % (cid, want_text))
    rc, out, err = wbr("apply", rp, sp, "-o", op)
    if rc != 0:
        return print("FAIL: layouts/%s: apply exited %d: %s" % (cid, rc, err[-400:]))
    res = load_st(op)
    for got, want in forward(src, res):
        if not np.allclose(got, want, rtol=1e-5, atol=1e-5):
            return print("FAIL: layouts/%s: forward pass differs (max %g)" % (cid, np.abs(got - want).max()))
    print("PASS: layouts/%s" % cid)


x16 = rng.standard_normal((5, 16)).astype(np.float32)
x64 = rng.standard_normal((5, 64)).astype(np.float32)


def torch_linear(x, w, b):
    return x @ w.T + b  # PyTorch: weight [out, in]


# One square Haiku Linear: nothing in the names or shapes says [in, out].
hk1 = {"linear/w": rng.standard_normal((16, 16)), "linear/b": rng.standard_normal(16)}
pt1 = {"fc.weight": (16, 16), "fc.bias": (16,)}
fw1 = lambda s, o: [(torch_linear(x16, o["fc.weight"], o["fc.bias"]), x16 @ s["linear/w"] + s["linear/b"])]
case("haiku-square-with-layouts", hk1, pt1, "haiku:pytorch", fw1)

# Two Haiku Linears in separate scopes: the non-square one is transposed by shape, the square one
# has no layer-mate to follow (without --layouts it is drafted as is: wrong, see the report).
hk2 = {"mlp/linear/w": rng.standard_normal((64, 64)), "mlp/linear/b": rng.standard_normal(64),
       "mlp/linear_1/w": rng.standard_normal((64, 256)), "mlp/linear_1/b": rng.standard_normal(256)}
pt2 = {"mlp.fc1.weight": (64, 64), "mlp.fc1.bias": (64,), "mlp.fc2.weight": (256, 64), "mlp.fc2.bias": (256,)}


def fw2(s, o):
    h_src = x64 @ s["mlp/linear/w"] + s["mlp/linear/b"]
    h = torch_linear(x64, o["mlp.fc1.weight"], o["mlp.fc1.bias"])
    return [(h, h_src), (torch_linear(h, o["mlp.fc2.weight"], o["mlp.fc2.bias"]),
                         h_src @ s["mlp/linear_1/w"] + s["mlp/linear_1/b"])]


case("haiku-mlp-with-layouts", hk2, pt2, "haiku:pytorch", fw2)

# A Flax model flattened with `weight` for its Dense kernels: only --layouts says [in, out].
fx = {"Dense_0/weight": rng.standard_normal((16, 16)), "Dense_0/bias": rng.standard_normal(16)}
fw3 = lambda s, o: [(torch_linear(x16, o["fc.weight"], o["fc.bias"]), x16 @ s["Dense_0/weight"] + s["Dense_0/bias"])]
case("flax-weight-with-layouts", fx, pt1, "flax:pytorch", fw3)

# A PyTorch module whose [out, in] parameter is called `kernel`: pytorch says it is no Flax kernel.
pk = {"attn.kernel": rng.standard_normal((32, 16)), "attn.bias": rng.standard_normal(32)}
fw4 = lambda s, o: [(torch_linear(x16, o["attn.weight"], o["attn.bias"]), torch_linear(x16, s["attn.kernel"], s["attn.bias"]))]
case("pytorch-kernel-with-layouts", pk, {"attn.weight": (32, 16), "attn.bias": (32,)}, "pytorch:pytorch", fw4)

# Bad values: exit 2 with the list of names.
d = os.path.join(TMP, "bad")
os.makedirs(d, exist_ok=True)
save_st(os.path.join(d, "s.safetensors"), hk1)
manifest(os.path.join(d, "t.json"), pt1)
for cid, val, want in (("bad-name", "jax:pytorch", "unknown layout convention 'jax' for the source"),
                       ("bad-target-name", "haiku:torch", "unknown layout convention 'torch' for the target"),
                       ("no-colon", "haiku", "--layouts wants SRC:TARGET")):
    rc, out, err = wbr("match", os.path.join(d, "s.safetensors"), os.path.join(d, "t.json"), "--layouts", val)
    ok = rc == 2 and want in err and out == ""
    print(("PASS: layouts/%s" % cid) if ok else "FAIL: layouts/%s: exit %d, stderr %r" % (cid, rc, err[-300:]))
