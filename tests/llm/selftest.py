# selftest.py — checks the reference models of models.py against properties their papers state,
# independently of wbr, so a forward-pass test's "equal outputs" rests on models that are right
# (not only on two layouts sharing one mistake). Prints PASS/FAIL lines (tests/lib.sh conventions).
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

G = torch.Generator().manual_seed(11)


def check(pid, ok, why):
    print("PASS: llm/model/%s" % pid if ok else "FAIL: llm/model/%s: %s" % (pid, why))


def close(a, b, tol=1e-5):
    return (a - b).abs().max().item() <= tol * max(1.0, b.abs().max().item())


def rope_is_complex_rotation():
    """RoFormer sec. 3.2.2 / Meta's LLaMA: the pair (x[2i], x[2i+1]) is a complex number
    multiplied by exp(1j * pos * theta_i)."""
    x = torch.randn(1, 2, 5, 8, generator=G)
    cos, sin = models.rope_angles(5, 8, 10000.0)
    z = torch.view_as_complex(x.reshape(1, 2, 5, 4, 2).contiguous())
    want = torch.view_as_real(z * torch.polar(torch.ones_like(cos), torch.atan2(sin, cos))).flatten(-2)
    check("rope-interleaved-is-complex-rotation", close(models.rope_interleaved(x, cos, sin), want),
          "adjacent pairs are not rotated as complex numbers")


def rope_half_is_permuted_interleaved():
    """Half-split RoPE is interleaved RoPE on the rows (x[0], x[d/2], x[1], x[d/2+1], ...)."""
    x = torch.randn(1, 2, 5, 8, generator=G)
    cos, sin = models.rope_angles(5, 8, 10000.0)
    perm = torch.tensor([0, 4, 1, 5, 2, 6, 3, 7])  # interleaved slot -> half-split slot
    got = models.rope_half(x, cos, sin)[..., perm]
    check("rope-half-is-permuted-interleaved", close(got, models.rope_interleaved(x[..., perm], cos, sin)),
          "the two conventions are not one permutation apart")


def rope_is_relative():
    """RoFormer's defining property: <rope(q, m), rope(k, n)> depends on m - n only."""
    q, k = torch.randn(8, generator=G), torch.randn(8, generator=G)
    cos, sin = models.rope_angles(12, 8, 10000.0)
    ok = True
    for rope in (models.rope_interleaved, models.rope_half):
        def dot(m, n):
            return (rope(q.view(1, 1, 1, 8), cos[m:m + 1], sin[m:m + 1]) *
                    rope(k.view(1, 1, 1, 8), cos[n:n + 1], sin[n:n + 1])).sum()
        ok = ok and close(dot(3, 1), dot(9, 7)) and close(dot(5, 5), dot(0, 0)) and not close(dot(3, 1), dot(1, 3))
    check("rope-relative-position", ok, "the score is not a function of m - n")


def gqa_is_mha_with_repeated_kv():
    """GQA (Ainslie et al.): the same as multi-head attention whose kv heads are each repeated for
    their group of query heads."""
    q = torch.randn(1, 4, 6, 8, generator=G)
    k, v = torch.randn(1, 2, 6, 8, generator=G), torch.randn(1, 2, 6, 8, generator=G)
    rep = torch.tensor([0, 0, 1, 1])
    got = models.attention(q, k, v, 4, 2)
    check("gqa-is-mha-with-repeated-kv", close(got, models.attention(q, k[:, rep], v[:, rep], 4, 4)),
          "query heads do not read their group's kv head")


def causal():
    """A decoder's output at position t does not depend on the tokens after t."""
    m = models.randomize(models.Llama(models.Config()), 3)
    t = torch.randint(0, 40, (1, 8), generator=G)
    u = t.clone()
    u[0, 5:] = (u[0, 5:] + 1) % 40
    with torch.no_grad():
        a, b = m(t), m(u)
    check("causal", close(a[:, :5], b[:, :5]) and not close(a[:, 5:], b[:, 5:]), "later tokens leak back")


def moe_all_experts_is_softmax_mixture():
    """Mixtral's router with top_k = E: every expert weighted by the softmax of all logits."""
    c = models.Config(n_experts=3, top_k=3, dim=16, ffn=8)
    x = torch.randn(2, 5, 16, generator=G)
    router = torch.randn(3, 16, generator=G)
    ex = [tuple(torch.randn(s, generator=G) for s in ((8, 16), (16, 8), (8, 16))) for _ in range(3)]
    gate = torch.nn.functional.linear(x, router).softmax(-1)
    want = sum(gate[..., e:e + 1] * models.swiglu(x, *ex[e]) for e in range(3))
    check("moe-top-all-is-softmax-mixture", close(models.moe(x, router, ex, c.top_k), want),
          "the router's weights are not the softmax over the chosen experts")


def moe_top1_is_argmax_expert():
    """With top_k = 1 each token is the output of its argmax expert alone (weight 1)."""
    x = torch.randn(2, 5, 16, generator=G)
    router = torch.randn(3, 16, generator=G)
    ex = [tuple(torch.randn(s, generator=G) for s in ((8, 16), (16, 8), (8, 16))) for _ in range(3)]
    pick = torch.nn.functional.linear(x, router).argmax(-1)
    outs = torch.stack([models.swiglu(x, *e) for e in ex], dim=-2)  # [b, s, E, dim]
    want = outs.gather(-2, pick[..., None, None].expand(-1, -1, 1, 16)).squeeze(-2)
    check("moe-top1-is-argmax-expert", close(models.moe(x, router, ex, 1), want), "top-1 routing is wrong")


def conv1d_is_transposed_linear():
    """HF's Conv1D: y = x W + b with W [in, out], i.e. nn.Linear with the weight transposed."""
    c = models.Config(dim=16, n_heads=2, n_layers=1)
    a = models.randomize(models.GPT2(c, conv1d=True), 4)
    b = models.GPT2(c, conv1d=False)
    sd = {n: (t.t() if t.dim() == 2 and ".h." in n else t) for n, t in a.state_dict().items()}
    b.load_state_dict(sd, strict=True)
    t = torch.randint(0, 40, (1, 6), generator=G)
    with torch.no_grad():
        check("conv1d-is-transposed-linear", close(a(t), b(t)), "Conv1D and Linear blocks disagree")


for f in (rope_is_complex_rotation, rope_half_is_permuted_interleaved, rope_is_relative,
          gqa_is_mha_with_repeated_kv, causal, moe_all_experts_is_softmax_mixture,
          moe_top1_is_argmax_expert, conv1d_is_transposed_linear):
    f()
