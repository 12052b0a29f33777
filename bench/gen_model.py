#!/usr/bin/python3
"""gen_model.py — inputs for bench/run.sh, seeded and written straight to disk.

  gen_model.py weights DIR full|small   DIR/model.safetensors (a LLaMA-like layout with a conv stem,
                                        ~1.4 GiB full, ~90 MiB small), the rules DIR/rename.wbr,
                                        heavy.wbr, transpose.wbr and cast.wbr, and prints shell
                                        assignments describing them
  gen_model.py plan DIR                 DIR/src.json (10,000 tensors), DIR/target.json and
                                        DIR/rules.wbr (200 statements) mapping one onto the other
  gen_model.py verify SRC OUT           checks a few tensors of heavy.wbr's output against numpy
                                        (transpose/permute, then BF16 round-to-nearest-even)

The safetensors file follows the specification directly (u64 header length, JSON header padded
to 8 bytes, raw little-endian data) and is written tensor by tensor in row chunks, so Python
never holds more than ~64 MiB of it. The plan's target is derived here, independently of
weightbridge, by applying the same mapping in Python."""
import json
import os
import re
import struct
import sys

import numpy as np

CHUNK_ELEMS = 16 << 20  # elements generated at a time (64 MiB of F32)


def llama_layout(scale):
    """(name, shape, dtype) in definition order. full: hidden 4096, FFN 11008, vocab 32000,
    layer 0 in F32 and layer 1 in F16 (as in mixed checkpoints), a 3-conv stem in HWIO."""
    d, ff, vocab, c = (4096, 11008, 32000, 512) if scale == "full" else (1024, 2752, 8000, 128)
    for k in range(3):
        yield f"stem.conv{k}.weight", (3, 3, c, c), "F32"  # Flax/TF HWIO
        yield f"stem.conv{k}.bias", (c,), "F32"
    yield "tok_embeddings.weight", (vocab, d), "F16"
    for i, wdt in enumerate(("F32", "F16")):
        p = f"layers.{i}."
        yield p + "attention_norm.weight", (d,), "F32"
        for w in ("wq", "wk", "wv", "wo"):
            yield p + f"attention.{w}.weight", (d, d), wdt
            yield p + f"attention.{w}.bias", (d,), wdt
        yield p + "ffn_norm.weight", (d,), "F32"
        yield p + "feed_forward.w1.weight", (ff, d), wdt
        yield p + "feed_forward.w1.bias", (ff,), wdt
        yield p + "feed_forward.w2.weight", (d, ff), wdt
        yield p + "feed_forward.w2.bias", (d,), wdt
        yield p + "feed_forward.w3.weight", (ff, d), wdt
        yield p + "feed_forward.w3.bias", (ff,), wdt
    yield "norm.weight", (d,), "F32"


NP = {"F32": "<f4", "F16": "<f2"}
SIZE = {"F32": 4, "F16": 2, "BF16": 2}

HEAVY_RULES = """weightbridge 1
# Transpose/cast-heavy: every 2-D weight transposed, conv kernels HWIO -> OIHW, all to BF16.
permute /^stem\\.conv\\d\\.weight$/ (3, 2, 0, 1)
transpose "tok_embeddings.weight"
transpose /^layers\\.\\d+\\.(attention\\.w[qkvo]|feed_forward\\.w[123])\\.weight$/
cast "*" bf16
"""

TRANSPOSE_RULES = """weightbridge 1
# Transpose-heavy: every 2-D tensor transposed (the torch script: t().contiguous()), the rest copied.
transpose "tok_embeddings.weight"
transpose /^layers\\.\\d+\\.(attention\\.w[qkvo]|feed_forward\\.w[123])\\.weight$/
"""

CAST_RULES = """weightbridge 1
# Cast: every tensor to BF16 (the torch script: .to(torch.bfloat16)).
cast "*" bf16
"""

RENAME_RULES = """weightbridge 1
# Rename-only: every tensor gets a prefix; the bytes are copied unchanged.
rename /^/ -> "model."
"""


def nbytes(shape, dt):
    n = SIZE[dt]
    for s in shape:
        n *= s
    return n


def write_weights(out_dir, scale):
    layout = list(llama_layout(scale))
    header, off = {"__metadata__": {"format": "pt", "source": "weightbridge bench"}}, 0
    for name, shape, dt in layout:
        n = nbytes(shape, dt)
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    rng = np.random.default_rng(20240607)
    path = os.path.join(out_dir, "model.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for name, shape, dt in layout:
            rows = shape[0]
            row_elems = 1
            for s in shape[1:]:
                row_elems *= s
            step = max(1, CHUNK_ELEMS // max(1, row_elems))
            for r in range(0, rows, step):
                k = min(step, rows - r) * row_elems
                a = rng.standard_normal(k, dtype=np.float32)
                a *= 0.02
                f.write(a.astype(NP[dt]).tobytes())
    for fname, text in (("rename.wbr", RENAME_RULES), ("heavy.wbr", HEAVY_RULES),
                        ("transpose.wbr", TRANSPOSE_RULES), ("cast.wbr", CAST_RULES)):
        with open(os.path.join(out_dir, fname), "w") as f:
            f.write(text)
    # Figures run.sh needs: file size, tensor count, heavy output size and the largest tensor
    # the heavy rules copy (permuted tensors are materialised; casts stream through a scratch).
    heavy_re = re.compile(r"^(stem\.conv\d\.weight|tok_embeddings\.weight|layers\.\d+\."
                          r"(attention\.w[qkvo]|feed_forward\.w[123])\.weight)$")
    out_bytes = sum(nbytes(s, "BF16") for _, s, _ in layout)
    largest = max(nbytes(s, dt) for n, s, dt in layout if heavy_re.match(n))
    largest_name = max((nbytes(s, dt), n) for n, s, dt in layout if heavy_re.match(n))[1]
    biggest = max(nbytes(s, dt) for _, s, dt in layout)
    print(f"MODEL_BYTES={os.path.getsize(path)}")
    print(f"MODEL_DATA={off}")
    print(f"MODEL_TENSORS={len(layout)}")
    print(f"HEAVY_OUT_DATA={out_bytes}")
    print(f"HEAVY_LARGEST_COPY={largest}")
    print(f"HEAVY_LARGEST_NAME={largest_name}")
    print(f"LARGEST_TENSOR={biggest}")


# ---- plan/check: 10,000 tensors, 200 statements --------------------------------------------------
# Source: a Hugging Face-like encoder of 40 stages x 10 layers x 25 tensors. Target: timm-like flat
# blocks. Stage s layer j becomes block "<s><j>" (blocks.0..399) by one regex per stage.
STAGES, LAYERS, D, H = 40, 10, 64, 4
KINDS = [  # (source suffix, target suffix, source shape, target op)
    ("attention.attention.query.weight", "attn.q.weight", (D, D), None),
    ("attention.attention.query.bias", "attn.q.bias", (D,), None),
    ("attention.attention.key.weight", "attn.k.weight", (D, D), None),
    ("attention.attention.key.bias", "attn.k.bias", (D,), None),
    ("attention.attention.value.weight", "attn.v.weight", (D, D), None),
    ("attention.attention.value.bias", "attn.v.bias", (D,), None),
    ("attention.output.dense.weight", "attn.proj.weight", (D, D), None),
    ("attention.output.dense.bias", "attn.proj.bias", (D,), None),
    ("intermediate.dense.weight", "mlp.fc1.weight", (4 * D, D), None),
    ("intermediate.dense.bias", "mlp.fc1.bias", (4 * D,), None),
    ("output.dense.weight", "mlp.fc2.weight", (D, 4 * D), None),
    ("output.dense.bias", "mlp.fc2.bias", (D,), None),
    ("layernorm_before.weight", "norm1.weight", (D,), None),
    ("layernorm_before.bias", "norm1.bias", (D,), None),
    ("layernorm_after.weight", "norm2.weight", (D,), None),
    ("layernorm_after.bias", "norm2.bias", (D,), None),
    ("adapter.down.weight", "adapter.fc1.weight", (D, D // 4), "T"),  # Conv1D [in, out]
    ("adapter.down.bias", "adapter.fc1.bias", (D // 4,), None),
    ("adapter.up.weight", "adapter.fc2.weight", (D // 4, D), "T"),
    ("adapter.up.bias", "adapter.fc2.bias", (D,), None),
    ("attention.attention.rel_pos_h", "attn.rel_pos_h", (27, D // H), None),
    ("attention.attention.rel_pos_w", "attn.rel_pos_w", (27, D // H), None),
    ("layer_scale1.lambda1", "ls1.gamma", (D, 1, 1), "R"),
    ("layer_scale2.lambda1", "ls2.gamma", (D, 1, 1), "R"),
    ("conv.dwconv.kernel", "conv.dwconv.weight", (3, 3, 1, D), "P"),  # HWIO -> OIHW
]


def stage_dtype(s):
    return ("F16", "BF16")[s % 2]


def write_plan(out_dir):
    src, tgt = {}, {}
    for s in range(STAGES):
        for j in range(LAYERS):
            blk = f"{s}{j}" if s else f"{j}"
            for ssuf, tsuf, shape, op in KINDS:
                src[f"encoder.stages.{s}.layers.{j}.{ssuf}"] = {"shape": list(shape), "dtype": "F32"}
                if op == "T":
                    shape = (shape[1], shape[0])
                elif op == "R":
                    shape = (shape[0],)
                elif op == "P":
                    shape = (shape[3], shape[2], shape[0], shape[1])
                tgt[f"blocks.{blk}.{tsuf}"] = {"shape": list(shape), "dtype": stage_dtype(s)}
    stmts = []
    # 40: flatten the stages (regex with a capture; the stage number is a literal prefix).
    for s in range(STAGES):
        to = f"blocks.{s}$1." if s else "blocks.$1."
        stmts.append(f'rename /^encoder\\.stages\\.{s}\\.layers\\.(\\d)\\./ -> "{to}"')
    # 9: tensors some checkpoints carry and this one does not (optional: matching nothing is fine).
    for extra in ("num_batches_tracked", "running_mean", "running_var", "attn_mask", "masked_bias",
                  "position_ids", "relative_position_index", "inv_freq", "rotary_emb"):
        stmts.append(f'optional drop "*.{extra}"')
    # 25: one rename per kind: globs with named captures, some regexes.
    for k, (ssuf, tsuf, _, _) in enumerate(KINDS):
        if k % 3 == 2:
            stmts.append(f'rename /^blocks\\.(\\d+)\\.{re.escape(ssuf)}$/ -> "blocks.$1.{tsuf}"')
        else:
            stmts.append(f'rename "blocks.{{i}}.{ssuf}" -> "blocks.{{i}}.{tsuf}"')
    # 5: layout changes.
    stmts.append('transpose "blocks.{i}.adapter.fc1.weight"')
    stmts.append('transpose "blocks.{i}.adapter.fc2.weight"')
    stmts.append('reshape "blocks.{i}.ls1.gamma" [-1]')
    stmts.append('reshape "blocks.{i}.ls2.gamma" [-1]')
    stmts.append('permute "blocks.{i}.conv.dwconv.weight" (3, 2, 0, 1)')
    # 40: the dtype of each stage (mixed precision, alternating F16/BF16).
    for s in range(STAGES):
        pat = f"/^blocks\\.{s}\\d\\./" if s else "/^blocks\\.\\d\\./"
        stmts.append(f"cast {pat} {stage_dtype(s).lower()}")
    # 40: per-stage count assertions; 40: per-stage shape assertions.
    for s in range(STAGES):
        pat = f"/^blocks\\.{s}\\d\\.attn\\.q\\.weight$/" if s else "/^blocks\\.\\d\\.attn\\.q\\.weight$/"
        stmts.append(f"expect {pat} count {LAYERS}")
    for s in range(STAGES):
        pat = f'"blocks.{s}{{j}}.mlp.fc1.weight"' if s else '/^blocks\\.\\d\\.mlp\\.fc1\\.weight$/'
        stmts.append(f"expect {pat} shape [{4 * D}, {D}]")
    # 1: the overall count.
    stmts.append(f'expect "blocks.{{i}}.norm1.weight" count {STAGES * LAYERS}')
    assert len(stmts) == 200, len(stmts)
    assert len(src) == 10000 and len(tgt) == 10000
    with open(os.path.join(out_dir, "rules.wbr"), "w") as f:
        f.write("weightbridge 1\n# bench: 10,000 tensors, 200 statements\n" + "\n".join(stmts) + "\n")
    for fname, d in (("src.json", src), ("target.json", tgt)):
        with open(os.path.join(out_dir, fname), "w") as f:
            json.dump({"tensors": d}, f)


# ---- verify the heavy apply's output independently ----------------------------------------------
def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header, 8 + n


def tensor(path, header, base, name):
    h = header[name]
    a, b = h["data_offsets"]
    dt = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}[h["dtype"]]
    count = (b - a) // np.dtype(dt).itemsize
    return np.memmap(path, dtype=dt, mode="r", offset=base + a, shape=(count,)).reshape(h["shape"]), h["dtype"]


def to_bf16_bits(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)  # no NaN in these inputs


def verify(src, out):
    sh, sb = read_safetensors(src)
    oh, ob = read_safetensors(out)
    meta = oh.get("__metadata__", {})
    assert "weightbridge.rules_hash" in meta, "no provenance in the output's __metadata__"
    checks = [("stem.conv1.weight", (3, 2, 0, 1)), ("layers.1.attention.wk.weight", (1, 0)),
              ("layers.0.attention.wo.weight", (1, 0)), ("layers.1.ffn_norm.weight", None)]
    for name, perm in checks:
        x, _ = tensor(src, sh, sb, name)
        y, ydt = tensor(out, oh, ob, name)
        assert ydt == "BF16", f"{name}: dtype {ydt}, want BF16"
        want = to_bf16_bits(np.asarray(x, dtype=np.float32))
        if perm is not None:
            want = np.transpose(want, perm)
        assert y.shape == want.shape, f"{name}: shape {y.shape}, want {want.shape}"
        bad = np.count_nonzero(np.asarray(y) != want)
        assert bad == 0, f"{name}: {bad} of {want.size} values differ from numpy's"
    names_s = [k for k in sh if k != "__metadata__"]
    names_o = [k for k in oh if k != "__metadata__"]
    assert names_s == names_o, "the output's tensor names or order differ from the source's"
    print(f"verified {len(checks)} tensors against numpy (transpose/permute + BF16 RNE), "
          f"{len(names_o)} names in order, provenance present")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "weights" and sys.argv[3] in ("full", "small"):
        os.makedirs(sys.argv[2], exist_ok=True)
        write_weights(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "plan":
        os.makedirs(sys.argv[2], exist_ok=True)
        write_plan(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "verify":
        try:
            verify(sys.argv[2], sys.argv[3])
        except AssertionError as e:
            sys.exit(f"verify: {e}")
    else:
        sys.exit(__doc__)


main()
