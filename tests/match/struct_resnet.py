#!/usr/bin/python3
"""struct_resnet.py WBR WORK — structure decides a pair whose names share no vocabulary (issue 10):
torchvision ResNet-50/101/152 layouts, and one of 2,022 targets (layerS.B.convK, bnK, downsample.0/.1, OIHW, with
num_batches_tracked) as a .safetensors source with seeded random values, onto a nested Flax-style
manifest (encoder/stage_S/block_B/{reduce,spatial,expand,shortcut}/{conv,norm}/{kernel,scale,bias,
mean,var}, HWIO kernels, head/kernel [in, out]), and ResNet-50 onto Keras names. With zero hints `wbr match` must exit 0, and the
applied draft must give every target bit-exact. Real depths; widths are an eighth of the real ones
(so the files stay small), with a stem half as wide as the first stage, so that the first block's
expand [4w, w] and shortcut [4w, stem] convs differ. The variant with the real proportions (stem
as wide as the first stage) makes them identical: no name and no order tells them apart, so it must
exit 3 with exactly those targets flagged, and every pair it decided right.
Prints PASS/FAIL lines; `--make DEPTHS OUTDIR` only writes a pair (for timing by hand)."""
import json
import os
import subprocess
import sys
import time
from collections import OrderedDict

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from check_pair import read_safetensors, replay, write_safetensors  # noqa: E402

DEPTHS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3), "resnet152": (3, 8, 36, 3),
          "resnet-2022": (3, 24, 103, 3)}  # 2,022 targets: a stage of 103 identical blocks
WIDTHS = (8, 16, 32, 64)  # real: 64, 128, 256, 512
HWIO = (2, 3, 1, 0)
BN_TV = (("weight", "scale"), ("bias", "bias"), ("running_mean", "mean"), ("running_var", "var"))


def build(depths, stem, seed):
    """(source tensors in torchvision definition order, target: name -> (source name, axes or None))."""
    rng = np.random.default_rng(seed)
    src, tgt = OrderedDict(), OrderedDict()

    def conv(sname, tscope, o, i, k):
        src[sname] = rng.standard_normal((o, i, k, k)).astype(np.float32)
        tgt[tscope + "conv/kernel"] = (sname, HWIO)

    def bn(sname, tscope, c):
        for tv, fx in BN_TV:
            src[f"{sname}.{tv}"] = rng.standard_normal(c).astype(np.float32)
            tgt[tscope + "norm/" + fx] = (f"{sname}.{tv}", None)
        src[f"{sname}.num_batches_tracked"] = np.array(rng.integers(0, 1000), dtype=np.int64)

    conv("conv1.weight", "encoder/stem/", stem, 3, 7)
    bn("bn1", "encoder/stem/", stem)
    cin = stem
    for s, (d, w) in enumerate(zip(depths, WIDTHS)):
        for b in range(d):
            p, t, ci = f"layer{s + 1}.{b}.", f"encoder/stage_{s}/block_{b}/", cin if b == 0 else 4 * w
            for k, (word, o, i, ks) in enumerate((("reduce", w, ci, 1), ("spatial", w, w, 3), ("expand", 4 * w, w, 1))):
                conv(f"{p}conv{k + 1}.weight", f"{t}{word}/", o, i, ks)
                bn(f"{p}bn{k + 1}", f"{t}{word}/", o)
            if b == 0:
                conv(f"{p}downsample.0.weight", f"{t}shortcut/", 4 * w, ci, 1)
                bn(f"{p}downsample.1", f"{t}shortcut/", 4 * w)
        cin = 4 * w
    src["fc.weight"] = rng.standard_normal((10, cin)).astype(np.float32)
    src["fc.bias"] = rng.standard_normal(10).astype(np.float32)
    tgt["head/kernel"] = ("fc.weight", (1, 0))
    tgt["head/bias"] = ("fc.bias", None)
    return src, tgt


def keras_names(tgt):
    """The same targets under keras.applications' names: conv{S+2}_block{B+1}_{n}_conv/kernel and
    _bn/gamma, beta, moving_mean, moving_variance, the shortcut (n = 0) first in each block."""
    num = {"reduce": 1, "spatial": 2, "expand": 3, "shortcut": 0}
    bn = {"scale": "gamma", "bias": "beta", "mean": "moving_mean", "var": "moving_variance"}
    out = []
    for j, (n, v) in enumerate(tgt.items()):
        p = n.split("/")
        if p[0] == "head":
            out.append(((2, 0, 0, 0, j), "predictions/" + p[1], v))
        elif p[1] == "stem":
            out.append(((0, 0, 0, 0, j), "conv1_" + ("conv/kernel" if p[2] == "conv" else "bn/" + bn[p[3]]), v))
        else:
            s, b, w = int(p[1][6:]), int(p[2][6:]), p[3]
            leaf = "conv/kernel" if p[4] == "conv" else "bn/" + bn[p[5]]
            out.append(((1, s, b, num[w] != 0, j), f"conv{s + 2}_block{b + 1}_{num[w]}_{leaf}", v))
    return OrderedDict((n, v) for _, n, v in sorted(out, key=lambda e: e[0]))


def want(src, tgt):
    return {n: np.ascontiguousarray(src[s] if ax is None else np.transpose(src[s], ax)) for n, (s, ax) in tgt.items()}


def write_pair(d, src, tgt):
    os.makedirs(d, exist_ok=True)
    sp, tp = os.path.join(d, "src.safetensors"), os.path.join(d, "target.json")
    write_safetensors(sp, OrderedDict(sorted(src.items())))  # byte order: no definition order to lean on
    w = want(src, tgt)
    man = {"tensors": OrderedDict((n, {"shape": list(w[n].shape), "dtype": "F32"}) for n in tgt)}
    with open(tp, "w") as f:
        json.dump(man, f)
    return sp, tp


def match(wbr, d, sp, tp):
    draft = os.path.join(d, "draft.wbr")
    t0 = time.time()
    r = subprocess.run([wbr, "match", sp, tp, "-o", draft], capture_output=True, text=True)
    return r, draft, time.time() - t0


def check_values(wbr, d, draft, sp, tp, expect):
    """Apply the draft to the real values; every target bit-exact. Returns a list of problems."""
    out = os.path.join(d, "out.safetensors")
    r = subprocess.run([wbr, "apply", draft, sp, "-t", tp, "-o", out], capture_output=True, text=True)
    if r.returncode != 0:
        return [f"apply exited {r.returncode}: {' '.join(r.stderr.split())[-300:]}"]
    got = read_safetensors(out)
    bad = [n for n, v in expect.items() if n not in got or got[n].shape != v.shape or got[n].tobytes() != v.tobytes()]
    return [f"{len(bad)} wrong target(s): {', '.join(bad[:3])}"] if bad else []


def decided_rows(wbr, draft, sp, tp):
    """The pairs an exit-3 draft decided: its plan's rows (target, sources, ops)."""
    r = subprocess.run([wbr, "plan", draft, sp, "-t", tp, "--format", "json"], capture_output=True, text=True)
    plan = json.loads(r.stdout) if r.stdout.strip() else {}
    return [row for row in plan.get("tensors", []) if row.get("from")]


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--make":
        depths = tuple(int(x) for x in sys.argv[2].split(","))
        src, tgt = build(depths, WIDTHS[0] // 2, 1)
        write_pair(sys.argv[3], src, tgt)
        print(len(src), len(tgt))
        return
    wbr, work = sys.argv[1], sys.argv[2]
    for name, depths in DEPTHS.items():
        d = os.path.join(work, name)
        src, tgt = build(depths, WIDTHS[0] // 2, sum(depths))
        sp, tp = write_pair(d, src, tgt)
        r, draft, secs = match(wbr, d, sp, tp)
        tid = f"match/struct/{name}"
        if r.returncode != 0:
            print(f"FAIL: {tid}/exit0: exit {r.returncode}, wanted 0 with zero hints — {' '.join(r.stderr.split())[-300:]}")
            continue
        print(f"PASS: {tid}/exit0 ({len(src)} sources, {len(tgt)} targets, {secs:.2f} s)")
        probs = check_values(wbr, d, draft, sp, tp, want(src, tgt))
        print(f"FAIL: {tid}/values: {probs[0]}" if probs else f"PASS: {tid}/values")

    # the same onto Keras names (one flat level of layers, the shortcut first)
    d = os.path.join(work, "resnet50-keras")
    src, tgt = build(DEPTHS["resnet50"], WIDTHS[0] // 2, 51)
    tgt = keras_names(tgt)
    sp, tp = write_pair(d, src, tgt)
    r, draft, secs = match(wbr, d, sp, tp)
    tid = "match/struct/resnet50-keras"
    if r.returncode != 0:
        print(f"FAIL: {tid}/exit0: exit {r.returncode}, wanted 0 with zero hints — {' '.join(r.stderr.split())[-300:]}")
    else:
        print(f"PASS: {tid}/exit0 ({len(src)} sources, {len(tgt)} targets, {secs:.2f} s)")
        probs = check_values(wbr, d, draft, sp, tp, want(src, tgt))
        print(f"FAIL: {tid}/values: {probs[0]}" if probs else f"PASS: {tid}/values")

    # the real proportions: layer1.0's expand and shortcut are the same shape, an automorphism
    d = os.path.join(work, "resnet50-automorphism")
    src, tgt = build(DEPTHS["resnet50"], WIDTHS[0], 50)
    sp, tp = write_pair(d, src, tgt)
    r, draft, _ = match(wbr, d, sp, tp)
    tid = "match/struct/resnet50-automorphism"
    twins = {n for n in tgt if n.startswith(("encoder/stage_0/block_0/expand/", "encoder/stage_0/block_0/shortcut/"))}
    if r.returncode != 3:
        print(f"FAIL: {tid}/exit3: exit {r.returncode}, wanted 3 (expand and shortcut cannot be told apart)")
        return
    print(f"PASS: {tid}/exit3")
    text = open(draft).read()
    flagged = {n for n in tgt if f'# target "{n}" ' in text}
    if flagged == twins:
        print(f"PASS: {tid}/flagged ({len(twins)} targets)")
    else:
        print(f"FAIL: {tid}/flagged: flagged {sorted(flagged - twins)[:3]} beyond, missing {sorted(twins - flagged)[:3]}")
    # every decided pair right: replay the plan's rows on the real values
    expect, rows = want(src, tgt), decided_rows(wbr, draft, sp, tp)
    wrong = [row["name"] for row in rows if row["name"] in twins or row["name"] not in expect or
             replay([src[x] for x in row["from"]], row.get("ops", [])).tobytes() != expect[row["name"]].tobytes()]
    if len(rows) != len(tgt) - len(twins):
        print(f"FAIL: {tid}/decided-right: {len(rows)} decided, wanted {len(tgt) - len(twins)}")
    elif wrong:
        print(f"FAIL: {tid}/decided-right: {len(wrong)} wrong: {wrong[:3]}")
    else:
        print(f"PASS: {tid}/decided-right ({len(rows)} targets, values replayed)")


if __name__ == "__main__":
    main()
