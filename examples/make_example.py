#!/usr/bin/python3
"""make_example.py OUT_DIR — writes the demo's small example: a two-layer GPT-2 checkpoint in
Hugging Face naming, OUT_DIR/gpt2_tiny.safetensors (seeded random values), and the manifest of
the model we want to load it into, nanoGPT's layout, OUT_DIR/nanogpt_tiny.json. It follows the
safetensors specification directly (8-byte header length, JSON header, raw little-endian data),
so the demo does not depend on weightbridge to make its own input."""
import json
import os
import struct
import sys

import numpy as np

C, L, V, T = 32, 2, 64, 16  # width, layers, vocabulary, context


def layout():
    yield "wte.weight", (V, C)
    yield "wpe.weight", (T, C)
    for i in range(L):
        p = f"h.{i}."
        yield p + "ln_1.weight", (C,)
        yield p + "ln_1.bias", (C,)
        yield p + "attn.c_attn.weight", (C, 3 * C)  # Conv1D: [in, out]
        yield p + "attn.c_attn.bias", (3 * C,)
        yield p + "attn.c_proj.weight", (C, C)
        yield p + "attn.c_proj.bias", (C,)
        yield p + "ln_2.weight", (C,)
        yield p + "ln_2.bias", (C,)
        yield p + "mlp.c_fc.weight", (C, 4 * C)
        yield p + "mlp.c_fc.bias", (4 * C,)
        yield p + "mlp.c_proj.weight", (4 * C, C)
        yield p + "mlp.c_proj.bias", (C,)
    yield "ln_f.weight", (C,)
    yield "ln_f.bias", (C,)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(1234)
    header, blobs, off = {"__metadata__": {"format": "pt", "source": "weightbridge demo"}}, [], 0
    for name, shape in layout():
        raw = rng.standard_normal(shape).astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    with open(os.path.join(out, "gpt2_tiny.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
    # nanoGPT: everything under "transformer.", and nn.Linear weights are [out, in].
    target = {}
    for name, shape in layout():
        if name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")):
            shape = shape[::-1]
        target["transformer." + name] = {"shape": list(shape), "dtype": "F32"}
    with open(os.path.join(out, "nanogpt_tiny.json"), "w") as f:
        rows = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in target.items())
        f.write('{"tensors": {\n' + rows + "\n}}\n")


main()
