# lib_rope.py WBR SCRATCH [REGEX] — forward-pass tests of the LLM rule library's rope, fuse and
# unfuse files (rules/llama_*.wbr, issue 12). Each file is ONE file for every model size: it is
# applied to two sizes (s1, s2: different dims, heads and kv heads, both GQA) with the values from
# an HF-style config.json the test writes (--config), once with --param instead, and the fused
# pair also to a model without GQA (the per-head fusion, kv heads from the default). Outputs of
# model A and of model B loaded from the converted file must agree (check.py's measure). Negative
# controls: the file in the wrong direction or layout, or with a wrong head count, must still
# convert and load, and give different outputs, so the test can fail.
import json
import os
import re
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402  (the reference models, sizes, save/load and the forward pass)

WBR, WORK, ONLY = check.WBR, check.WORK, check.ONLY
LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "rules")
DENSE, MHA = check.DENSE, check.MHA


def config_json(sizes, path, kv=True):
    """An HF-style config.json for a model of these sizes (num_key_value_heads left out when kv
    is False, as configs of models without GQA often do)."""
    c = check.models.Config(**sizes)
    cfg = {"model_type": "llama", "hidden_size": c.dim, "num_attention_heads": c.n_heads,
           "intermediate_size": c.ffn, "num_hidden_layers": c.n_layers, "vocab_size": c.vocab,
           "rms_norm_eps": c.eps, "rope_theta": c.rope_base, "tie_word_embeddings": False}
    if kv:
        cfg["num_key_value_heads"] = c.n_kv_heads
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)


def params(sizes, rules):
    """--param flags for the parameters rules declares without a default (the others follow)."""
    c = check.models.Config(**sizes)
    value = {"n_heads": c.n_heads, "n_kv_heads": c.n_kv_heads, "dim": c.dim}
    args = []
    for name in re.findall(r"(?m)^param (\w+)\s*(?:#.*)?$", open(rules).read()):
        args += ["--param", "%s=%d" % (name, value[name])]
    return args


def convert(rules, src, man, out, args):
    """wbr apply RULES SRC -t MAN -o OUT ARGS...; None or the start of its error."""
    if os.path.exists(out):
        os.remove(out)
    r = subprocess.run([WBR, "apply", rules, src, "-t", man, "-o", out] + args, capture_output=True, text=True)
    return None if r.returncode == 0 else "exit %d: %s" % (r.returncode, r.stderr.strip()[:300])


def rewritten(rules, d, name, edits):
    """A copy of rules with the (regex, replacement) edits applied, each of which must change it."""
    text = open(rules).read()
    for pat, rep in edits:
        new = re.sub(pat, rep, text)
        assert new != text, "%s: %r does not occur" % (rules, pat)
        text = new
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class Case:
    """Model A (seeded random weights) written as safetensors, model B's manifest and config."""

    def __init__(self, pid, a_spec, b_spec, sizes, seed, kv=True):
        self.pid, self.b_spec, self.sizes = pid, b_spec, sizes
        self.d = os.path.join(WORK, "lib_rope", pid)
        os.makedirs(self.d, exist_ok=True)
        self.a = check.models.randomize(check.build(a_spec, sizes), seed)
        self.src, self.man, self.out, self.cfg = (os.path.join(self.d, x) for x in
                                                  ("a.safetensors", "b.json", "out.safetensors", "config.json"))
        check.save(self.a, self.src)
        check.manifest(check.build(b_spec, sizes), self.man)
        config_json(sizes, self.cfg, kv)
        vocab = check.models.Config(**sizes).vocab
        self.tokens = torch.randint(0, vocab, (2, 9), generator=torch.Generator().manual_seed(seed + 1))
        self.ya = check.forward(self.a, self.tokens)
        self.scale = self.ya.abs().max().item()

    def diff(self, rules, args):
        """Max |output difference| after converting with rules and args, or the error text."""
        err = convert(rules, self.src, self.man, self.out, args)
        if err:
            return err
        b = check.load(check.build(self.b_spec, self.sizes), self.out)
        return (check.forward(b, self.tokens) - self.ya).abs().max().item()

    def positive(self, tid, rules, args, exact):
        d = self.diff(rules, args)
        if isinstance(d, str):
            print("FAIL: %s: wbr apply %s: %s" % (tid, os.path.basename(rules), d))
        elif exact and d != 0:
            print("FAIL: %s: outputs differ by %.3g, wanted bit-identical" % (tid, d))
        elif d > check.TOL * self.scale:
            print("FAIL: %s: outputs differ by %.3g (scale %.3g)" % (tid, d, self.scale))
        else:
            print("PASS: %s (max |diff| %.2g of %.2g)" % (tid, d, self.scale))

    def negative(self, tid, rules, args, why):
        d = self.diff(rules, args)
        if isinstance(d, str):
            print("FAIL: %s: the control (%s) must convert and load: %s" % (tid, why, d))
        elif d > check.DIFFER * self.scale:
            print("PASS: %s (%s: differs by %.2g)" % (tid, why, d))
        else:
            print("FAIL: %s: %s left the outputs equal (%.3g)" % (tid, why, d))


def wanted(tid):
    return not ONLY or ONLY.search(tid)


# Every rope statement in the opposite direction.
SWAP = [(r"half -> interleaved|interleaved -> half",
         lambda m: "interleaved -> half" if m.group(0).startswith("half") else "half -> interleaved")]
# id, model A layout, model B layout, rule file, exact (no arithmetic differs: bit-identical)
ROPE_FILES = [
    ("hf-to-meta", "hf", "meta", "llama_hf_to_meta", False),
    ("meta-to-hf", "meta", "hf", "llama_meta_to_hf", False),
    ("hf-to-gguf", "hf", "gguf", "llama_hf_to_gguf", False),
    ("gguf-to-hf", "gguf", "hf", "llama_gguf_to_hf", False),
]
FUSED_FILES = [
    ("hf-to-fused-qkv", "hf", "fused", "llama_hf_to_fused_qkv", True),
    ("fused-qkv-to-hf", "fused", "hf", "llama_fused_qkv_to_hf", True),
]


def run_file(pid, a_layout, b_layout, rules_name, exact, rope, seed):
    rules = os.path.join(LIB, rules_name + ".wbr")
    for size in ("s1", "s2"):
        tid = "llm/lib/%s/%s" % (pid, size)
        if not wanted(tid):
            continue
        c = Case("%s-%s" % (pid, size), ("llama", a_layout), ("llama", b_layout), DENSE[size], seed + len(size))
        seed += 7
        c.positive(tid + "/config", rules, ["--config", c.cfg], exact)
        if size == "s2":
            c.positive(tid + "/param", rules, params(DENSE[size], rules) + ["--param", "n_kv_heads=%d" %
                                                                            DENSE[size]["n_kv_heads"]], exact)
        if rope:
            wrong = rewritten(rules, c.d, "wrong_direction.wbr", SWAP)
            c.negative(tid + "/negative-direction", wrong, ["--config", c.cfg], "the opposite rope direction")
            if size == "s1":  # 4 heads of 8 read as 2 heads of 16 (kv: 1 of 16): still divides
                c.negative(tid + "/negative-heads", rules, ["--config", c.cfg, "--param", "n_heads=2",
                                                            "--param", "n_kv_heads=1"], "half the head count")
        else:
            blocked = rewritten(rules, c.d, "blocked.wbr", [(r"groups n_kv_heads", "blocked")])
            c.negative(tid + "/negative-blocked", blocked, ["--config", c.cfg], "blocked [q; k; v]")
            per_head = rewritten(rules, c.d, "per_head.wbr", [(r"groups n_kv_heads", "groups n_heads")])
            c.negative(tid + "/negative-per-head", per_head, ["--config", c.cfg], "groups of heads, not kv heads")


def run_per_head(seed):
    """Without GQA the same fused files are the per-head fusion [q_h, k_h, v_h]; the config has
    no num_key_value_heads, so n_kv_heads is its default, n_heads."""
    for pid, a_layout, b_layout, rules_name, exact in FUSED_FILES:
        tid = "llm/lib/%s/per-head" % pid
        if not wanted(tid):
            continue
        rules = os.path.join(LIB, rules_name + ".wbr")
        c = Case(pid + "-per-head", ("llama", a_layout), ("llama", b_layout), MHA["s2"], seed, kv=False)
        seed += 7
        c.positive(tid + "/config", rules, ["--config", c.cfg], exact)
        blocked = rewritten(rules, c.d, "blocked.wbr", [(r"groups n_kv_heads", "blocked")])
        c.negative(tid + "/negative-blocked", blocked, ["--config", c.cfg], "blocked [q; k; v]")


def same_shapes_other_heads(seed):
    """check.py's llm/hf-to-meta/heads8-same-shapes, now with the head count given: a model of
    s1's shapes with 8 heads of 4 (4 kv heads). The size-specific file of tests/llm/rules
    converted it wrongly without a complaint; the library file, told the heads by the config,
    converts it right, and told s1's 4 heads (which also divide the rows) gets it wrong."""
    tid = "llm/lib/hf-to-meta/heads8-same-shapes"
    if not wanted(tid):
        return
    sizes = dict(DENSE["s1"], n_heads=8, n_kv_heads=4)
    c = Case("hf-to-meta-heads8", ("llama", "hf"), ("llama", "meta"), sizes, seed)
    rules = os.path.join(LIB, "llama_hf_to_meta.wbr")
    c.positive(tid + "/config", rules, ["--config", c.cfg], False)
    c.negative(tid + "/negative-heads4", rules, ["--config", c.cfg, "--param", "n_heads=4", "--param", "n_kv_heads=2"],
               "s1's head counts on the same shapes")


def main():
    seed = 500
    for pid, a, b, name, exact in ROPE_FILES:
        run_file(pid, a, b, name, exact, True, seed)
        seed += 50
    for pid, a, b, name, exact in FUSED_FILES:
        run_file(pid, a, b, name, exact, False, seed)
        seed += 50
    run_per_head(seed)
    same_shapes_other_heads(seed + 50)


if __name__ == "__main__":
    main()
