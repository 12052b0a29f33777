#!/usr/bin/python3
"""py_bench.py — weightbridge.adapt() on a ViT-B-sized state dict (86 M parameters, JAX/Flax
layout: HWIO patch kernel, [in, out] dense kernels, per-head q/k/v [C, H, D] kernels) onto timm's
names and layouts (fused qkv [3C, C]), against (a) the file + subprocess route (save a
safetensors, write a manifest, `wbr match`, `wbr apply`, load the output back into torch) and
(b) a hand-written PyTorch loop doing the same renames, transposes and concatenations.

Each measure runs in a fresh process (`py_bench.py --one NAME`): best-of-N wall time and peak RSS
(ru_maxrss) above the RSS after the inputs were built; every result is compared with the
hand loop's, exactly. Prints a table and the load average. Usage: bench/py_bench.py [--reps N]
(needs PYTHONPATH=python and WBR=build/wbr; bench/run_py.sh sets both)."""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import torch

C, H, D, MLP, DEPTH, PATCH, TOKENS, CLASSES = 768, 12, 64, 3072, 12, 16, 197, 1000


def jax_vit(seed=0):
    """Their weights: a Flax ViT-B/16 checkpoint's names and layouts, as torch tensors."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    sd = {"embedding/kernel": r(PATCH, PATCH, 3, C), "embedding/bias": r(C), "cls": r(1, 1, C),
          "Transformer/posembed_input/pos_embedding": r(1, TOKENS, C)}
    for i in range(DEPTH):
        p = "Transformer/encoderblock_%d/" % i
        a = p + "MultiHeadDotProductAttention_1/"
        sd.update({p + "LayerNorm_0/scale": r(C), p + "LayerNorm_0/bias": r(C)})
        for n in ("query", "key", "value"):
            sd[a + n + "/kernel"] = r(C, H, D)
            sd[a + n + "/bias"] = r(H, D)
        sd.update({a + "out/kernel": r(H, D, C), a + "out/bias": r(C),
                   p + "LayerNorm_2/scale": r(C), p + "LayerNorm_2/bias": r(C),
                   p + "MlpBlock_3/Dense_0/kernel": r(C, MLP), p + "MlpBlock_3/Dense_0/bias": r(MLP),
                   p + "MlpBlock_3/Dense_1/kernel": r(MLP, C), p + "MlpBlock_3/Dense_1/bias": r(C)})
    sd.update({"Transformer/encoder_norm/scale": r(C), "Transformer/encoder_norm/bias": r(C),
               "head/kernel": r(C, CLASSES), "head/bias": r(CLASSES)})
    return sd


def timm_vit():
    """My weights: timm's VisionTransformer state dict (empty tensors: only names and shapes)."""
    e = torch.empty
    sd = {"cls_token": e(1, 1, C), "pos_embed": e(1, TOKENS, C),
          "patch_embed.proj.weight": e(C, 3, PATCH, PATCH), "patch_embed.proj.bias": e(C)}
    for i in range(DEPTH):
        p = "blocks.%d." % i
        sd.update({p + "norm1.weight": e(C), p + "norm1.bias": e(C),
                   p + "attn.qkv.weight": e(3 * C, C), p + "attn.qkv.bias": e(3 * C),
                   p + "attn.proj.weight": e(C, C), p + "attn.proj.bias": e(C),
                   p + "norm2.weight": e(C), p + "norm2.bias": e(C),
                   p + "mlp.fc1.weight": e(MLP, C), p + "mlp.fc1.bias": e(MLP),
                   p + "mlp.fc2.weight": e(C, MLP), p + "mlp.fc2.bias": e(C)})
    sd.update({"norm.weight": e(C), "norm.bias": e(C), "head.weight": e(CLASSES, C),
               "head.bias": e(CLASSES)})
    return sd


def hand_loop(src):
    """What users write today: the renames, transposes and concatenations, by hand."""
    out = {"cls_token": src["cls"].clone(),
           "pos_embed": src["Transformer/posembed_input/pos_embedding"].clone(),
           "patch_embed.proj.weight": src["embedding/kernel"].permute(3, 2, 0, 1).contiguous(),
           "patch_embed.proj.bias": src["embedding/bias"].clone()}
    for i in range(DEPTH):
        p, b = "Transformer/encoderblock_%d/" % i, "blocks.%d." % i
        a = p + "MultiHeadDotProductAttention_1/"
        out[b + "norm1.weight"] = src[p + "LayerNorm_0/scale"].clone()
        out[b + "norm1.bias"] = src[p + "LayerNorm_0/bias"].clone()
        out[b + "attn.qkv.weight"] = torch.cat(
            [src[a + n + "/kernel"].reshape(C, C).t() for n in ("query", "key", "value")])
        out[b + "attn.qkv.bias"] = torch.cat(
            [src[a + n + "/bias"].reshape(C) for n in ("query", "key", "value")])
        out[b + "attn.proj.weight"] = src[a + "out/kernel"].permute(2, 0, 1).reshape(C, C).contiguous()
        out[b + "attn.proj.bias"] = src[a + "out/bias"].clone()
        out[b + "norm2.weight"] = src[p + "LayerNorm_2/scale"].clone()
        out[b + "norm2.bias"] = src[p + "LayerNorm_2/bias"].clone()
        out[b + "mlp.fc1.weight"] = src[p + "MlpBlock_3/Dense_0/kernel"].t().contiguous()
        out[b + "mlp.fc1.bias"] = src[p + "MlpBlock_3/Dense_0/bias"].clone()
        out[b + "mlp.fc2.weight"] = src[p + "MlpBlock_3/Dense_1/kernel"].t().contiguous()
        out[b + "mlp.fc2.bias"] = src[p + "MlpBlock_3/Dense_1/bias"].clone()
    out["norm.weight"] = src["Transformer/encoder_norm/scale"].clone()
    out["norm.bias"] = src["Transformer/encoder_norm/bias"].clone()
    out["head.weight"] = src["head/kernel"].t().contiguous()
    out["head.bias"] = src["head/bias"].clone()
    return out


def file_route(src, mine, work):
    """Today's route through files: save, manifest, wbr match, wbr apply, load back."""
    import weightbridge as wb
    s, m = os.path.join(work, "theirs.safetensors"), os.path.join(work, "mine.json")
    r, o = os.path.join(work, "rules.wbr"), os.path.join(work, "out.safetensors")
    wb.save(src, s)
    with open(m, "w") as f:
        json.dump(wb.manifest(mine), f)
    wbr = os.environ.get("WBR", "build/wbr")
    subprocess.run([wbr, "match", s, m, "-o", r], check=True, capture_output=True)
    subprocess.run([wbr, "apply", r, s, "-t", m, "-o", o], check=True, capture_output=True)
    back = wb.load(o, torch=True)
    return {k: back[k].clone() for k in back}


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def one(name, reps):
    """Run one measure reps times in this (fresh) process; print a JSON line."""
    src, mine = jax_vit(), timm_vit()
    nparams = sum(t.numel() for t in src.values())
    base = rss_mib()
    if name == "adapt":
        import weightbridge as wb
        fn = lambda: wb.adapt(src, mine)  # noqa: E731
    elif name == "adapt-cached":
        import weightbridge as wb
        cache = os.path.join(tempfile.mkdtemp(), "vit.wbr")
        wb.adapt(src, mine, cache=cache)  # drafts and writes the cache (not timed)
        fn = lambda: wb.adapt(src, mine, cache=cache)  # noqa: E731
    elif name == "files":
        work = tempfile.mkdtemp(dir=os.environ.get("BENCH_DIR"))
        fn = lambda: file_route(src, mine, work)  # noqa: E731
    else:
        fn = lambda: hand_loop(src)  # noqa: E731
    best, out = None, None
    for _ in range(reps):
        out = None
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    want = hand_loop(src)
    exact = list(out) == list(want) and all(torch.equal(out[k], want[k]) for k in want)
    print(json.dumps({"name": name, "seconds": best, "peak_mib": peak, "base_mib": base,
                      "params": nparams, "exact": exact}))


def main():
    reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 3
    if "--one" in sys.argv:
        one(sys.argv[sys.argv.index("--one") + 1], reps)
        return
    rows = {}
    for name in ("hand", "adapt", "adapt-cached", "files"):
        r = subprocess.run([sys.executable, __file__, "--one", name, "--reps", str(reps)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print("%s: failed: %s" % (name, r.stderr[-800:]))
            continue
        rows[name] = json.loads(r.stdout.strip().splitlines()[-1])
    load = os.getloadavg()
    hand = rows.get("hand", {}).get("seconds")
    print("py_bench: ViT-B/16 (%s params, F32), JAX layout -> timm; best of %d; load average "
          "%.2f %.2f %.2f" % (rows.get("hand", {}).get("params"), reps, *load))
    print("| measure | time | vs hand loop | peak RSS above inputs | exact |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        ratio = "%.2fx" % (r["seconds"] / hand) if hand else "-"
        print("| %s | %.3f s | %s | %.0f MiB | %s |" % (name, r["seconds"], ratio,
                                                        r["peak_mib"] - r["base_mib"], r["exact"]))


if __name__ == "__main__":
    main()
