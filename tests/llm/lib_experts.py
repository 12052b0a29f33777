# lib_experts.py WBR SCRATCH [REGEX] — the forward-pass tests of the rule library's experts and
# GPT-2 files (rules/mixtral_*.wbr, rules/gpt2_*.wbr). Each file is applied to models of TWO
# sizes (other expert counts, other dims) with its sizes given by an HF-style config.json the test
# writes (--config), and once by --param; model B loads the output strictly and its forward pass
# must equal model A's. A NEGATIVE control (tests/llm/rules/neg/lib_*.wbr: experts in the wrong
# order, a transpose left out) must load and disagree. The models and helpers are check.py's.
import json
import os
import subprocess
import sys

import check  # noqa: E402  (reads WBR, SCRATCH, REGEX from sys.argv, as this file does)
from check import build, forward, load, manifest, models, save, torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(TOP, "rules")
NEG = os.path.join(HERE, "rules", "neg")

# Two sizes of each family: s1 4 experts, s2 3 experts (and every dim different).
MOE = check.MOE3
GPT = check.GPT

# id, model A, model B, sizes, library file, negative control, exact (the same arithmetic in both
# forward passes, so bit-identical outputs; a transposed matrix product is held to check.TOL).
PAIRS = [
    ("lib/mixtral-separate-to-stacked", ("llama", "hf", "separate"), ("llama", "hf", "stacked"), MOE,
     "mixtral_separate_to_stacked", "lib_mixtral_separate_to_stacked", True),
    ("lib/mixtral-stacked-to-separate", ("llama", "hf", "stacked"), ("llama", "hf", "separate"), MOE,
     "mixtral_stacked_to_separate", "lib_mixtral_stacked_to_separate", True),
    ("lib/mixtral-concat-to-stacked", ("llama", "hf", "concat"), ("llama", "hf", "stacked"), MOE,
     "mixtral_concat_to_stacked", "lib_mixtral_concat_to_stacked", False),
    ("lib/mixtral-stacked-to-concat", ("llama", "hf", "stacked"), ("llama", "hf", "concat"), MOE,
     "mixtral_stacked_to_concat", "lib_mixtral_stacked_to_concat", False),
    ("lib/gpt2-conv1d-to-linear", ("gpt2", True), ("gpt2", False), GPT, "gpt2_conv1d_to_linear", "lib_gpt2", False),
    ("lib/gpt2-linear-to-conv1d", ("gpt2", False), ("gpt2", True), GPT, "gpt2_linear_to_conv1d", "lib_gpt2", False),
]


def hf_config(spec, sizes):
    """The config.json Hugging Face's tools write for such a model (the keys --config maps)."""
    c = models.Config(**sizes)
    if spec[0] == "gpt2":  # GPT2Config: n_inner null means 4 * n_embd
        return {"model_type": "gpt2", "n_embd": c.dim, "n_head": c.n_heads, "n_layer": c.n_layers,
                "n_inner": None, "vocab_size": c.vocab}
    return {"model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "hidden_size": c.dim,
            "intermediate_size": c.ffn, "num_attention_heads": c.n_heads, "num_key_value_heads": c.n_kv_heads,
            "num_hidden_layers": c.n_layers, "num_local_experts": c.n_experts, "num_experts_per_tok": c.top_k,
            "vocab_size": c.vocab, "rms_norm_eps": c.eps}


def params(spec, sizes):
    """The same values as --param flags."""
    c = models.Config(**sizes)
    if spec[0] == "gpt2":
        return ["--param", "dim=%d" % c.dim]
    return ["--param", "n_experts=%d" % c.n_experts, "--param", "ffn_dim=%d" % c.ffn, "--param", "dim=%d" % c.dim]


def convert(rules, src, man, out, values):
    if os.path.exists(out):
        os.remove(out)
    r = subprocess.run([check.WBR, "apply", rules, src, "-t", man, "-o", out] + values, capture_output=True, text=True)
    return None if r.returncode == 0 else "exit %d: %s" % (r.returncode, r.stderr.strip()[:300])


def run_one(pid, a_spec, b_spec, sizes, rules, neg, exact, seed, by_param):
    d = os.path.join(check.WORK, pid)
    os.makedirs(d, exist_ok=True)
    a = models.randomize(build(a_spec, sizes), seed)
    src, man, out, cfg = (os.path.join(d, x) for x in ("a.safetensors", "b.json", "out.safetensors", "config.json"))
    save(a, src)
    manifest(build(b_spec, sizes), man)
    with open(cfg, "w") as f:
        json.dump(hf_config(a_spec, sizes), f, indent=1)
    values = params(a_spec, sizes) if by_param else ["--config", cfg]
    tokens = torch.randint(0, models.Config(**sizes).vocab, (2, 9), generator=torch.Generator().manual_seed(seed + 1))
    ya = forward(a, tokens)
    scale = ya.abs().max().item()
    err = convert(rules, src, man, out, values)
    if err:
        print("FAIL: llm/%s: wbr apply %s: %s" % (pid, os.path.basename(rules), err))
    else:
        diff = (forward(load(build(b_spec, sizes), out), tokens) - ya).abs().max().item()
        if exact and diff != 0:
            print("FAIL: llm/%s: outputs differ by %.3g, wanted bit-identical" % (pid, diff))
        elif diff > check.TOL * scale:
            print("FAIL: llm/%s: outputs differ by %.3g (scale %.3g)" % (pid, diff, scale))
        else:
            print("PASS: llm/%s (max |diff| %.2g of %.2g)" % (pid, diff, scale))
    err = convert(neg, src, man, out, values)
    if err:
        print("FAIL: llm/%s/negative: the control must load: %s" % (pid, err))
        return
    diff = (forward(load(build(b_spec, sizes), out), tokens) - ya).abs().max().item()
    if diff > check.DIFFER * scale:
        print("PASS: llm/%s/negative (differs by %.2g)" % (pid, diff))
    else:
        print("FAIL: llm/%s/negative: the control's outputs still agree (%.3g)" % (pid, diff))


def no_values(pid, a_spec, b_spec, sizes, rules):
    """Without --config or --param the file is refused, naming a parameter it needs."""
    d = os.path.join(check.WORK, pid)
    os.makedirs(d, exist_ok=True)
    src, man, out = (os.path.join(d, x) for x in ("a.safetensors", "b.json", "out.safetensors"))
    save(models.randomize(build(a_spec, sizes), 3), src)
    manifest(build(b_spec, sizes), man)
    err = convert(rules, src, man, out, [])
    need = "dim" if a_spec[0] == "gpt2" else "n_experts"
    if err and need in err and not os.path.exists(out):
        print("PASS: llm/%s (refused, names %s)" % (pid, need))
    else:
        print("FAIL: llm/%s: wanted a refusal naming %s, got %s" % (pid, need, err or "exit 0"))


def main():
    seed = 500
    for pid, a_spec, b_spec, table, rules, neg, exact in PAIRS:
        rules_path, neg_path = os.path.join(LIB, rules + ".wbr"), os.path.join(NEG, neg + ".wbr")
        for size, by_param in (("s1", False), ("s2", False), ("s2-param", True)):
            seed += 10
            name = "%s/%s" % (pid, size)
            if not check.ONLY or check.ONLY.search(name):
                run_one(name, a_spec, b_spec, table[size[:2]], rules_path, neg_path, exact, seed, by_param)
        name = pid + "/no-values"
        if not check.ONLY or check.ONLY.search(name):
            no_values(name, a_spec, b_spec, table["s1"], rules_path)


if __name__ == "__main__":
    main()
