# models.py — tiny reference models of the LLM layouts issue 12 converts between, written for these
# tests from the papers and public documentation (no code copied from any project). One class per
# family, parameterised by its LAYOUT (tensor names, fused or separate q/k/v, RoPE convention,
# experts stacked or separate, Conv1D or Linear), so the same weights can live in every layout and
# two forward passes can be compared. Sources are named at each function.
import math

import torch
import torch.nn.functional as F
from torch import nn


class Config:
    """Sizes of one tiny model (every field a plain int; n_experts 0 means a dense SwiGLU MLP)."""

    def __init__(self, vocab=40, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn=48,
                 n_experts=0, top_k=2, rope_base=10000.0, eps=1e-5):
        self.vocab, self.dim, self.n_layers = vocab, dim, n_layers
        self.n_heads, self.n_kv_heads, self.ffn = n_heads, n_kv_heads, ffn
        self.n_experts, self.top_k, self.rope_base, self.eps = n_experts, top_k, rope_base, eps
        assert dim % n_heads == 0 and n_heads % n_kv_heads == 0
        self.head_dim = dim // n_heads


# ---- building blocks -----------------------------------------------------------------------

def rms_norm(x, w, eps):
    """RMSNorm (Zhang & Sennrich 2019, "Root Mean Square Layer Normalization"): x / rms(x) * w."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_angles(seq, head_dim, base):
    """RoFormer (Su et al. 2021) eq. 15: pair i of a head rotates by pos * base^(-2i/d)."""
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    ang = torch.arange(seq, dtype=torch.float32)[:, None] * inv[None, :]
    return ang.cos(), ang.sin()  # [seq, head_dim / 2]


def rope_interleaved(x, cos, sin):
    """Rotary embedding on adjacent pairs (x[2i], x[2i+1]): the RoFormer paper's form and Meta's
    original LLaMA release (which views the pairs as complex numbers); llama.cpp's "normal" rope.
    x is [batch, heads, seq, head_dim]."""
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)
    return out.flatten(-2)


def rope_half(x, cos, sin):
    """Rotary embedding on the pairs (x[i], x[i + d/2]): Hugging Face's LLaMA ("rotate_half", the
    GPT-NeoX form), which is why its conversion script permutes the rows of q and k."""
    h = x.shape[-1] // 2
    a, b = x[..., :h], x[..., h:]
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)


def attention(q, k, v, n_heads, n_kv_heads):
    """Causal grouped-query attention (Ainslie et al. 2023, "GQA"): query head h reads kv head
    h // (n_heads / n_kv_heads). q is [b, H, s, d], k and v [b, KV, s, d]."""
    rep = n_heads // n_kv_heads
    k = k.repeat_interleave(rep, dim=1)
    v = v.repeat_interleave(rep, dim=1)
    s = q.shape[2]
    att = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    mask = torch.ones(s, s, dtype=torch.bool).triu(1)
    att = att.masked_fill(mask, float("-inf")).softmax(-1)
    return att @ v


def swiglu(x, w1, w2, w3):
    """SwiGLU feed-forward (Shazeer 2020, "GLU Variants Improve Transformer"): w2(silu(w1 x) * w3 x);
    Hugging Face calls w1 gate_proj, w3 up_proj, w2 down_proj."""
    return F.linear(F.silu(F.linear(x, w1)) * F.linear(x, w3), w2)


def moe(x, router, experts, top_k):
    """Sparse mixture of experts as the Mixtral paper (Jiang et al. 2024) describes it: each token
    goes to the top_k experts of the router's logits, weighted by the softmax over those top_k.
    experts is a list of (w1, w2, w3)."""
    logits = F.linear(x, router)
    val, idx = logits.topk(top_k, dim=-1)
    gate = val.softmax(-1)
    out = torch.zeros_like(x)
    for e, (w1, w2, w3) in enumerate(experts):
        weight = (gate * (idx == e)).sum(-1, keepdim=True)  # 0 where e is not chosen
        out = out + weight * swiglu(x, w1, w2, w3)
    return out


class Tree(nn.Module):
    """Parameters registered under dotted names (child modules made on the way), so a state dict
    has exactly the names of the layout being modelled."""

    def add(self, name, shape):
        mod = self
        *path, leaf = name.split(".")
        for p in path:
            if not hasattr(mod, p):
                mod.add_module(p, nn.Module())
            mod = getattr(mod, p)
        mod.register_parameter(leaf, nn.Parameter(torch.zeros(shape)))

    def get(self, name):
        return self.get_parameter(name)


# ---- the LLaMA / Mistral / Mixtral family --------------------------------------------------

# Names of each layout. hf: Hugging Face LlamaForCausalLM / MistralForCausalLM /
# MixtralForCausalLM; meta: Meta's original LLaMA checkpoints (params.json + consolidated.pth);
# gguf: llama.cpp's GGUF tensor names (the names only, the file here is safetensors). fused: the
# Hugging Face names with q, k and v fused per kv group into one qkv_proj.
NAMES = {
    "hf": {"embed": "model.embed_tokens.weight", "norm": "model.norm.weight", "output": "lm_head.weight",
           "layer": "model.layers.{i}.", "attn_norm": "input_layernorm.weight",
           "ffn_norm": "post_attention_layernorm.weight", "q": "self_attn.q_proj.weight",
           "k": "self_attn.k_proj.weight", "v": "self_attn.v_proj.weight", "o": "self_attn.o_proj.weight",
           "w1": "mlp.gate_proj.weight", "w2": "mlp.down_proj.weight", "w3": "mlp.up_proj.weight",
           "router": "block_sparse_moe.gate.weight", "experts": "block_sparse_moe.experts."},
    "meta": {"embed": "tok_embeddings.weight", "norm": "norm.weight", "output": "output.weight",
             "layer": "layers.{i}.", "attn_norm": "attention_norm.weight", "ffn_norm": "ffn_norm.weight",
             "q": "attention.wq.weight", "k": "attention.wk.weight", "v": "attention.wv.weight",
             "o": "attention.wo.weight", "w1": "feed_forward.w1.weight", "w2": "feed_forward.w2.weight",
             "w3": "feed_forward.w3.weight", "router": "feed_forward.gate.weight",
             "experts": "feed_forward.experts."},
    "gguf": {"embed": "token_embd.weight", "norm": "output_norm.weight", "output": "output.weight",
             "layer": "blk.{i}.", "attn_norm": "attn_norm.weight", "ffn_norm": "ffn_norm.weight",
             "q": "attn_q.weight", "k": "attn_k.weight", "v": "attn_v.weight", "o": "attn_output.weight",
             "w1": "ffn_gate.weight", "w2": "ffn_down.weight", "w3": "ffn_up.weight"},
}
NAMES["fused"] = dict(NAMES["hf"], qkv="self_attn.qkv_proj.weight")
# qkv_groups: the same per-kv-group fusion under the name the implementations that use it give it
# (GPT-NeoX, Falcon, Megatron `query_key_value`): `qkv_proj` is Phi-3's blocked [q; k; v] too, so
# only this name lets `wbr match` tell the layout (docs/matcher.md, "Implementation families").
NAMES["qkv_groups"] = dict(NAMES["hf"], qkv="self_attn.query_key_value.weight")
# Which rotary convention each layout's forward pass uses (llama.cpp's LLaMA uses adjacent pairs,
# so its converter permutes Hugging Face's q and k rows back to Meta's order).
ROPE = {"hf": "half", "fused": "half", "qkv_groups": "half", "meta": "interleaved", "gguf": "interleaved"}


class Llama(Tree):
    """A LLaMA-style decoder: RMSNorm, RoPE, GQA attention, SwiGLU MLP (or a top-k MoE when
    cfg.n_experts > 0), tied nothing. layout: a key of NAMES; experts: "separate" (one module per
    expert, Mixtral's experts.E.w1), "stacked" (experts.w1 [E, ffn, dim], experts.w2 [E, dim, ffn])
    or "concat" (experts.w1 and .w3 [E*ffn, dim] cut along rows; experts.w2 stored transposed per
    expert and concatenated, [E*ffn, dim])."""

    def __init__(self, cfg, layout="hf", experts="separate"):
        super().__init__()
        self.cfg, self.layout, self.experts_layout = cfg, layout, experts
        self.n = NAMES[layout]
        c = cfg
        qd, kvd = c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim
        self.add(self.n["embed"], (c.vocab, c.dim))
        for i in range(c.n_layers):
            self.add(self.ln(i, "attn_norm"), (c.dim,))
            if "qkv" in self.n:
                self.add(self.ln(i, "qkv"), (qd + 2 * kvd, c.dim))
            else:
                self.add(self.ln(i, "q"), (qd, c.dim))
                self.add(self.ln(i, "k"), (kvd, c.dim))
                self.add(self.ln(i, "v"), (kvd, c.dim))
            self.add(self.ln(i, "o"), (c.dim, qd))
            self.add(self.ln(i, "ffn_norm"), (c.dim,))
            if c.n_experts:
                self.add_experts(i)
            else:
                self.add(self.ln(i, "w1"), (c.ffn, c.dim))
                self.add(self.ln(i, "w2"), (c.dim, c.ffn))
                self.add(self.ln(i, "w3"), (c.ffn, c.dim))
        self.add(self.n["norm"], (c.dim,))
        self.add(self.n["output"], (c.vocab, c.dim))

    def ln(self, i, key):
        return self.n["layer"].format(i=i) + self.n[key]

    def en(self, i, tail):
        return self.n["layer"].format(i=i) + self.n["experts"] + tail

    def add_experts(self, i):
        c = self.cfg
        self.add(self.ln(i, "router"), (c.n_experts, c.dim))
        if self.experts_layout == "separate":
            for e in range(c.n_experts):
                self.add(self.en(i, "%d.w1.weight" % e), (c.ffn, c.dim))
                self.add(self.en(i, "%d.w2.weight" % e), (c.dim, c.ffn))
                self.add(self.en(i, "%d.w3.weight" % e), (c.ffn, c.dim))
        elif self.experts_layout == "stacked":
            self.add(self.en(i, "w1"), (c.n_experts, c.ffn, c.dim))
            self.add(self.en(i, "w2"), (c.n_experts, c.dim, c.ffn))
            self.add(self.en(i, "w3"), (c.n_experts, c.ffn, c.dim))
        else:
            for w in ("w1", "w2", "w3"):
                self.add(self.en(i, w), (c.n_experts * c.ffn, c.dim))

    def expert_weights(self, i):
        """The (w1, w2, w3) of every expert of layer i, each in nn.Linear's [out, in], read out of
        this layout's storage by indexing only (no arithmetic)."""
        c, lay = self.cfg, self.experts_layout
        out = []
        for e in range(c.n_experts):
            if lay == "separate":
                out.append(tuple(self.get(self.en(i, "%d.%s.weight" % (e, w))) for w in ("w1", "w2", "w3")))
            elif lay == "stacked":
                out.append(tuple(self.get(self.en(i, w))[e] for w in ("w1", "w2", "w3")))
            else:
                rows = slice(e * c.ffn, (e + 1) * c.ffn)
                w1, w2t, w3 = (self.get(self.en(i, w))[rows] for w in ("w1", "w2", "w3"))
                out.append((w1, w2t.t(), w3))
        return out

    def qkv(self, i):
        """q [H*d, dim], k and v [KV*d, dim] of layer i. The fused layout holds, for each kv group
        g in turn, the rows of its H/KV query heads, then its k head, then its v head."""
        c = self.cfg
        if "qkv" not in self.n:
            return tuple(self.get(self.ln(i, x)) for x in ("q", "k", "v"))
        per = c.n_heads // c.n_kv_heads
        w = self.get(self.ln(i, "qkv")).reshape(c.n_kv_heads, (per + 2) * c.head_dim, c.dim)
        q = w[:, :per * c.head_dim].reshape(-1, c.dim)
        k = w[:, per * c.head_dim:(per + 1) * c.head_dim].reshape(-1, c.dim)
        v = w[:, (per + 1) * c.head_dim:].reshape(-1, c.dim)
        return q, k, v

    def block(self, i, x, cos, sin):
        c = self.cfg
        b, s, _ = x.shape
        h = rms_norm(x, self.get(self.ln(i, "attn_norm")), c.eps)
        wq, wk, wv = self.qkv(i)
        q = F.linear(h, wq).view(b, s, c.n_heads, c.head_dim).transpose(1, 2)
        k = F.linear(h, wk).view(b, s, c.n_kv_heads, c.head_dim).transpose(1, 2)
        v = F.linear(h, wv).view(b, s, c.n_kv_heads, c.head_dim).transpose(1, 2)
        rope = rope_half if ROPE[self.layout] == "half" else rope_interleaved
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        a = attention(q, k, v, c.n_heads, c.n_kv_heads).transpose(1, 2).reshape(b, s, -1)
        x = x + F.linear(a, self.get(self.ln(i, "o")))
        h = rms_norm(x, self.get(self.ln(i, "ffn_norm")), c.eps)
        if c.n_experts:
            return x + moe(h, self.get(self.ln(i, "router")), self.expert_weights(i), c.top_k)
        return x + swiglu(h, *(self.get(self.ln(i, w)) for w in ("w1", "w2", "w3")))

    def forward(self, tokens):
        c = self.cfg
        x = F.embedding(tokens, self.get(self.n["embed"]))
        cos, sin = rope_angles(tokens.shape[1], c.head_dim, c.rope_base)
        for i in range(c.n_layers):
            x = self.block(i, x, cos, sin)
        x = rms_norm(x, self.get(self.n["norm"]), c.eps)
        return F.linear(x, self.get(self.n["output"]))


# ---- GPT-2 ----------------------------------------------------------------------------------

class GPT2(Tree):
    """A GPT-2 decoder (Radford et al. 2019: pre-LayerNorm blocks, fused c_attn holding q, k, v
    blocked, tanh-GELU MLP of 4*dim, learned positions, head tied to wte). conv1d=True stores the
    four projections as Hugging Face's Conv1D does ("works like a Linear layer but the weights are
    transposed": [in, out], y = x @ W + b); conv1d=False as nn.Linear ([out, in], nanoGPT)."""

    def __init__(self, cfg, conv1d=True):
        super().__init__()
        self.cfg, self.conv1d = cfg, conv1d
        c = cfg
        self.add("transformer.wte.weight", (c.vocab, c.dim))
        self.add("transformer.wpe.weight", (16, c.dim))
        for i in range(c.n_layers):
            p = "transformer.h.%d." % i
            for ln in ("ln_1", "ln_2"):
                self.add(p + ln + ".weight", (c.dim,))
                self.add(p + ln + ".bias", (c.dim,))
            for name, fin, fout in self.projections():
                self.add(p + name + ".weight", (fin, fout) if conv1d else (fout, fin))
                self.add(p + name + ".bias", (fout,))
        self.add("transformer.ln_f.weight", (c.dim,))
        self.add("transformer.ln_f.bias", (c.dim,))

    def projections(self):
        d = self.cfg.dim
        return (("attn.c_attn", d, 3 * d), ("attn.c_proj", d, d), ("mlp.c_fc", d, 4 * d),
                ("mlp.c_proj", 4 * d, d))

    def proj(self, name, x):
        w, b = self.get(name + ".weight"), self.get(name + ".bias")
        return x @ w + b if self.conv1d else F.linear(x, w, b)

    def forward(self, tokens):
        c = self.cfg
        b, s = tokens.shape
        x = F.embedding(tokens, self.get("transformer.wte.weight")) + self.get("transformer.wpe.weight")[:s]
        for i in range(c.n_layers):
            p = "transformer.h.%d." % i
            h = F.layer_norm(x, (c.dim,), self.get(p + "ln_1.weight"), self.get(p + "ln_1.bias"))
            q, k, v = self.proj(p + "attn.c_attn", h).split(c.dim, dim=-1)
            q, k, v = (t.view(b, s, c.n_heads, c.head_dim).transpose(1, 2) for t in (q, k, v))
            a = attention(q, k, v, c.n_heads, c.n_heads).transpose(1, 2).reshape(b, s, c.dim)
            x = x + self.proj(p + "attn.c_proj", a)
            h = F.layer_norm(x, (c.dim,), self.get(p + "ln_2.weight"), self.get(p + "ln_2.bias"))
            x = x + self.proj(p + "mlp.c_proj", F.gelu(self.proj(p + "mlp.c_fc", h), approximate="tanh"))
        x = F.layer_norm(x, (c.dim,), self.get("transformer.ln_f.weight"), self.get("transformer.ln_f.bias"))
        return x @ self.get("transformer.wte.weight").t()


def randomize(model, seed):
    """Seeded random weights (normal, std 0.2; norms around 1) so every tensor matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            norm = p.dim() == 1 and name.endswith(".weight")  # every 1-D weight here is a norm's
            p.copy_(1.0 + 0.1 * r if norm else 0.2 * r)
    return model
