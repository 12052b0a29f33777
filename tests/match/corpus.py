#!/usr/bin/python3
"""corpus.py — a synthetic corpus for `wbr match`, with known truth, and its checker.

Each case is a pair of tensor sets (manifests) built from one abstract model under two naming
and layout schemes (torchvision / timm / Flax ResNets; torchvision / HF / timm / Flax
transformers), so the truth (which source tensors and which operations make each target) is
known by construction. Variants: renamed schemes, nesting changes, 1-based numbering, Flax
layouts (kernels [in, out], HWIO convs, DenseGeneral [C, H, D]), fused q/k/v (concat and split),
dropped tensors, target subsets, sources in sorted (safetensors) order, and DELIBERATE
ambiguities that the matcher must flag (exit 3) instead of guessing.

usage: corpus.py WBR WORKDIR [--bench N --layout] — runs every case and prints one PASS/FAIL line
each: exit 0 drafts must reproduce the truth exactly (values replayed on random data), every
pairing the matcher reports (--explain) must be right, and every deliberate ambiguity must be
reported as unresolved. With --bench it only writes a large pair (N tensors) for bench/.
"""
import json
import os
import random
import subprocess
import sys

import numpy as np


def _load_replay():
    """The fixture test's replay(), reused as is (check_pair.py runs main() on import, so its
    definitions are executed without the final call)."""
    import ast
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "check_pair.py")
    tree = ast.parse(open(path).read())
    tree.body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Call))]
    ns = {}
    exec(compile(tree, path, "exec"), ns)
    return ns["replay"]


replay = _load_replay()


# ---- abstract models ---------------------------------------------------------------------------

def resnet(rng, stages=None, width=8):
    """Bottleneck ResNet: list of abstract tensors (key, kind, torch shape)."""
    stages = stages or [rng.randint(1, 3) for _ in range(rng.randint(2, 4))]
    out = []
    c = width * 8
    out.append((("stem", "conv"), "conv", [c, 3, 7, 7]))
    out += bn(("stem", "bn"), c)
    cin = c
    for s, depth in enumerate(stages):
        w = width * (2 ** s)
        cout = w * 4
        for b in range(depth):
            out.append(((s, b, "conv", 1), "conv", [w, cin if b == 0 else cout, 1, 1]))
            out += bn((s, b, "bn", 1), w)
            out.append(((s, b, "conv", 2), "conv", [w, w, 3, 3]))
            out += bn((s, b, "bn", 2), w)
            out.append(((s, b, "conv", 3), "conv", [cout, w, 1, 1]))
            out += bn((s, b, "bn", 3), cout)
            if b == 0:
                out.append(((s, b, "down", "conv"), "conv", [cout, cin, 1, 1]))
                out += bn((s, b, "down", "bn"), cout)
        cin = cout
    out.append((("fc", "w"), "linear", [10, cin]))
    out.append((("fc", "b"), "bias", [10]))
    return out


def bn(key, c):
    return [(key + (p,), "bn_" + p, [c] if p != "nbt" else []) for p in ("w", "b", "mean", "var", "nbt")]


def vit(rng, depth=None, c=None, heads=None):
    depth = depth or rng.randint(2, 4)
    heads = heads or rng.choice([2, 3, 4])
    c = c or heads * rng.choice([8, 16])
    out = [(("cls",), "cls", [1, 1, c]), (("pos",), "pos", [1, 17, c]),
           (("patch", "w"), "conv", [c, 3, 8, 8]), (("patch", "b"), "bias", [c])]
    for i in range(depth):
        out += [((i, "n1", "w"), "ln_w", [c]), ((i, "n1", "b"), "ln_b", [c]),
                ((i, "q", "w"), "linear", [c, c]), ((i, "q", "b"), "bias", [c]),
                ((i, "k", "w"), "linear", [c, c]), ((i, "k", "b"), "bias", [c]),
                ((i, "v", "w"), "linear", [c, c]), ((i, "v", "b"), "bias", [c]),
                ((i, "o", "w"), "linear", [c, c]), ((i, "o", "b"), "bias", [c]),
                ((i, "n2", "w"), "ln_w", [c]), ((i, "n2", "b"), "ln_b", [c]),
                ((i, "fc1", "w"), "linear", [4 * c, c]), ((i, "fc1", "b"), "bias", [4 * c]),
                ((i, "fc2", "w"), "linear", [c, 4 * c]), ((i, "fc2", "b"), "bias", [c])]
    out += [(("norm", "w"), "ln_w", [c]), (("norm", "b"), "ln_b", [c]),
            (("head", "w"), "linear", [10, c]), (("head", "b"), "bias", [10])]
    return out, heads


# ---- naming and layout schemes -------------------------------------------------------------------
# A scheme maps an abstract tensor to (name, shape, ops-from-torch-layout) or None (absent).
# ops are truth.json ops that turn the torch-layout tensor into this scheme's layout; the
# checker composes "source layout -> torch" and "torch -> target layout".

BNP = {"w": "weight", "b": "bias", "mean": "running_mean", "var": "running_var", "nbt": "num_batches_tracked"}


def r_tv(key, kind, shape):
    if key[0] == "stem":
        base = "conv1" if key[1] == "conv" else "bn1"
    elif key[0] == "fc":
        return ("fc." + ("weight" if key[1] == "w" else "bias"), shape, [])
    else:
        s, b, m, k = key[0], key[1], key[2], key[3]
        if m == "down":
            base = f"layer{s + 1}.{b}.downsample.{0 if k == 'conv' else 1}"
            return (base + (".weight" if k == "conv" else "." + BNP[key[4]]), shape, [])
        base = f"layer{s + 1}.{b}.{m}{k}"
    if kind == "conv":
        return (base + ".weight", shape, [])
    return (base + "." + BNP[key[-1]], shape, [])


def r_timm(key, kind, shape):
    if kind == "bn_nbt":
        return None  # timm-style target without the counters (a subset)
    p = {"w": "weight", "b": "bias", "mean": "running_mean", "var": "running_var"}
    if key[0] == "stem":
        return (("stem.conv.weight" if key[1] == "conv" else "stem.norm." + p[key[2]]), shape, [])
    if key[0] == "fc":
        return ("head.fc." + ("weight" if key[1] == "w" else "bias"), shape, [])
    s, b, m, k = key[0], key[1], key[2], key[3]
    if m == "down":
        return (f"stages.{s}.blocks.{b}.shortcut." + ("conv.weight" if k == "conv" else "norm." + p[key[4]]), shape, [])
    if m == "conv":
        return (f"stages.{s}.blocks.{b}.conv{k}.weight", shape, [])
    return (f"stages.{s}.blocks.{b}.norm{k}." + p[key[4]], shape, [])


def r_flax(key, kind, shape):
    """Flax: 1-based stage/block scopes, Conv_/BatchNorm_ counters, HWIO kernels, [in, out] dense."""
    if kind == "bn_nbt":
        return None
    p = {"w": "scale", "b": "bias", "mean": "mean", "var": "var"}
    if kind == "conv":
        hwio = [shape[2], shape[3], shape[1], shape[0]]
        ops = [{"op": "permute", "axes": [2, 3, 1, 0]}]
    if key[0] == "stem":
        if key[1] == "conv":
            return ("conv_init/kernel", hwio, ops)
        return ("bn_init/" + p[key[2]], shape, [])
    if key[0] == "fc":
        if key[1] == "w":
            return ("head/kernel", [shape[1], shape[0]], [{"op": "permute", "axes": [1, 0]}])
        return ("head/bias", shape, [])
    s, b, m, k = key[0], key[1], key[2], key[3]
    scope = f"stage{s + 1}_block{b + 1}"
    if m == "down":
        if k == "conv":
            return (scope + "/proj_conv/kernel", hwio, ops)
        return (scope + "/proj_bn/" + p[key[4]], shape, [])
    if m == "conv":
        return (scope + f"/Conv_{k - 1}/kernel", hwio, ops)
    return (scope + f"/BatchNorm_{k - 1}/" + p[key[4]], shape, [])


def v_tv(key, kind, shape, heads):
    lw = {"w": "weight", "b": "bias"}
    if key[0] == "cls":
        return ("class_token", shape, [])
    if key[0] == "pos":
        return ("encoder.pos_embedding", shape, [])
    if key[0] == "patch":
        return ("conv_proj." + lw[key[1]], shape, [])
    if key[0] == "norm":
        return ("encoder.ln." + lw[key[1]], shape, [])
    if key[0] == "head":
        return ("heads.head." + lw[key[1]], shape, [])
    i, m, p = key
    base = f"encoder.layers.encoder_layer_{i}."
    if m in ("q", "k", "v"):
        return ("FUSE", base + "self_attention.in_proj_" + lw[p], "qkv")
    names = {"n1": "ln_1", "n2": "ln_2", "o": "self_attention.out_proj", "fc1": "mlp.0", "fc2": "mlp.3"}
    return (base + names[m] + "." + lw[p], shape, [])


def v_timm(key, kind, shape, heads):
    lw = {"w": "weight", "b": "bias"}
    if key[0] == "cls":
        return ("cls_token", shape, [])
    if key[0] == "pos":
        return ("pos_embed", shape, [])
    if key[0] == "patch":
        return ("patch_embed.proj." + lw[key[1]], shape, [])
    if key[0] == "norm":
        return ("norm." + lw[key[1]], shape, [])
    if key[0] == "head":
        return ("head." + lw[key[1]], shape, [])
    i, m, p = key
    base = f"blocks.{i}."
    if m in ("q", "k", "v"):
        return ("FUSE", base + "attn.qkv." + lw[p], "qkv")
    names = {"n1": "norm1", "n2": "norm2", "o": "attn.proj", "fc1": "mlp.fc1", "fc2": "mlp.fc2"}
    return (base + names[m] + "." + lw[p], shape, [])


def v_hf(key, kind, shape, heads, one_based=False):
    """Separate q/k/v projections; layers 1-based when asked (`layers_1`)."""
    lw = {"w": "weight", "b": "bias"}
    if key[0] == "cls":
        return ("embeddings.cls_token", shape, [])
    if key[0] == "pos":
        return ("embeddings.position_embeddings", shape, [])
    if key[0] == "patch":
        return ("embeddings.patch_embeddings.projection." + lw[key[1]], shape, [])
    if key[0] == "norm":
        return ("final_norm." + lw[key[1]], shape, [])
    if key[0] == "head":
        return ("classifier." + lw[key[1]], shape, [])
    i, m, p = key
    base = f"layers_{i + 1}." if one_based else f"layers.{i}."
    names = {"n1": "norm1", "n2": "norm2", "q": "attn.q_proj", "k": "attn.k_proj", "v": "attn.v_proj",
             "o": "attn.o_proj", "fc1": "mlp.fc1", "fc2": "mlp.fc2"}
    return (base + names[m] + "." + lw[p], shape, [])


def v_flax(key, kind, shape, heads):
    c = shape[-1] if key[0] in ("cls", "pos") else None
    if key[0] == "cls":
        return ("cls", shape, [])
    if key[0] == "pos":
        return ("Transformer/posembed_input/pos_embedding", shape, [])
    if key[0] == "patch":
        if key[1] == "w":
            return ("embedding/kernel", [shape[2], shape[3], shape[1], shape[0]], [{"op": "permute", "axes": [2, 3, 1, 0]}])
        return ("embedding/bias", shape, [])
    if key[0] == "norm":
        return ("Transformer/encoder_norm/" + ("scale" if key[1] == "w" else "bias"), shape, [])
    if key[0] == "head":
        if key[1] == "w":
            return ("head/kernel", [shape[1], shape[0]], [{"op": "permute", "axes": [1, 0]}])
        return ("head/bias", shape, [])
    i, m, p = key
    base = f"Transformer/encoderblock_{i}/"
    if m in ("n1", "n2"):
        return (base + ("LayerNorm_0/" if m == "n1" else "LayerNorm_2/") + ("scale" if p == "w" else "bias"), shape, [])
    if m in ("fc1", "fc2"):
        d = "MlpBlock_3/Dense_0/" if m == "fc1" else "MlpBlock_3/Dense_1/"
        if p == "w":
            return (base + d + "kernel", [shape[1], shape[0]], [{"op": "permute", "axes": [1, 0]}])
        return (base + d + "bias", shape, [])
    c = shape[-1] if p == "w" else shape[0]
    hd = c // heads
    att = base + "MultiHeadDotProductAttention_1/"
    if m in ("q", "k", "v"):
        nm = {"q": "query", "k": "key", "v": "value"}[m]
        if p == "w":  # torch [C_out, C_in] -> [C_in, H, D]
            return (att + nm + "/kernel", [c, heads, hd], [{"op": "permute", "axes": [1, 0]}, {"op": "reshape", "shape": [c, heads, hd]}])
        return (att + nm + "/bias", [heads, hd], [{"op": "reshape", "shape": [heads, hd]}])
    if p == "w":  # out: torch [C, H*D] -> [H, D, C]
        return (att + "out/kernel", [heads, hd, c], [{"op": "permute", "axes": [1, 0]}, {"op": "reshape", "shape": [heads, hd, c]}])
    return (att + "out/bias", shape, [])


# ---- building a pair and its truth ----------------------------------------------------------------

def inverse(ops, torch_shape):
    """ops turn torch layout into a scheme layout; return ops turning that layout back."""
    inv, shapes = [], [list(torch_shape)]
    for op in ops:
        cur = shapes[-1]
        if op["op"] == "permute":
            shapes.append([cur[a] for a in op["axes"]])
        else:
            shapes.append(list(op["shape"]))
    for k in range(len(ops) - 1, -1, -1):
        op = ops[k]
        if op["op"] == "permute":
            ax = op["axes"]
            inv.append({"op": "permute", "axes": [ax.index(i) for i in range(len(ax))]})
        else:
            inv.append({"op": "reshape", "shape": shapes[k]})
    return inv


def build(model, src_scheme, tgt_scheme, heads=None):
    """Returns (a, b, truth): manifests (dict name -> shape) and truth {target: {from, ops}}."""
    a, b, truth = {}, {}, {}
    fused_src, fused_tgt = {}, {}
    absent = {}
    for key, kind, shape in model:
        sa = src_scheme(key, kind, shape, heads) if heads else src_scheme(key, kind, shape)
        tb = tgt_scheme(key, kind, shape, heads) if heads else tgt_scheme(key, kind, shape)
        if sa is None:
            continue
        if sa[0] == "FUSE":
            fused_src.setdefault(sa[1], []).append((key, shape))
            if sa[1] not in a:
                a[sa[1]] = None  # placeholder keeps the definition position
        else:
            a[sa[0]] = sa[1]
        if tb is not None and tb[0] == "FUSE":
            fused_tgt.setdefault(tb[1], []).append((key, shape, sa))
            if tb[1] not in b:
                b[tb[1]] = None
            continue
        if tb is None:
            continue
        b[tb[0]] = tb[1]
        if sa[0] == "FUSE":
            # target part from a fused source: split (q, k, v order), then layout
            parts = fused_src[sa[1]]
            idx = len(parts) - 1
            truth[tb[0]] = {"from": [sa[1]], "split": (idx, shape), "ops_t": tb[2]}
        else:
            truth[tb[0]] = {"from": [sa[0]], "ops": inverse(sa[2], shape) + tb[2]}
    # fused sources: shape = concat of parts (axis 0)
    for name, parts in fused_src.items():
        shp = list(parts[0][1])
        shp[0] *= len(parts)
        a[name] = shp
    for name, parts in fused_tgt.items():
        shp = list(parts[0][1])
        shp[0] *= len(parts)
        b[name] = shp
        srcs = [p[2] for p in parts]
        if srcs[0][0] == "FUSE":
            truth[name] = {"from": [srcs[0][1]], "ops": []}
        else:
            ops = inverse(srcs[0][2], parts[0][1]) + [{"op": "concat", "axis": 0}]
            truth[name] = {"from": [s[0] for s in srcs], "ops": ops}
    for t, tr in truth.items():
        if "split" in tr:
            idx, _ = tr.pop("split")
            tr["ops"] = [{"op": "split", "axis": 0, "sections": 3, "index": idx}] + tr.pop("ops_t")
    return a, b, truth


def manifest(d, order=None):
    names = list(d) if order is None else order
    return {"tensors": {n: {"shape": d[n], "dtype": "F32"} for n in names}}


# ---- the cases ----------------------------------------------------------------------------------

def cases(seed):
    rng = random.Random(seed)
    out = []

    def add(name, a, b, truth, expect="complete", ambiguous=(), sort_src=False):
        order = sorted(a) if sort_src else None
        out.append((name, manifest(a, order), manifest(b), truth, expect, list(ambiguous)))

    for v in range(3):
        m = resnet(rng)
        a, b, t = build(m, r_tv, r_timm)
        add(f"resnet_tv_to_timm_{v}", a, b, t, sort_src=v == 2)
        a, b, t = build(m, r_tv, r_flax)
        add(f"resnet_tv_to_flax_{v}", a, b, t, sort_src=v == 1)
        a, b, t = build(m, r_flax, r_timm)
        add(f"resnet_flax_to_timm_{v}", a, b, t, sort_src=True)
    for v in range(3):
        m, h = vit(rng)
        a, b, t = build(m, v_tv, v_timm, h)
        add(f"vit_tv_to_timm_{v}", a, b, t, sort_src=v == 1)
        a, b, t = build(m, lambda *x: v_hf(*x, one_based=v == 2), v_timm, h)
        add(f"vit_hf_to_timm_concat_{v}", a, b, t, sort_src=v == 0)
        a, b, t = build(m, v_timm, v_hf, h)
        add(f"vit_timm_to_hf_split_{v}", a, b, t)
        a, b, t = build(m, v_flax, v_timm, h)
        add(f"vit_flax_to_timm_{v}", a, b, t, sort_src=True)
    # target subset: the classifier is not wanted
    m, h = vit(rng)
    a, b, t = build(m, v_tv, v_timm, h)
    for n in ("head.weight", "head.bias"):
        b.pop(n)
        t.pop(n)
    add("vit_subset_no_head", a, b, t)

    # ---- deliberate ambiguities ----
    # 1. two same-shape tensors whose names share nothing with the targets', order reversed
    m = resnet(rng, stages=[1, 1])
    a, b, t = build(m, r_tv, r_timm)
    a["aux.alpha.weight"] = [24, 24]
    a["aux.beta.weight"] = [24, 24]
    b = {"extra.right.weight": [24, 24], "extra.left.weight": [24, 24], **b}  # not where order could reach
    t["extra.left.weight"] = {"from": ["aux.alpha.weight"], "ops": []}
    t["extra.right.weight"] = {"from": ["aux.beta.weight"], "ops": []}
    add("ambig_twins", a, b, t, expect="ambiguous", ambiguous=["extra.left.weight", "extra.right.weight"])
    # 2. the only tensors of their shape, but nothing in the names relates them
    m = resnet(rng, stages=[1])
    a, b, t = build(m, r_tv, r_timm)
    a["zzz.qqq"] = [7, 13]
    b["unrelated_thing"] = [7, 13]
    t["unrelated_thing"] = {"from": ["zzz.qqq"], "ops": []}
    add("ambig_unique_shape_no_name", a, b, t, expect="ambiguous", ambiguous=["unrelated_thing"])
    # 3. a square weight in a layer whose other 2-D weights disagree about transposing
    a = {"h.0.a.weight": [8, 16], "h.0.b.weight": [16, 8], "h.0.sq.weight": [8, 8]}
    b = {"h.0.a.weight": [16, 8], "h.0.b.weight": [16, 8], "h.0.sq.weight": [8, 8]}
    t = {"h.0.a.weight": {"from": ["h.0.a.weight"], "ops": [{"op": "permute", "axes": [1, 0]}]},
         "h.0.b.weight": {"from": ["h.0.b.weight"], "ops": []},
         "h.0.sq.weight": {"from": ["h.0.sq.weight"], "ops": []}}
    add("ambig_square_transpose", a, b, t, expect="ambiguous", ambiguous=["h.0.sq.weight"])
    # 4. two blocks swapped in the target's order, names carry no index or word to tell them apart
    a = {"enc.first.weight": [32, 32], "enc.first.bias": [32], "enc.second.weight": [32, 32], "enc.second.bias": [32]}
    b = {"dec.lo.bias": [32], "dec.lo.weight": [32, 32], "dec.hi.bias": [32], "dec.hi.weight": [32, 32]}
    t = {"dec.lo.weight": {"from": ["enc.first.weight"], "ops": []}, "dec.lo.bias": {"from": ["enc.first.bias"], "ops": []},
         "dec.hi.weight": {"from": ["enc.second.weight"], "ops": []}, "dec.hi.bias": {"from": ["enc.second.bias"], "ops": []}}
    add("ambig_unindexed_blocks", a, b, t, expect="ambiguous", ambiguous=list(b))
    return out


# ---- running and checking ---------------------------------------------------------------------------

def run_case(wbr, work, case, rng):
    name, a, b, truth, expect, ambiguous = case
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    ap, bp, dp = os.path.join(d, "a.json"), os.path.join(d, "b.json"), os.path.join(d, "draft.wbr")
    json.dump(a, open(ap, "w"))
    json.dump(b, open(bp, "w"))
    r = subprocess.run([wbr, "match", ap, bp, "-o", dp, "--explain"], capture_output=True, text=True)
    why = []
    # every pairing the matcher claims must be right, whatever the exit code
    claimed = {}
    for line in r.stderr.splitlines():
        if " <- " not in line or "UNDECIDED" in line or "--update" in line:
            continue
        tname = line.split(" [", 1)[0].split(" <- ")[0].strip()
        srcs = [s.strip().split(" [")[0] for s in line.split(" <- ", 1)[1].split("  -- ")[0].split(" + ")]
        srcs = [s.split(" part ")[0] for s in srcs]
        claimed[tname] = srcs
    for tname, srcs in claimed.items():
        if tname not in truth:
            why.append(f"claimed {tname} which has no truth")
        elif srcs != truth[tname]["from"]:
            why.append(f"WRONG pairing {tname} <- {srcs}, truth {truth[tname]['from']}")
    if expect == "complete":
        if r.returncode != 0:
            why.append(f"exit {r.returncode}, wanted 0: {r.stderr.strip().splitlines()[-1:]}")
    else:
        if r.returncode != 3:
            why.append(f"exit {r.returncode}, wanted 3 (deliberate ambiguity)")
        text = open(dp).read() if os.path.exists(dp) else ""
        for t in ambiguous:
            if f'target "{t}"' not in text:
                why.append(f"ambiguous target {t} not flagged in the draft")
    if r.returncode == 0:
        # the draft must reproduce the truth: plan sources and replayed values
        p = subprocess.run([wbr, "plan", dp, ap, "-t", bp, "--format", "json"], capture_output=True, text=True)
        if p.returncode != 0:
            why.append("plan of the draft failed: " + p.stderr[-300:])
        else:
            plan = json.loads(p.stdout)
            rows = {x["name"]: x for x in plan["tensors"]}
            src = {n: rng.standard_normal(v["shape"]).astype("<f4") for n, v in a["tensors"].items()}
            for tname, tr in truth.items():
                row = rows.get(tname)
                if row is None or row["from"] != tr["from"]:
                    why.append(f"{tname}: plan from {row and row['from']} != truth {tr['from']}")
                    continue
                want = replay([src[s] for s in tr["from"]], tr["ops"])
                got = replay([src[s] for s in row["from"]], row["ops"])
                if want.shape != got.shape or want.tobytes() != got.tobytes():
                    why.append(f"{tname}: ops {row['ops']} != truth {tr['ops']}")
    return why


def bench_pair(n, layout, out_a, out_b):
    """A ResNet-like pair of about n tensors: torchvision -> timm names (renamed only) or
    torchvision -> Flax (layouts change too)."""
    rng = random.Random(7)
    per_block = 3 * 5 + 3
    blocks = max(1, n // per_block)
    stages = [blocks // 4] * 3 + [blocks - 3 * (blocks // 4)]
    m = resnet(rng, stages=stages, width=4)
    a, b, truth = build(m, r_tv, r_flax if layout else r_timm)
    json.dump(manifest(a), open(out_a, "w"))
    json.dump(manifest(b), open(out_b, "w"))
    json.dump({"targets": truth}, open(out_b + ".truth.json", "w"))
    return len(a), len(b)


def verify(wbr, draft, a_path, b_path):
    """Bench helper: the draft's plan must take every target from its true sources."""
    truth = json.load(open(b_path + ".truth.json"))["targets"]
    p = subprocess.run([wbr, "plan", draft, a_path, "-t", b_path, "--format", "json"], capture_output=True, text=True)
    if p.returncode != 0:
        print("plan failed")
        sys.exit(1)
    rows = {x["name"]: x["from"] for x in json.loads(p.stdout)["tensors"]}
    bad = [t for t, tr in truth.items() if rows.get(t) != tr["from"]]
    print(f"{len(truth) - len(bad)}/{len(truth)} targets from their true sources")
    sys.exit(1 if bad else 0)


def main():
    if "--verify" in sys.argv:
        verify(*sys.argv[2:6])
        return
    if "--bench" in sys.argv:
        n = int(sys.argv[sys.argv.index("--bench") + 1])
        na, nb = bench_pair(n, "--layout" in sys.argv, sys.argv[1], sys.argv[2])
        print(f"{na} {nb}")
        return
    wbr, work = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(99)
    bad = 0
    for case in cases(2024):
        why = run_case(wbr, work, case, rng)
        if why:
            bad += 1
            print(f"FAIL: match/corpus/{case[0]}: " + "; ".join(why[:4]))
        else:
            print(f"PASS: match/corpus/{case[0]}")
    sys.exit(1 if bad else 0)


main()
