"""cases.py — the matcher corpus: base pairs (the five fixture pairs and synthetic models stored
under two schemes) and the perturbations applied to them, each case carrying its truth: the
expected value of every target tensor (from the source values through the true operations), the
source tensors it is made of, and whether a correct matcher must map the case or refuse it.
Everything is seeded from the case's id, so the corpus is the same on every run."""
import json
import os
import random
import re
import zlib
from collections import OrderedDict

import numpy as np

import models as M
from check_pair import replay

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
NPDT = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64}


def seed_of(text):
    return zlib.crc32(text.encode())


def values(rng, shape, dtype):
    """Random values, exact in F16 too (so a drafted cast between F16/F32/F64 is bit-exact)."""
    if dtype == "I64":
        return rng.integers(0, 2 ** 40, size=shape, dtype=np.int64)
    return rng.standard_normal(shape).astype(np.float16).astype(NPDT[dtype])


class Case:
    """src: name -> array in definition order; tgt: name -> expected array in the target's
    definition order (its dtype is the declared one); deps: target -> the source names it is made
    of ([] when no source can make it); must: "map" or "refuse" (why says what forces refusal);
    sblk/tblk: a regex whose group 1 is a block's index within its family (text before it)."""

    def __init__(self, family, base):
        self.family, self.base, self.perturb = family, base, "base"
        self.src, self.tgt, self.deps = OrderedDict(), OrderedDict(), {}
        self.must, self.why = "map", ""
        self.sblk = self.tblk = None
        # (must with both definition orders usable, must without): for a base where only order
        # breaks a tie the names leave (HF ViT's layernorm_before/after vs norm1/norm2). "either"
        # means both a right exit 0 and an exit 3 pass; wrong values never do.
        self.order_tie = None
        self.convention = False  # a layout convention (rotary, per-head rows) that no hint can express

    def must_for(self, fmt):
        """What a correct matcher must do with this source format: a .safetensors source has no
        definition order, and a scrambled source or target order breaks no tie."""
        if self.must == "refuse" or not self.order_tie:
            return self.must
        scrambled = self.perturb in ("src-shuffled", "src-reversed", "tgt-sorted", "tgt-shuffled", "tgt-reversed", "combo")
        return self.order_tie[0] if fmt == "pt" and not scrambled else self.order_tie[1]

    @property
    def id(self):
        return f"{self.family}.{self.base}.{self.perturb}"

    def refuse(self, why):
        self.must = "refuse"
        self.why = "; ".join(x for x in (self.why, why) if x)

    def truth(self):
        return {"must": {f: self.must_for(f) for f in ("safetensors", "pt")}, "why": self.why,
                "targets": {t: {"from": self.deps[t]} if self.deps[t] else {"from": [], "note": "no source makes it"}
                            for t in self.tgt}}


# ---- base pairs -----------------------------------------------------------------------------------

def synthetic(family, base, model, src_scheme, tgt_scheme, sblk, tblk, must="map", why=""):
    c = Case(family, base)
    rng = np.random.default_rng(seed_of(family + base))
    canon = {k: values(rng, shape, dt) for k, (shape, dt) in model.t.items()}
    skeys = {}
    for name, keys, fn in src_scheme(model):
        assert name not in c.src, name
        c.src[name] = np.ascontiguousarray(fn([canon[k] for k in keys]))
        skeys[name] = set(keys)
    for name, keys, fn in tgt_scheme(model):
        assert name not in c.tgt, name
        c.tgt[name] = np.ascontiguousarray(fn([canon[k] for k in keys]))
        ks = set(keys)
        srcs = [s for s in c.src if skeys[s] & ks]
        covered = set().union(*(skeys[s] for s in srcs)) if srcs else set()
        c.deps[name] = srcs if ks <= covered else []
    c.sblk, c.tblk = sblk, tblk
    if must == "refuse":
        c.refuse(why)
    if any(not d for d in c.deps.values()):
        c.refuse("a target has no source")
    return c


FIXTURE_BLOCKS = {
    "convnext_tv_to_timm": (r"^features\.\d+\.(\d+)\.block\.", r"^stages\.\d+\.blocks\.(\d+)\."),
    "gpt2_hf_to_nanogpt": (r"^transformer\.h\.(\d+)\.", r"^transformer\.h\.(\d+)\."),
    "resnet_tv_to_detr": (r"^layer\d\.(\d+)\.", r"^body\.layer\d\.(\d+)\."),
    "vit_jax_to_timm": (r"^Transformer/encoderblock_(\d+)/", r"^blocks\.(\d+)\."),
    "vit_tv_to_timm": (r"^encoder\.layers\.encoder_layer_(\d+)\.", r"^blocks\.(\d+)\."),
}


def fixture(pair):
    d = os.path.join(FIXTURES, pair)
    a = json.load(open(os.path.join(d, "a.json")))["tensors"]
    b = json.load(open(os.path.join(d, "b.json")))["tensors"]
    truth = json.load(open(os.path.join(d, "truth.json")))["targets"]
    c = Case("fixture", pair)
    rng = np.random.default_rng(seed_of(pair))
    for n, v in a.items():
        c.src[n] = values(rng, v["shape"], v["dtype"])
    for n, v in b.items():
        tr = truth[n]
        c.tgt[n] = replay([c.src[s] for s in tr["from"]], tr.get("ops", [])).astype(NPDT[v["dtype"]])
        c.deps[n] = list(tr["from"])
    c.sblk, c.tblk = FIXTURE_BLOCKS[pair]
    return c


RES_S = {"tv": (M.resnet_tv, r"^layer\d+\.(\d+)\."),
         "timm": (M.resnet_timm, r"^stages\.\d+\.blocks\.(\d+)\."),
         "flaxwords": (M.resnet_flaxwords, r"^encoder/stage_\d+/block_(\d+)/"),
         "keras": (M.resnet_keras, r"^conv\d+_block(\d+)_"),
         "detr": (lambda m: M.resnet_tv(m, prefix="backbone.0.body."), r"^backbone\.0\.body\.layer\d+\.(\d+)\.")}
VIT_S = {"tv": (M.vit_tv, r"^encoder\.layers\.encoder_layer_(\d+)\."),
         "timm": (M.vit_timm, r"^blocks\.(\d+)\."),
         "beit": (M.vit_beit, r"^blocks\.(\d+)\."),
         "hf": (M.vit_hf, r"^vit\.encoder\.layer\.(\d+)\."),
         "flax": (M.vit_flax, r"^Transformer/encoderblock_(\d+)/"),
         "flaxscan": (M.vit_flax_scanned, None),
         "hfflax": (M.vit_hf_flax, r"^vit/encoder/layer/(\d+)/")}
GPT_S = {"hf": (M.gpt2_hf, r"^h\.(\d+)\."),
         "nanogpt": (M.gpt2_nanogpt, r"^transformer\.h\.(\d+)\."),
         "neo": (M.gpt2_neo, r"^transformer\.h\.(\d+)\."),
         "flax": (M.gpt2_flax, r"^transformer/h/(\d+)/"),
         "neox": (M.gpt2_neox, r"^gpt_neox\.layers\.(\d+)\."),
         "flaxscan": (M.gpt2_flax_scanned, None)}
LLAMA_S = {"hf": (M.llama_hf, r"^model\.layers\.(\d+)\."),
           "meta": (M.llama_meta, r"^layers\.(\d+)\."),
           "phi3": (M.llama_phi3, r"^model\.layers\.(\d+)\."),
           "megatron": (M.llama_megatron, r"^model\.layers\.(\d+)\.")}
MOE_S = {"mixtral": (M.moe_hf, r"^model\.layers\.(\d+)\."),
         "stacked": (M.moe_stacked, r"^model\.layers\.(\d+)\."),
         "qwen": (M.moe_qwen, r"^model\.layers\.(\d+)\."),
         "qwenfused": (M.moe_qwen_fused, r"^model\.layers\.(\d+)\.")}


def _pair(family, schemes, model_fn, a, b, must="map", why="", tag="", only=None, order_tie=None):
    """A synthetic base pair's builder; `only` limits the perturbations (for the slow, large ones)."""
    def build():
        (sa, ra), (sb, rb) = schemes[a], schemes[b]
        c = synthetic(family, f"{a}-{b}{tag}", model_fn(), sa, sb, ra, rb, must, why)
        c.convention = why in CONVENTIONS
        if order_tie:
            c.order_tie, c.why = order_tie[:2], order_tie[2]
        return c
    build.only = only
    return build


ROPE = "q/k rotary convention differs (Meta interleaved vs HF half split)"
NEOX = "fused qkv: blocked vs per-head rows"
MEGATRON = "fused qkv: blocked vs per kv-group rows"
CONVENTIONS = (ROPE, NEOX, MEGATRON)


def bases():
    """Every base pair as a builder (built lazily: fixture values are a few MB)."""
    out = [lambda p=p: fixture(p) for p in sorted(FIXTURE_BLOCKS)]  # noqa: E731
    R = M.resnet
    out += [_pair("resnet", RES_S, R, a, b) for a, b in
            (("tv", "tv"), ("tv", "timm"), ("tv", "flaxwords"), ("tv", "keras"), ("keras", "timm"), ("flaxwords", "timm"),
             ("tv", "detr"), ("timm", "flaxwords"))]
    out.append(_pair("resnet", RES_S, R, "timm", "tv", "refuse", "the target's num_batches_tracked have no source"))
    # a ResNet-152-like stage of 70 identical blocks (tiny widths): no cap may turn it into a refusal
    out.append(_pair("resnet", RES_S, lambda: M.resnet(stages=(2, 3, 66, 2), widths=(2, 3, 4, 5), stem=4),
                     "tv", "flaxwords", tag="-deep", only={"base", "tgt-shuffled", "src-swap", "tgt-shallower-mid",
                                                          "tgt-one-based", "missing-extra"}))
    out.append(_pair("resnet", RES_S, lambda: M.resnet(stem=6), "tv", "flaxwords", tag="-automorphism", order_tie=(
        "either", "refuse", "stage 0 block 0: expand and shortcut are identical in shape; only definition order tells them apart")))
    out += [_pair("vit", VIT_S, M.vit, a, b) for a, b in (("tv", "timm"), ("flax", "timm"), ("tv", "beit"), ("hfflax", "hf"))]
    # scanned: a depth that is neither the MLP ratio (4) nor the q/k/v count (3), so no [depth, C]
    # tensor has the element count of a [4C] or [3C] one by accident
    out += [_pair("vit", VIT_S, lambda: M.vit(depth=5), a, b) for a, b in (("flaxscan", "timm"), ("timm", "flaxscan"))]
    # layernorm_before/after against norm1/norm2 (or LayerNorm_0/2): the words do not say which is
    # which to a matcher without a convention; definition order, where both sides have one, does
    out += [_pair("vit", VIT_S, M.vit, a, b, order_tie=("map", "either", "norms: layernorm_before/after vs numbered"))
            for a, b in (("hf", "timm"), ("timm", "hf"), ("hf", "flax"), ("timm", "hfflax"))]
    out.append(_pair("vit", VIT_S, M.vit, "beit", "timm", "refuse", "the source has no k bias"))
    out += [_pair("gpt2", GPT_S, M.gpt2, a, b) for a, b in
            (("hf", "nanogpt"), ("hf", "flax"), ("hf", "neo"), ("nanogpt", "hf"), ("neo", "nanogpt"), ("flax", "nanogpt"))]
    out += [_pair("gpt2", GPT_S, lambda: M.gpt2(depth=5), a, b) for a, b in (("flaxscan", "nanogpt"), ("hf", "flaxscan"))]
    out.append(_pair("gpt2", GPT_S, M.gpt2, "nanogpt", "neox", "refuse", NEOX))
    # separate Linear q, k, v joined along axis 1 into HF's Conv1D c_attn [in, 3 out]
    out.append(_pair("gpt2", GPT_S, M.gpt2, "neo", "hf"))
    # an MLP ratio of 1: every 2-D weight but c_attn is square, so no non-square layer-mate says
    # whether to transpose; the layouts both layers show do (c_attn [C, 3C]: Conv1D; Flax kernels;
    # GPT-Neo's q_proj: Linear), the MLP's c_fc / c_proj included (issue 10 item 6)
    SQ = lambda: M.gpt2(mlp=24)  # noqa: E731
    out += [_pair("gpt2", GPT_S, SQ, a, b, tag="-square") for a, b in
            (("hf", "neo"), ("flax", "neo"), ("nanogpt", "neo"), ("neo", "hf"), ("neo", "nanogpt"))]
    out += [_pair("llama", LLAMA_S, M.llama, a, b) for a, b in (("hf", "phi3"), ("phi3", "hf"), ("hf", "hf"))]
    out += [_pair("llama", LLAMA_S, M.llama, a, b, "refuse", ROPE) for a, b in (("meta", "hf"), ("hf", "meta"))]
    out.append(_pair("llama", LLAMA_S, M.llama, "hf", "megatron", "refuse", MEGATRON))
    MOE = lambda: M.llama(depth=2, c=16, heads=2, kv=1, ffn=40, vocab=48, experts=4)  # noqa: E731
    out += [_pair("moe", MOE_S, MOE, a, b) for a, b in
            (("mixtral", "stacked"), ("stacked", "mixtral"), ("qwen", "qwenfused"), ("qwenfused", "qwen"))]
    return out


# ---- perturbations --------------------------------------------------------------------------------
# Each takes a fresh copy of a base case and an rng, changes it, and returns False when it does not
# apply (no block family to act on, no same-shape pair...).

def side(c, which):
    return c.src if which == "src" else c.tgt


def set_side(c, which, items):
    if which == "src":
        c.src = OrderedDict(items)
    else:
        c.tgt = OrderedDict(items)


def reorder(which, how):
    def p(c, rng):
        names = list(side(c, which))
        if how == "sorted":
            names.sort()
        elif how == "reversed":
            names.reverse()
        else:
            rng.shuffle(names)
        set_side(c, which, [(n, side(c, which)[n]) for n in names])
        return True
    return p


def families(c, which):
    """family text -> index -> names of that block, in definition order."""
    rx = c.sblk if which == "src" else c.tblk
    fam = OrderedDict()
    if not rx:
        return fam
    for n in side(c, which):
        m = re.match(rx, n)
        if m:
            fam.setdefault(n[:m.start(1)], OrderedDict()).setdefault(int(m.group(1)), []).append(n)
    return fam


def signature(c, which, names):
    rx = c.sblk if which == "src" else c.tblk
    d = side(c, which)
    return sorted((n[re.match(rx, n).end(1):], d[n].shape, str(d[n].dtype)) for n in names)


def swap_blocks(which):
    """Two blocks of identical structure trade places in one side's definition order."""
    def p(c, rng):
        for blocks in families(c, which).values():
            idx = list(blocks)
            pairs = [(i, j) for i in idx for j in idx if i < j and
                     signature(c, which, blocks[i]) == signature(c, which, blocks[j])]
            if pairs:
                i, j = pairs[0]
                order = list(side(c, which))
                pi = [order.index(n) for n in blocks[i]]
                pj = [order.index(n) for n in blocks[j]]
                for pos, n in zip(pi, blocks[j]):
                    order[pos] = n
                for pos, n in zip(pj, blocks[i]):
                    order[pos] = n
                set_side(c, which, [(n, side(c, which)[n]) for n in order])
                return True
        return False
    return p


def renumber(c, which, fn):
    """Rename every block name through fn(family, index) -> new index (None = delete it)."""
    rx = c.sblk if which == "src" else c.tblk
    items, renames = [], {}
    for n, v in side(c, which).items():
        m = re.match(rx, n) if rx else None
        if m:
            new = fn(n[:m.start(1)], int(m.group(1)))
            if new is None:
                renames[n] = None
                continue
            nn = n[:m.start(1)] + str(new) + n[m.end(1):]
            renames[n] = nn
            n = nn
        items.append((n, v))
    set_side(c, which, items)
    if which == "tgt":
        c.deps = {renames.get(t, t): d for t, d in c.deps.items() if renames.get(t, t) is not None}
    else:
        c.deps = {t: [renames.get(s, s) for s in d] if all(renames.get(s, s) for s in d) else [] for t, d in c.deps.items()}
    return renames


def partial_blocks(c, which):
    """Names of a block that its family's regex leaves out (torchvision ConvNeXt's
    `features.3.0.layer_scale` beside `features.3.0.block.*`): a renumbering moves the rest of
    the block without them."""
    rx = c.sblk if which == "src" else c.tblk
    if not rx:
        return []
    scopes = {n[:m.end(1) + 1] for n in side(c, which) for m in [re.match(rx, n)] if m}
    return [n for n in side(c, which) if not re.match(rx, n) and any(n.startswith(sc) for sc in scopes)]


STRICT = {"map": 0, "either": 1, "refuse": 2}


def only_order_decides(c, why):
    """Without definition order the case must be refused; with it (a .pt source, orders intact)
    a right exit 0 or an exit 3 both pass (as for the automorphism)."""
    pt = "either" if not c.order_tie else max(c.order_tie[0], "either", key=STRICT.get)
    c.order_tie = (pt, "refuse")
    c.why = "; ".join(x for x in (c.why, why) if x)


def shift(which, by=1):
    """One-based (or zero-based) numbering on one side."""
    def p(c, rng):
        if not families(c, which):
            return False
        left = partial_blocks(c, which)
        renumber(c, which, lambda f, i: i + by)
        if left:
            # features.3.{0: layer_scale; 1: block.*, layer_scale; 2: block.*} against two target
            # blocks: names and shapes fit a source of three blocks with pieces missing as well
            only_order_decides(c, f"renumbering left {left[0]!r} (and {len(left) - 1} more) behind: "
                                  "the numbers no longer say which tensors form a block")
        return True
    return p


def prefix(which, pfx):
    def p(c, rng):
        set_side(c, which, [(pfx + n, v) for n, v in side(c, which).items()])
        if which == "tgt":
            c.deps = {pfx + t: d for t, d in c.deps.items()}
            if c.tblk:
                c.tblk = "^" + re.escape(pfx) + c.tblk[1:]
        else:
            c.deps = {t: [pfx + s for s in d] for t, d in c.deps.items()}
            if c.sblk:
                c.sblk = "^" + re.escape(pfx) + c.sblk[1:]
        return True
    return p


def _largest_family(c):
    fams = families(c, "tgt")
    return max(fams.items(), key=lambda kv: len(kv[1]), default=(None, None))


def depth(kind, where):
    """The target one block shallower or deeper than the source, the block at the end or in the
    middle: no correct matcher can know which block is missing (or where the new one goes)."""
    def p(c, rng):
        fam, blocks = _largest_family(c)
        if fam is None:
            return False
        idx = sorted(blocks)
        n = len(idx)
        if kind == "minus":
            if n < (3 if where == "mid" else 2):
                return False
            r = idx[-1] if where == "end" else idx[n // 2]
            renumber(c, "tgt", lambda f, i: i if f != fam or i < r else (None if i == r else i - 1))
        else:
            if n < 2:
                return False
            r = idx[-1] + 1 if where == "end" else idx[n // 2]
            tmpl = blocks[idx[-1] if where == "end" else r]
            shapes = {t: c.tgt[t] for t in tmpl}
            if where == "mid":
                renumber(c, "tgt", lambda f, i: i + 1 if f == fam and i >= r else i)
            rx = c.tblk
            new = [(t[:re.match(rx, t).start(1)] + str(r) + t[re.match(rx, t).end(1):], shapes[t]) for t in tmpl]
            # the new block goes right after block r - 1 of the family
            prev = [t for t in c.tgt if re.match(rx, t) and t.startswith(fam) and int(re.match(rx, t).group(1)) == r - 1]
            items, at = list(c.tgt.items()), max(list(c.tgt).index(t) for t in prev) + 1
            fresh = [(t, values(rng, v.shape, {np.dtype(np.int64): "I64"}.get(v.dtype, "F32")).astype(v.dtype)) for t, v in new]
            c.tgt = OrderedDict(items[:at] + fresh + items[at:])
            for t, _ in fresh:
                c.deps[t] = []
        c.refuse(f"depth mismatch in {fam!r}")
        return True
    return p


def missing_extra(c, rng):
    """One source tensor missing, one target tensor missing, of the same shape: the two leftovers
    must not be paired (R3)."""
    users = {}
    for t, d in c.deps.items():
        for s in d:
            users.setdefault(s, []).append(t)
    one = [t for t, d in c.deps.items() if len(d) == 1 and len(users[d[0]]) == 1 and c.tgt[t].ndim >= 1]
    by = OrderedDict()
    for t in one:
        by.setdefault((c.tgt[t].shape, str(c.tgt[t].dtype)), []).append(t)
    groups = [g for g in by.values() if len(g) >= 2]
    if not groups:
        return False
    g = groups[int(rng.integers(len(groups)))]
    ta, tb = g[len(g) // 2], g[0]
    del c.src[c.deps[ta][0]]
    c.deps[ta] = []
    del c.tgt[tb]
    del c.deps[tb]
    c.refuse(f"{ta!r} has no source; the source of {tb!r} has no target")
    return True


def dtype_f16(which):
    def p(c, rng):
        d = side(c, which)
        if not any(v.dtype == np.float32 for v in d.values()):
            return False
        set_side(c, which, [(n, v.astype(np.float16) if v.dtype == np.float32 else v) for n, v in d.items()])
        return True
    return p


def mixed_f16(c, rng):
    """A mixed-precision target: weights of 2 or more axes in F16, vectors kept F32."""
    if not any(v.dtype == np.float32 and v.ndim >= 2 for v in c.tgt.values()):
        return False
    c.tgt = OrderedDict((n, v.astype(np.float16) if v.dtype == np.float32 and v.ndim >= 2 else v) for n, v in c.tgt.items())
    return True


def int_declared_float(c, rng):
    """The target manifest says F32 for an I64 tensor (the README's old one-liner did)."""
    ints = [t for t, v in c.tgt.items() if v.dtype == np.int64]
    if not ints:
        return False
    for t in ints:
        c.tgt[t] = c.tgt[t].astype(np.float32)
    c.refuse("I64 tensors declared F32 in the target")
    return True


def combo(c, rng):
    """Several at once: one-based shuffled target, a `module.` source (DDP)."""
    if not families(c, "tgt"):
        return False
    shift("tgt")(c, rng)
    reorder("tgt", "shuffled")(c, rng)
    prefix("src", "module.")(c, rng)
    return True


PERTURBATIONS = [
    ("base", lambda c, rng: True),
    ("tgt-sorted", reorder("tgt", "sorted")),
    ("tgt-shuffled", reorder("tgt", "shuffled")),
    ("tgt-reversed", reorder("tgt", "reversed")),
    ("src-shuffled", reorder("src", "shuffled")),
    ("src-reversed", reorder("src", "reversed")),
    ("tgt-swap", swap_blocks("tgt")),
    ("src-swap", swap_blocks("src")),
    ("tgt-shallower-end", depth("minus", "end")),
    ("tgt-shallower-mid", depth("minus", "mid")),
    ("tgt-deeper-end", depth("plus", "end")),
    ("tgt-deeper-mid", depth("plus", "mid")),
    ("missing-extra", missing_extra),
    ("tgt-one-based", shift("tgt")),
    ("src-one-based", shift("src")),
    ("src-module", prefix("src", "module.")),
    ("src-orig-mod", prefix("src", "_orig_mod.")),
    ("tgt-model", prefix("tgt", "model.")),
    ("tgt-f16", dtype_f16("tgt")),
    ("src-f16", dtype_f16("src")),
    ("tgt-mixed-f16", mixed_f16),
    ("int-as-f32", int_declared_float),
    ("combo", combo),
]


def copy_case(c):
    d = Case(c.family, c.base)
    d.src, d.tgt, d.deps = OrderedDict(c.src), OrderedDict(c.tgt), dict(c.deps)
    d.must, d.why, d.sblk, d.tblk, d.order_tie, d.convention = c.must, c.why, c.sblk, c.tblk, c.order_tie, c.convention
    return d


def all_cases():
    """Every applicable case, in a fixed order (bases in order, perturbations in order)."""
    out = []
    for build in bases():
        base = build()
        for pname, pfn in PERTURBATIONS:
            if getattr(build, "only", None) and pname not in build.only:
                continue
            c = copy_case(base)
            c.perturb = pname
            if pfn(c, np.random.default_rng(seed_of(c.id))):
                out.append(c)
    return out
