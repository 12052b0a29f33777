"""models.py — small PyTorch models the adapt tests convert between: a torchvision-style
ResNet-18 (torchvision's attribute names: conv1, bn1, layer1..4, downsample, fc) and the same
network under a timm-style naming we wrote (stem.conv, stem.bn, stages.N.blocks.M, head.fc),
so a forward pass proves the conversion; and GPT-2 Conv1D / Linear state dicts."""
import torch
from torch import nn


class TvBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + idt)


class TvResNet18(nn.Module):
    """torchvision.models.resnet18's structure and names (widths scaled by w)."""

    def __init__(self, w=16, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        chans, cin = [w, 2 * w, 4 * w, 8 * w], w
        for i, c in enumerate(chans):
            blocks = [TvBlock(cin, c, 1 if i == 0 else 2), TvBlock(c, c, 1)]
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))
            cin = c
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for i in range(4):
            x = getattr(self, "layer%d" % (i + 1))(x)
        return self.fc(x.mean((2, 3)))


class TimmBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv_a = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.norm_a = nn.BatchNorm2d(cout)
        self.conv_b = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.norm_b = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.shortcut is None else self.shortcut(x)
        y = torch.relu(self.norm_a(self.conv_a(x)))
        return torch.relu(self.norm_b(self.conv_b(y)) + idt)


class Stem(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.conv = nn.Conv2d(3, w, 7, 2, 3, bias=False)
        self.bn = nn.BatchNorm2d(w)


class Stage(nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(x)


class Head(nn.Module):
    def __init__(self, cin, classes):
        super().__init__()
        self.fc = nn.Linear(cin, classes)


class TimmResNet18(nn.Module):
    """The same network, timm-style names: stem.conv/bn, stages.N.blocks.M, head.fc."""

    def __init__(self, w=16, classes=10):
        super().__init__()
        self.stem = Stem(w)
        chans, cin, stages = [w, 2 * w, 4 * w, 8 * w], w, []
        for i, c in enumerate(chans):
            stages.append(Stage([TimmBlock(cin, c, 1 if i == 0 else 2), TimmBlock(c, c, 1)]))
            cin = c
        self.stages = nn.Sequential(*stages)
        self.head = Head(cin, classes)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.stem.bn(self.stem.conv(x))), 3, 2, 1)
        return self.head.fc(self.stages(x).mean((2, 3)))


def randomize(model, seed):
    """Seeded random weights and BatchNorm statistics (so a wrong pairing shows in outputs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=g) + 0.5 if "running_var" in name
                        else torch.randn(t.shape, generator=g) * 0.2)
            else:
                t.fill_(int(torch.randint(0, 100, (1,), generator=g)))
    return model


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
