"""models.py — the models the adapt tests convert between: the torch suite's two ResNet-18s
(tests/torch/models.py: Theirs has torchvision's names conv1, bn1, layer1.0.conv1, downsample,
fc; Mine is ours, stem.conv, stages.N.blocks.M.conv_a, shortcut, head.proj), so a forward pass
proves the conversion; and GPT-2 Conv1D / nn.Linear state dicts."""
import importlib.util
import os

import torch

_spec = importlib.util.spec_from_file_location(
    "torch_models", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch",
                                 "models.py"))
_torch_models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_torch_models)
TvResNet18, MyResNet18 = _torch_models.Theirs, _torch_models.Mine


def gpt2_conv1d(layers=2, c=16, vocab=50, ctx=8, seed=0):
    """A Hugging Face GPT2Model-style state dict (Conv1D weights [in, out])."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    sd = {"wte.weight": r(vocab, c), "wpe.weight": r(ctx, c)}
    for i in range(layers):
        p = "h.%d." % i
        sd.update({p + "ln_1.weight": r(c), p + "ln_1.bias": r(c),
                   p + "attn.c_attn.weight": r(c, 3 * c), p + "attn.c_attn.bias": r(3 * c),
                   p + "attn.c_proj.weight": r(c, c), p + "attn.c_proj.bias": r(c),
                   p + "ln_2.weight": r(c), p + "ln_2.bias": r(c),
                   p + "mlp.c_fc.weight": r(c, 4 * c), p + "mlp.c_fc.bias": r(4 * c),
                   p + "mlp.c_proj.weight": r(4 * c, c), p + "mlp.c_proj.bias": r(c)})
    sd.update({"ln_f.weight": r(c), "ln_f.bias": r(c)})
    return sd


def nanogpt_target(sd):
    """nanoGPT's names and nn.Linear layouts for a gpt2_conv1d dict: the target (empty) and the
    expected values."""
    want = {}
    for k, v in sd.items():
        t = "transformer." + k
        want[t] = v.t().contiguous() if k.endswith(".weight") and v.dim() == 2 and (
            ".attn." in k or ".mlp." in k) else v
    return {k: torch.empty_like(v) for k, v in want.items()}, want
