"""models.py — synthetic models for the matcher corpus: each architecture is one canonical tensor
list (PyTorch layouts: Linear [out, in], conv OIHW) and several naming/layout schemes that store
it the way real implementations do (torchvision, timm, Hugging Face, Flax, Keras, Meta, nanoGPT).
A scheme turns the canonical tensors into stored ones; storing both sides of a pair from the same
canonical values gives the truth by construction (cases.py)."""
import re
from collections import OrderedDict

import numpy as np

from check_pair import replay

F32, I64 = "F32", "I64"


# ---- stored tensors: (name, canonical keys, fn(list of canonical arrays) -> stored array) ----------

def ops(*oplist):
    oplist = list(oplist)
    return lambda xs: replay(xs, oplist)


def TR():
    return {"op": "permute", "axes": [1, 0]}


def HWIO():
    return {"op": "permute", "axes": [2, 3, 1, 0]}


def RS(shape):
    return {"op": "reshape", "shape": list(shape)}


def CAT(axis=0):
    return {"op": "concat", "axis": axis}


PLAIN = ops()


def stacked(per):
    """A scanned/stacked tensor: each canonical array through `per`, then stacked on a new axis 0."""
    return lambda xs: np.stack([per([x]) for x in xs])


def scan(entries, rx, sub):
    """A scheme's blocks as one scanned model (nn.scan): the entries whose names match rx (group 1
    the block index) are joined per name-without-index (re.sub(rx, sub)) into one tensor with a
    leading [depth] axis, each block's slice made by that block's own fn."""
    groups, out = OrderedDict(), []
    for name, keys, fn in entries:
        if re.match(rx, name):
            g = re.sub(rx, sub, name)
            if g not in groups:
                groups[g] = []
                out.append(g)
            groups[g].append((keys, fn))
        else:
            out.append((name, keys, fn))

    def joined(parts):
        n = [len(k) for k, _ in parts]
        return lambda xs: np.stack([f(xs[sum(n[:j]):sum(n[:j + 1])]) for j, (_, f) in enumerate(parts)])
    return [(e, [k for ks, _ in groups[e] for k in ks], joined(groups[e])) if isinstance(e, str) else e for e in out]


def rope_halfsplit(heads):
    """Meta (interleaved rotary pairs) -> Hugging Face (half split) rows of a q/k projection,
    as transformers' convert_llama_weights_to_hf does."""
    def fn(xs):
        w = xs[0]
        d = w.shape[0] // heads
        return w.reshape(heads, d // 2, 2, w.shape[1]).transpose(0, 2, 1, 3).reshape(w.shape)
    return fn


def per_head_qkv(heads):
    """GPT-NeoX query_key_value: rows grouped per head as [q_h; k_h; v_h], not blocked [q; k; v]."""
    def fn(xs):
        parts = [x.reshape((heads, x.shape[0] // heads) + x.shape[1:]) for x in xs]
        return np.concatenate(parts, axis=1).reshape((-1,) + xs[0].shape[1:])
    return fn


class Model:
    """Canonical tensors in definition order: key (tuple) -> (shape, dtype). Block keys are
    (family, index, ...)."""

    def __init__(self, kind):
        self.kind = kind
        self.t = OrderedDict()

    def add(self, key, shape, dtype=F32):
        self.t[key] = (list(shape), dtype)

    def keys(self, *prefix):
        return [k for k in self.t if k[:len(prefix)] == prefix]


# ---- ResNet (bottleneck, BatchNorm, downsample) ---------------------------------------------------

def resnet(stages=(2, 3, 2), widths=(6, 10, 14), stem=16, classes=10):
    """stem != widths[0] keeps every first block's expand and shortcut convs of different shape;
    stem == widths[0] (as in a real ResNet-50) makes them identical, an automorphism."""
    m = Model("resnet")
    m.add(("stem", "conv", "w"), [stem, 3, 7, 7])
    _bn(m, ("stem", "bn"), stem)
    cin = stem
    for s, (depth, w) in enumerate(zip(stages, widths)):
        cout = 4 * w
        for b in range(depth):
            f, ci = f"s{s}", (cin if b == 0 else cout)
            m.add((f, b, "c1", "w"), [w, ci, 1, 1])
            _bn(m, (f, b, "n1"), w)
            m.add((f, b, "c2", "w"), [w, w, 3, 3])
            _bn(m, (f, b, "n2"), w)
            m.add((f, b, "c3", "w"), [cout, w, 1, 1])
            _bn(m, (f, b, "n3"), cout)
            if b == 0:
                m.add((f, b, "dc", "w"), [cout, ci, 1, 1])
                _bn(m, (f, b, "dn"), cout)
        cin = cout
    m.add(("fc", "w"), [classes, cin])
    m.add(("fc", "b"), [classes])
    return m


def _bn(m, key, c):
    for p in ("w", "b", "mean", "var"):
        m.add(key + (p,), [c])
    m.add(key + ("nbt",), [], I64)


TV_BN = {"w": "weight", "b": "bias", "mean": "running_mean", "var": "running_var", "nbt": "num_batches_tracked"}
TV_PART = {"c1": "conv1", "n1": "bn1", "c2": "conv2", "n2": "bn2", "c3": "conv3", "n3": "bn3",
           "dc": "downsample.0", "dn": "downsample.1"}


def _resnet_walk(m, name, counters=False):
    """The ResNet schemes differ only in how one canonical tensor is named and laid out:
    name(key, is_conv) -> (name, fn) or None (absent). BatchNorm counters only when asked."""
    out = []
    for k, (shape, _) in m.t.items():
        if k[-1] == "nbt" and not counters:
            continue
        e = name(k, len(shape) == 4)
        if e:
            out.append((e[0], [k], e[1]))
    return out


def resnet_tv(m, prefix=""):
    """torchvision ResNet (prefix "backbone.0.body." and no counters and no fc: DETR)."""
    def name(k, conv):
        if k[0] == "fc":
            return None if prefix else ("fc." + WB[k[1]], PLAIN)
        if k[0] == "stem":
            base = "conv1" if k[1] == "conv" else "bn1"
        else:
            base = f"layer{int(k[0][1:]) + 1}.{k[1]}.{TV_PART[k[2]]}"
        return (prefix + base + "." + TV_BN[k[-1]], PLAIN)
    return _resnet_walk(m, name, counters=not prefix)


def resnet_timm(m):
    """timm ResNetV2-style names (stem / stages / blocks / shortcut / head.fc), no counters."""
    part = {"c1": "conv1", "n1": "norm1", "c2": "conv2", "n2": "norm2", "c3": "conv3", "n3": "norm3",
            "dc": "shortcut.conv", "dn": "shortcut.norm"}

    def name(k, conv):
        if k[0] in ("stem", "fc"):
            base = {"conv": "stem.conv", "bn": "stem.norm"}.get(k[1], "head.fc")
        else:
            base = f"stages.{k[0][1:]}.blocks.{k[1]}.{part[k[2]]}"
        return (base + "." + TV_BN[k[-1]], PLAIN)
    return _resnet_walk(m, name)


FLAX_BN = {"w": "scale", "b": "bias", "mean": "mean", "var": "var"}


def resnet_flaxwords(m):
    """Nested Flax scheme with word-named sub-layers and HWIO kernels (the issue's example)."""
    part = {"c1": "reduce", "n1": "reduce", "c2": "spatial", "n2": "spatial", "c3": "expand", "n3": "expand",
            "dc": "shortcut", "dn": "shortcut"}

    def name(k, conv):
        if k[0] == "fc":
            return ("head/" + ("kernel" if k[1] == "w" else "bias"), ops(TR()) if k[1] == "w" else PLAIN)
        scope = "encoder/stem/" if k[0] == "stem" else f"encoder/stage_{k[0][1:]}/block_{k[1]}/{part[k[2]]}/"
        return (scope + "conv/kernel", ops(HWIO())) if conv else (scope + "norm/" + FLAX_BN[k[-1]], PLAIN)
    return _resnet_walk(m, name)


def resnet_keras(m):
    """keras.applications ResNet: conv{S+2}_block{B+1}_{n}_conv / _bn, gamma/beta/moving_*, the
    shortcut (`_0_`) defined first in each block, HWIO kernels, Dense [in, out]."""
    bnp = {"w": "gamma", "b": "beta", "mean": "moving_mean", "var": "moving_variance"}
    num = {"c1": 1, "n1": 1, "c2": 2, "n2": 2, "c3": 3, "n3": 3, "dc": 0, "dn": 0}
    out = []
    for j, k in enumerate(m.t):
        if k[-1] == "nbt":
            continue
        if k[0] == "fc":
            out.append(((2, 0, 0, j), "predictions/" + WB[k[1]], [k], ops(TR()) if k[1] == "w" else PLAIN))
            continue
        conv = len(m.t[k][0]) == 4
        if k[0] == "stem":
            order, scope = (0, 0, 0, j), "conv1_"
        else:
            order, scope = (1, int(k[0][1:]), k[1], k[2] not in ("dc", "dn"), j), f"conv{int(k[0][1:]) + 2}_block{k[1] + 1}_{num[k[2]]}_"
        out.append((order, scope + ("conv/kernel" if conv else "bn/" + bnp[k[-1]]), [k], ops(HWIO()) if conv else PLAIN))
    return [e[1:] for e in sorted(out, key=lambda e: e[0])]


# ---- ViT ------------------------------------------------------------------------------------------

def vit(depth=4, c=24, heads=3, mlp=96, patch=4, tokens=17, classes=10):
    m = Model("vit")
    m.heads = heads
    m.add(("cls",), [1, 1, c])
    m.add(("pos",), [1, tokens, c])
    m.add(("patch", "w"), [c, 3, patch, patch])
    m.add(("patch", "b"), [c])
    for i in range(depth):
        for part, o, n in (("n1", c, None), ("q", c, c), ("k", c, c), ("v", c, c), ("o", c, c), ("n2", c, None),
                           ("fc1", mlp, c), ("fc2", c, mlp)):
            if n is None:
                m.add(("L", i, part, "w"), [c])
            else:
                m.add(("L", i, part, "w"), [o, n])
            m.add(("L", i, part, "b"), [o])
    m.add(("norm", "w"), [c])
    m.add(("norm", "b"), [c])
    m.add(("head", "w"), [classes, c])
    m.add(("head", "b"), [classes])
    return m


WB = {"w": "weight", "b": "bias"}


def _vit_names(m, top, block, fuse_qkv, no_k_bias=False):
    """Shared walk of the torch-layout ViT schemes: top[key0] and block(i, part) give names;
    fuse_qkv joins q, k, v (axis 0) under block(i, 'qkv'); no_k_bias stores q_bias/v_bias only."""
    out = []
    for k in m.t:
        if k[0] != "L":
            out.append((top[k[0]] + ("." + WB[k[1]] if len(k) > 1 else ""), [k], PLAIN))
            continue
        i, part, p = k[1], k[2], k[3]
        if part in ("q", "k", "v") and fuse_qkv:
            if no_k_bias and p == "b":
                if part != "k":
                    out.append((block(i, "qkv").rsplit(".", 1)[0] + f".{part}_bias", [k], PLAIN))
                continue
            if part == "q":
                out.append((block(i, "qkv") + "." + (fuse_qkv[p] if isinstance(fuse_qkv, dict) else WB[p]),
                            [("L", i, x, p) for x in "qkv"], ops(CAT())))
            continue
        out.append((block(i, part) + "." + WB[p], [k], PLAIN))
    return out


def vit_tv(m):
    top = {"cls": "class_token", "pos": "encoder.pos_embedding", "patch": "conv_proj", "norm": "encoder.ln",
           "head": "heads.head"}
    names = {"n1": "ln_1", "qkv": "self_attention.in_proj", "o": "self_attention.out_proj", "n2": "ln_2",
             "fc1": "mlp.0", "fc2": "mlp.3"}
    out = _vit_names(m, top, lambda i, p: f"encoder.layers.encoder_layer_{i}.{names[p]}",
                     {"w": "_weight", "b": "_bias"})
    # torchvision writes `in_proj_weight`, not `in_proj.weight`
    out = [(n.replace("in_proj._", "in_proj_"), k, f) for n, k, f in out]
    # torchvision order: class_token, conv_proj, encoder.pos_embedding, layers, encoder.ln, heads
    first = [e for e in out if e[0] in ("class_token", "conv_proj.weight", "conv_proj.bias")]
    return first + [e for e in out if e not in first]


TIMM_TOP = {"cls": "cls_token", "pos": "pos_embed", "patch": "patch_embed.proj", "norm": "norm", "head": "head"}
TIMM_BLK = {"n1": "norm1", "qkv": "attn.qkv", "o": "attn.proj", "n2": "norm2", "fc1": "mlp.fc1", "fc2": "mlp.fc2"}


def vit_timm(m):
    return _vit_names(m, TIMM_TOP, lambda i, p: f"blocks.{i}.{TIMM_BLK[p]}", True)


def vit_beit(m):
    """BEiT-style attention: a fused qkv weight, separate q_bias and v_bias, no k bias at all."""
    return _vit_names(m, TIMM_TOP, lambda i, p: f"blocks.{i}.{TIMM_BLK[p]}", True, no_k_bias=True)


def vit_hf(m):
    """transformers ViTForImageClassification: separate query/key/value, the two norms last."""
    top = {"cls": "vit.embeddings.cls_token", "pos": "vit.embeddings.position_embeddings",
           "patch": "vit.embeddings.patch_embeddings.projection", "norm": "vit.layernorm", "head": "classifier"}
    names = {"q": "attention.attention.query", "k": "attention.attention.key", "v": "attention.attention.value",
             "o": "attention.output.dense", "fc1": "intermediate.dense", "fc2": "output.dense",
             "n1": "layernorm_before", "n2": "layernorm_after"}
    out = _vit_names(m, top, lambda i, p: f"vit.encoder.layer.{i}.{names[p]}", False)
    rank = ["q", "k", "v", "o", "fc1", "fc2", "n1", "n2"]

    def order(e):
        k = e[1][0]
        return (1, k[1], rank.index(k[2])) if k[0] == "L" else ((2,) if k[0] in ("norm", "head") else (0,))
    return sorted(out, key=order)


def vit_hf_flax(m):
    """transformers' FlaxViT names ('/'-joined): 2-D Dense kernels [in, out], even the square
    query/key/value/output ones, so only the naming convention says they are transposed."""
    out = []
    for n, k, f in vit_hf(m):
        key = k[0]
        two_d = key[-1] == "w" and len(m.t[key][0]) == 2
        if "layernorm" in n or n.startswith("vit.layernorm"):
            n = n[:-len("weight")] + "scale" if n.endswith("weight") else n
        elif two_d:
            n, f = n[:-len("weight")] + "kernel", ops(TR())
        elif key[0] == "patch" and key[1] == "w":
            n, f = n[:-len("weight")] + "kernel", ops(HWIO())
        out.append((n.replace(".", "/"), k, f))
    return out


def _flax_vit_entries(m, i, scope):
    """One big_vision encoder block's stored tensors (DenseGeneral q/k/v/out, [in, out] MLP)."""
    c, h = m.t[("L", 0, "q", "w")][0][1], m.heads
    d = c // h
    att = scope + "MultiHeadDotProductAttention_1/"
    res = []
    for part, p in ((x, y) for x in ("n1", "q", "k", "v", "o", "n2", "fc1", "fc2") for y in "wb"):
        k = ("L", i, part, p)
        if part in ("n1", "n2"):
            res.append((scope + ("LayerNorm_0/" if part == "n1" else "LayerNorm_2/") + ("scale" if p == "w" else "bias"), k, PLAIN))
        elif part in ("fc1", "fc2"):
            nm = scope + "MlpBlock_3/Dense_" + ("0/" if part == "fc1" else "1/")
            res.append((nm + ("kernel" if p == "w" else "bias"), k, ops(TR()) if p == "w" else PLAIN))
        elif part == "o":
            res.append((att + "out/" + ("kernel" if p == "w" else "bias"), k, ops(TR(), RS([h, d, c])) if p == "w" else PLAIN))
        else:
            nm = att + {"q": "query/", "k": "key/", "v": "value/"}[part]
            res.append((nm + ("kernel" if p == "w" else "bias"), k, ops(TR(), RS([c, h, d])) if p == "w" else ops(RS([h, d]))))
    return res


def _flax_vit_top(m):
    top = [("cls", [("cls",)], PLAIN), ("Transformer/posembed_input/pos_embedding", [("pos",)], PLAIN),
           ("embedding/kernel", [("patch", "w")], ops(HWIO())), ("embedding/bias", [("patch", "b")], PLAIN)]
    tail = [("Transformer/encoder_norm/scale", [("norm", "w")], PLAIN), ("Transformer/encoder_norm/bias", [("norm", "b")], PLAIN),
            ("head/kernel", [("head", "w")], ops(TR())), ("head/bias", [("head", "b")], PLAIN)]
    return top, tail


def vit_flax(m):
    top, tail = _flax_vit_top(m)
    depth = len({k[1] for k in m.t if k[0] == "L"})
    blocks = [(n, [k], f) for i in range(depth) for n, k, f in _flax_vit_entries(m, i, f"Transformer/encoderblock_{i}/")]
    return top + blocks + tail


def vit_flax_scanned(m):
    """big_vision with scan_layers: every block tensor stacked on a leading [depth] axis."""
    return scan(vit_flax(m), r"^Transformer/encoderblock_(\d+)/", "Transformer/encoderblock/")


# ---- GPT-2 ----------------------------------------------------------------------------------------

def gpt2(depth=3, d=24, vocab=50, ctx=16, mlp=96):
    m = Model("gpt2")
    m.add(("wte",), [vocab, d])
    m.add(("wpe",), [ctx, d])
    for i in range(depth):
        for part, o, n in (("ln1", d, None), ("q", d, d), ("k", d, d), ("v", d, d), ("ap", d, d), ("ln2", d, None),
                           ("fc", mlp, d), ("mp", d, mlp)):
            m.add(("h", i, part, "w"), [o] if n is None else [o, n])
            m.add(("h", i, part, "b"), [o])
        m.add(("h", i, "mask"), [1, 1, ctx, ctx])
    m.add(("lnf", "w"), [d])
    m.add(("lnf", "b"), [d])
    return m


def _gpt2_walk(m, top, blk, fused, conv1d, mask=False, sep="."):
    """HF GPT-2 / nanoGPT / GPT-Neo / Flax GPT-2 share one walk: names from top/blk, q/k/v fused
    (c_attn, axis 0 of the Linear layout) or separate, 2-D weights stored [in, out] when conv1d."""
    out = []
    lay = ops(TR()) if conv1d else PLAIN
    for k, (shape, _) in m.t.items():
        if k[0] != "h":
            out.append((top[k[0]] + (sep + top[k[1]] if len(k) > 1 else ""), [k], PLAIN))
            continue
        i, part = k[1], k[2]
        if part == "mask":
            if mask:
                out.append((blk(i, "mask"), [k], PLAIN))
            continue
        p = k[3]
        w = p == "w" and len(shape) == 2
        if part in ("q", "k", "v") and fused:
            if part == "q":
                f = ops(CAT(), TR()) if (w and conv1d) else ops(CAT())
                out.append((blk(i, "qkv") + sep + top[p], [("h", i, x, p) for x in "qkv"], f))
            continue
        out.append((blk(i, part) + sep + top[p], [k], lay if w else PLAIN))
    return out


GPT_PARTS = {"ln1": "ln_1", "qkv": "attn.c_attn", "ap": "attn.c_proj", "ln2": "ln_2", "fc": "mlp.c_fc",
             "mp": "mlp.c_proj", "mask": "attn.bias"}


def gpt2_hf(m):
    top = {"wte": "wte.weight", "wpe": "wpe.weight", "lnf": "ln_f", "w": "weight", "b": "bias"}
    return _gpt2_walk(m, top, lambda i, p: f"h.{i}.{GPT_PARTS[p]}", True, True, mask=True)


def gpt2_nanogpt(m):
    top = {"wte": "transformer.wte.weight", "wpe": "transformer.wpe.weight", "lnf": "transformer.ln_f",
           "w": "weight", "b": "bias"}
    return _gpt2_walk(m, top, lambda i, p: f"transformer.h.{i}.{GPT_PARTS[p]}", True, False)


def gpt2_neo(m):
    """GPT-Neo-style: separate q/k/v/out Linear projections under attn.attention."""
    names = {"ln1": "ln_1", "q": "attn.attention.q_proj", "k": "attn.attention.k_proj", "v": "attn.attention.v_proj",
             "ap": "attn.attention.out_proj", "ln2": "ln_2", "fc": "mlp.c_fc", "mp": "mlp.c_proj"}
    top = {"wte": "transformer.wte.weight", "wpe": "transformer.wpe.weight", "lnf": "transformer.ln_f",
           "w": "weight", "b": "bias"}
    return _gpt2_walk(m, top, lambda i, p: f"transformer.h.{i}.{names[p]}", False, False)


def gpt2_flax(m):
    """Flax GPT-2 flattened with '/': Dense kernels [in, out] (the Conv1D layout), scale for norms."""
    names = {"ln1": "ln_1", "qkv": "attn/c_attn", "ap": "attn/c_proj", "ln2": "ln_2", "fc": "mlp/c_fc", "mp": "mlp/c_proj"}
    top = {"wte": "transformer/wte/embedding", "wpe": "transformer/wpe/embedding", "lnf": "transformer/ln_f",
           "w": "kernel", "b": "bias"}
    out = _gpt2_walk(m, top, lambda i, p: f"transformer/h/{i}/{names[p]}", True, True, sep="/")
    # norms hold a scale, not a kernel
    return [((n[:-6] + "scale") if ("/ln_" in n and n.endswith("/kernel")) else n, k, f) for n, k, f in out]


def gpt2_flax_scanned(m):
    """Flax GPT-2 with scanned blocks: transformer/h/attn/c_attn/kernel [depth, in, 3 out] etc."""
    return scan(gpt2_flax(m), r"^transformer/h/(\d+)/", "transformer/h/")


def gpt2_neox(m):
    """GPT-NeoX-style fused query_key_value, per-head [q_h; k_h; v_h] rows (a convention)."""
    h = 3
    names = {"ln1": "input_layernorm", "ap": "attention.dense", "ln2": "post_attention_layernorm",
             "fc": "mlp.dense_h_to_4h", "mp": "mlp.dense_4h_to_h"}
    out = []
    for n, k, f in gpt2_nanogpt(m):
        if ".attn.c_attn." in n:
            i = k[0][1]
            out.append((f"gpt_neox.layers.{i}.attention.query_key_value." + n.rsplit(".", 1)[1], k, per_head_qkv(h)))
        elif n.startswith("transformer.h."):
            i, part = k[0][1], k[0][2]
            out.append((f"gpt_neox.layers.{i}.{names[part]}." + n.rsplit(".", 1)[1], k, f))
        else:
            out.append((n.replace("transformer.wte", "gpt_neox.embed_in").replace("transformer.ln_f", "gpt_neox.final_layer_norm")
                        .replace("transformer.wpe", "gpt_neox.wpe"), k, f))
    return out


# ---- LLaMA (RMSNorm, GQA) and a Mixtral-like MoE --------------------------------------------------

def llama(depth=3, c=32, heads=4, kv=2, ffn=88, vocab=64, experts=0):
    """Canonical = Meta layout (interleaved rotary pairs in wq/wk). experts > 0: a Mixtral-like MoE."""
    m = Model("moe" if experts else "llama")
    m.heads, m.kv = heads, kv
    d = c // heads
    m.add(("tok",), [vocab, c])
    for i in range(depth):
        m.add(("L", i, "q"), [heads * d, c])
        m.add(("L", i, "k"), [kv * d, c])
        m.add(("L", i, "v"), [kv * d, c])
        m.add(("L", i, "o"), [c, heads * d])
        if experts:
            m.add(("L", i, "router"), [experts, c])
            for e in range(experts):
                m.add(("L", i, "x", e, "w1"), [ffn, c])
                m.add(("L", i, "x", e, "w2"), [c, ffn])
                m.add(("L", i, "x", e, "w3"), [ffn, c])
        else:
            m.add(("L", i, "w1"), [ffn, c])
            m.add(("L", i, "w2"), [c, ffn])
            m.add(("L", i, "w3"), [ffn, c])
        m.add(("L", i, "an"), [c])
        m.add(("L", i, "fn"), [c])
    m.add(("norm",), [c])
    m.add(("out",), [vocab, c])
    return m


def llama_meta(m):
    names = {"q": "attention.wq", "k": "attention.wk", "v": "attention.wv", "o": "attention.wo",
             "w1": "feed_forward.w1", "w2": "feed_forward.w2", "w3": "feed_forward.w3",
             "an": "attention_norm", "fn": "ffn_norm"}
    top = {"tok": "tok_embeddings.weight", "norm": "norm.weight", "out": "output.weight"}
    return [((top[k[0]] if k[0] != "L" else f"layers.{k[1]}.{names[k[2]]}.weight"), [k], PLAIN) for k in m.t]


HF_LLAMA = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj", "o": "self_attn.o_proj",
            "w1": "mlp.gate_proj", "w2": "mlp.down_proj", "w3": "mlp.up_proj",
            "an": "input_layernorm", "fn": "post_attention_layernorm", "router": "block_sparse_moe.gate"}
HF_TOP = {"tok": "model.embed_tokens.weight", "norm": "model.norm.weight", "out": "lm_head.weight"}


def _hf_order(entries):
    """transformers' LlamaDecoderLayer order: self_attn, mlp, then the two norms."""
    rank = ["self_attn", "mlp", "block_sparse_moe", "input_layernorm", "post_attention_layernorm"]

    def key(e):
        n = e[0]
        if not n.startswith("model.layers."):
            return (0 if "embed" in n else 10 ** 6, 0, 0)
        parts = n.split(".")
        return (1 + int(parts[2]), next(j for j, r in enumerate(rank) if parts[3].startswith(r)), 0)
    return sorted(entries, key=key)


def llama_hf(m, rope=True):
    """transformers LlamaForCausalLM; rope=True stores q/k half-split (the HF convention)."""
    out = []
    for k in m.t:
        if k[0] != "L":
            out.append((HF_TOP[k[0]], [k], PLAIN))
        elif k[2] == "x":
            out.append((f"model.layers.{k[1]}.block_sparse_moe.experts.{k[3]}.{k[4]}.weight", [k], PLAIN))
        else:
            f = rope_halfsplit(m.heads if k[2] == "q" else m.kv) if (rope and k[2] in ("q", "k")) else PLAIN
            out.append((f"model.layers.{k[1]}.{HF_LLAMA[k[2]]}.weight", [k], f))
    return _hf_order(out)


def llama_phi3(m):
    """Phi-3-style fused projections: qkv_proj = [q; k; v] of unequal sizes, gate_up_proj = [gate; up]."""
    out = []
    for n, k, f in llama_hf(m):
        part = k[0][2] if k[0][0] == "L" else None
        if part in ("k", "v", "w3"):
            continue
        if part == "q":
            i = k[0][1]
            qf, kf = rope_halfsplit(m.heads), rope_halfsplit(m.kv)
            out.append((f"model.layers.{i}.self_attn.qkv_proj.weight", [("L", i, "q"), ("L", i, "k"), ("L", i, "v")],
                        lambda xs, qf=qf, kf=kf: np.concatenate([qf([xs[0]]), kf([xs[1]]), xs[2]])))
        elif part == "w1":
            i = k[0][1]
            out.append((f"model.layers.{i}.mlp.gate_up_proj.weight", [("L", i, "w1"), ("L", i, "w3")], ops(CAT())))
        else:
            out.append((n, k, f))
    return out


def _expert(keys):
    return keys[0][0] == "L" and keys[0][2] == "x"


def llama_megatron(m):
    """Megatron-style fused query_key_value with GQA: rows grouped per kv group,
    [q heads of group g; k_g; v_g] for each g (a convention: blocked [q; k; v] is wrong here)."""
    h, kv = m.heads, m.kv
    out = []
    for n, k, f in llama_phi3(m):
        if n.endswith("self_attn.qkv_proj.weight"):
            def fn(xs, f=f):
                both = f(xs)  # [q; k; v] blocked, q/k in the HF rotary layout
                c = both.shape[1]
                d = both.shape[0] // (h + 2 * kv)
                q, kk, v = np.split(both, [h * d, (h + kv) * d])
                g = [x.reshape(kv, -1, c) for x in (q, kk, v)]
                return np.concatenate(g, axis=1).reshape(-1, c)
            out.append((n.replace("self_attn.qkv_proj", "self_attention.query_key_value"), k, fn))
        else:
            out.append((n, k, f))
    return out


def moe_hf(m):
    """Mixtral in transformers: experts.{e}.w1/w2/w3, one tensor each (canonical = this layout)."""
    return llama_hf(m, rope=False)


def moe_stacked(m):
    """Experts stacked on a new leading axis: block_sparse_moe.experts.w1 [E, F, C] (and w2, w3)."""
    out, seen = [], set()
    for n, k, f in moe_hf(m):
        if _expert(k):
            i, w = k[0][1], k[0][4]
            if (i, w) not in seen:
                seen.add((i, w))
                ks = [x for x in m.t if x[:3] == ("L", i, "x") and x[4] == w]
                out.append((f"model.layers.{i}.block_sparse_moe.experts.{w}", ks, stacked(PLAIN)))
        else:
            out.append((n, k, f))
    return out


def moe_qwen(m):
    """Qwen-MoE-style names: mlp.gate router, mlp.experts.{e}.gate_proj/up_proj/down_proj."""
    nm = {"w1": "gate_proj", "w2": "down_proj", "w3": "up_proj"}
    out = []
    for n, k, f in moe_hf(m):
        if _expert(k):
            out.append((f"model.layers.{k[0][1]}.mlp.experts.{k[0][3]}.{nm[k[0][4]]}.weight", k, f))
        else:
            out.append((n.replace("block_sparse_moe.gate", "mlp.gate"), k, f))
    return out


def moe_qwen_fused(m):
    """Experts stacked and gate/up fused: mlp.experts.gate_up_proj [E, 2F, C], mlp.experts.down_proj [E, C, F]."""
    out, seen = [], set()
    for n, k, f in moe_qwen(m):
        if not _expert(k):
            out.append((n, k, f))
            continue
        i = k[0][1]
        if i in seen:
            continue
        seen.add(i)
        es = sorted({x[3] for x in m.t if x[:3] == ("L", i, "x")})
        gu = [x for e in es for x in (("L", i, "x", e, "w1"), ("L", i, "x", e, "w3"))]
        out.append((f"model.layers.{i}.mlp.experts.gate_up_proj", gu,
                    lambda xs: np.stack([np.concatenate(xs[j:j + 2]) for j in range(0, len(xs), 2)])))
        out.append((f"model.layers.{i}.mlp.experts.down_proj", [("L", i, "x", e, "w2") for e in es], stacked(PLAIN)))
    return out
