# check.py WBR SCRATCH [REGEX] — the forward-pass tests of issue 12's layouts. For each pair: build
# model A (tests/llm/models.py) with seeded random weights, write its state dict as safetensors,
# convert it with `wbr apply RULES SRC -t B.json -o OUT` (a hand-written file of tests/llm/rules/),
# load OUT into model B with strict=True and compare the two forward passes on one input. Each
# pair has a NEGATIVE control (the conversion without its layout step) that must load and give
# different outputs, so the test can fail. Prints PASS/FAIL lines (tests/lib.sh conventions).
import json
import os
import re
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "apply"))
import models  # noqa: E402
import st  # noqa: E402  (tests/apply/st.py: our own safetensors reader/writer)

WBR, WORK = sys.argv[1], sys.argv[2]
ONLY = re.compile(sys.argv[3]) if len(sys.argv) > 3 else None
RULES = os.path.join(HERE, "rules")

# Model sizes. S1 is what the size-specific rule files are written for; S2 differs in every size.
DENSE = {"s1": dict(dim=32, n_heads=4, n_kv_heads=2, ffn=48, n_layers=2),
         "s2": dict(dim=48, n_heads=6, n_kv_heads=3, ffn=64, n_layers=3, vocab=50)}
MHA = {k: dict(v, n_kv_heads=v["n_heads"]) for k, v in DENSE.items()}  # per-head fusion
MOE = {"s1": dict(dim=32, n_heads=4, n_kv_heads=2, ffn=24, n_layers=2, n_experts=4),
       "s2": dict(dim=48, n_heads=6, n_kv_heads=3, ffn=40, n_layers=3, n_experts=4)}
MOE3 = dict(MOE, s2=dict(MOE["s2"], n_experts=3))  # a file free of the expert count too
GPT = {"s1": dict(dim=32, n_heads=4, n_layers=2), "s2": dict(dim=48, n_heads=4, n_layers=3, vocab=60)}

# id, model A, model B, sizes, rule file, negative (a file in rules/neg/, or None: the rule file
# without its reshape/permute lines, i.e. the plain rename), sizes the ONE file holds for, exact
# (no arithmetic differs between the two forward passes, so the outputs must be bit-identical).
PAIRS = [
    ("hf-to-meta", ("llama", "hf"), ("llama", "meta"), DENSE, "llama_hf_to_meta", None, ["s1"], False),
    ("meta-to-hf", ("llama", "meta"), ("llama", "hf"), DENSE, "llama_meta_to_hf", None, ["s1"], False),
    ("hf-to-gguf", ("llama", "hf"), ("llama", "gguf"), DENSE, "llama_hf_to_gguf", None, ["s1"], False),
    ("gguf-to-hf", ("llama", "gguf"), ("llama", "hf"), DENSE, "llama_gguf_to_hf", None, ["s1"], False),
    ("hf-to-fused-qkv", ("llama", "hf"), ("llama", "fused"), DENSE, "llama_hf_to_fused_qkv",
     "llama_hf_to_fused_qkv", ["s1"], True),
    ("fused-qkv-to-hf", ("llama", "fused"), ("llama", "hf"), DENSE, "llama_fused_qkv_to_hf",
     "llama_fused_qkv_to_hf", ["s1"], True),
    ("hf-to-fused-qkv-per-head", ("llama", "hf"), ("llama", "fused"), MHA, "llama_hf_to_fused_qkv_per_head",
     "llama_hf_to_fused_qkv", ["s1"], True),
    ("mixtral-separate-to-stacked", ("llama", "hf", "separate"), ("llama", "hf", "stacked"), MOE,
     "mixtral_separate_to_stacked", "mixtral_separate_to_stacked", ["s1", "s2"], True),
    ("mixtral-stacked-to-separate", ("llama", "hf", "stacked"), ("llama", "hf", "separate"), MOE3,
     "mixtral_stacked_to_separate", "mixtral_stacked_to_separate", ["s1", "s2"], True),
    ("mixtral-concat-to-stacked", ("llama", "hf", "concat"), ("llama", "hf", "stacked"), MOE,
     "mixtral_concat_to_stacked", "mixtral_concat_to_stacked", ["s1"], False),
    ("mixtral-stacked-to-concat", ("llama", "hf", "stacked"), ("llama", "hf", "concat"), MOE,
     "mixtral_stacked_to_concat", "mixtral_stacked_to_concat", ["s1"], False),
    ("gpt2-conv1d-to-linear", ("gpt2", True), ("gpt2", False), GPT, "gpt2_conv1d_to_linear",
     "gpt2_conv1d_to_linear", ["s1", "s2"], False),
    ("gpt2-linear-to-conv1d", ("gpt2", False), ("gpt2", True), GPT, "gpt2_conv1d_to_linear",
     "gpt2_conv1d_to_linear", ["s1", "s2"], False),
]
TOL = 1e-5  # max |difference| allowed, relative to the largest output, where arithmetic differs
DIFFER = 1e-2  # a negative control must differ by more than this, relative likewise


def build(spec, sizes):
    if spec[0] == "gpt2":
        return models.GPT2(models.Config(**sizes), conv1d=spec[1])
    return models.Llama(models.Config(**sizes), *spec[1:])


def save(model, path):
    st.write(path, [st.from_array(n, t.detach().numpy()) for n, t in model.state_dict().items()])


def manifest(model, path):
    tensors = {n: {"shape": list(t.shape), "dtype": "F32"} for n, t in model.state_dict().items()}
    with open(path, "w") as f:
        json.dump({"tensors": tensors}, f, indent=1)


def load(model, path):
    tensors, _, _ = st.read(path)
    model.load_state_dict({t.name: torch.from_numpy(t.array().copy()) for t in tensors}, strict=True)
    return model


def negative_text(rules):
    """The rule file without its layout statements: what a plain rename would do."""
    lines = open(rules).read().splitlines(keepends=True)
    return "".join(ln for ln in lines if not re.match(r"\s*(reshape|permute)\b", ln))


def convert(rules, src, man, out):
    """Runs wbr apply; returns None or the first lines of its error."""
    if os.path.exists(out):
        os.remove(out)
    r = subprocess.run([WBR, "apply", rules, src, "-t", man, "-o", out], capture_output=True, text=True)
    return None if r.returncode == 0 else "exit %d: %s" % (r.returncode, r.stderr.strip()[:300])


def forward(model, tokens):
    with torch.no_grad():
        return model(tokens)


def run_size(pid, a_spec, b_spec, sizes, rules, neg, exact, seed):
    d = os.path.join(WORK, pid)
    os.makedirs(d, exist_ok=True)
    a = models.randomize(build(a_spec, sizes), seed)
    b = build(b_spec, sizes)
    src, man, out = (os.path.join(d, x) for x in ("a.safetensors", "b.json", "out.safetensors"))
    save(a, src)
    manifest(b, man)
    vocab = models.Config(**sizes).vocab
    tokens = torch.randint(0, vocab, (2, 9), generator=torch.Generator().manual_seed(seed + 1))
    ya = forward(a, tokens)
    scale = ya.abs().max().item()
    err = convert(rules, src, man, out)
    if err:
        print("FAIL: llm/%s: wbr apply %s: %s" % (pid, os.path.basename(rules), err))
    else:
        diff = (forward(load(b, out), tokens) - ya).abs().max().item()
        if exact and diff != 0:
            print("FAIL: llm/%s: outputs differ by %.3g, wanted bit-identical" % (pid, diff))
        elif diff > TOL * scale:
            print("FAIL: llm/%s: outputs differ by %.3g (scale %.3g)" % (pid, diff, scale))
        else:
            print("PASS: llm/%s (max |diff| %.2g of %.2g)" % (pid, diff, scale))
    if neg is None:
        negf = os.path.join(d, "neg.wbr")
        with open(negf, "w") as f:
            f.write(negative_text(rules))
    else:
        negf = os.path.join(RULES, "neg", neg + ".wbr")
    err = convert(negf, src, man, out)
    if err:
        print("FAIL: llm/%s/negative: the control must load: %s" % (pid, err))
        return
    diff = (forward(load(build(b_spec, sizes), out), tokens) - ya).abs().max().item()
    if diff > DIFFER * scale:
        print("PASS: llm/%s/negative (differs by %.2g)" % (pid, diff))
    else:
        print("FAIL: llm/%s/negative: without the layout step the outputs still agree (%.3g)" % (pid, diff))


def size_specific(pid, a_spec, b_spec, sizes, rules):
    """A file written for s1 applied to an s2 model must be refused (its literal sizes do not fit),
    at a line of the file: it must never convert silently."""
    d = os.path.join(WORK, pid)
    os.makedirs(d, exist_ok=True)
    a = models.randomize(build(a_spec, sizes), 7)
    src, man, out = (os.path.join(d, x) for x in ("a.safetensors", "b.json", "out.safetensors"))
    save(a, src)
    manifest(build(b_spec, sizes), man)
    err = convert(rules, src, man, out)
    # Refused by its own sizes: a plan error at a line of the file, or the target's shapes.
    if err and os.path.basename(rules) + ":" in err:
        print("PASS: llm/%s (refused)" % pid)
    elif err:
        print("FAIL: llm/%s: refused for another reason: %s" % (pid, err))
    else:
        print("FAIL: llm/%s: a file with s1's literal sizes converted an s2 model" % pid)


def same_shapes_other_heads():
    """hf -> meta for a model of s1's shapes with 8 heads of 4 (4 kv heads) instead of 4 of 8:
    every tensor has s1's shape, so the size-specific file (head count 4 in its literals) applies
    and the target's shapes cannot object; only the forward pass shows the rows went wrong. This
    is the case issue 12's head-count parameter exists for."""
    pid = "hf-to-meta/heads8-same-shapes"
    if ONLY and not ONLY.search(pid):
        return
    d = os.path.join(WORK, pid)
    os.makedirs(d, exist_ok=True)
    sizes = dict(DENSE["s1"], n_heads=8, n_kv_heads=4)
    a = models.randomize(build(("llama", "hf"), sizes), 5)
    b = build(("llama", "meta"), sizes)
    src, man, out = (os.path.join(d, x) for x in ("a.safetensors", "b.json", "out.safetensors"))
    save(a, src)
    manifest(b, man)
    err = convert(os.path.join(RULES, "llama_hf_to_meta.wbr"), src, man, out)
    if err:
        print("FAIL: llm/%s: expected the s1 file to apply (same shapes): %s" % (pid, err))
        return
    tokens = torch.randint(0, 40, (2, 9), generator=torch.Generator().manual_seed(6))
    ya = forward(a, tokens)
    diff = (forward(load(b, out), tokens) - ya).abs().max().item()
    if diff > DIFFER * ya.abs().max().item():
        print("PASS: llm/%s (wbr accepts it; the forward pass catches it: differs by %.2g)" % (pid, diff))
    else:
        print("FAIL: llm/%s: a 4-head permutation on 8 heads left the outputs equal (%.3g)" % (pid, diff))


def main():
    seed = 100
    for pid, a_spec, b_spec, table, rules, neg, free, exact in PAIRS:
        rules_path = os.path.join(RULES, rules + ".wbr")
        for size in ("s1", "s2"):
            seed += 10
            name = "%s/%s" % (pid, size)
            if ONLY and not ONLY.search(name):
                continue
            if size in free:
                run_size(name, a_spec, b_spec, table[size], rules_path, neg, exact, seed)
            else:
                size_specific(name + "-size-specific", a_spec, b_spec, table[size], rules_path)
    same_shapes_other_heads()


if __name__ == "__main__":
    main()
