"""models.py — two implementations of one ResNet-18 (CIFAR-sized stem) for the end-to-end test:
`Theirs` uses torchvision's module names (conv1, bn1, layer1.0.conv1, downsample.0, fc);
`Mine` is written differently (stem.conv, stages.N.blocks.M.conv_a, shortcut.conv, head.proj)
so that only rules/resnet_mine.wbr makes one's state dict load into the other. Nothing is
downloaded; weights are seeded random."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Basic(nn.Module):
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
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class Theirs(nn.Module):
    def __init__(self, width=16, classes=10):
        super().__init__()
        torch.manual_seed(1)
        w = width
        self.conv1 = nn.Conv2d(3, w, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.layer1 = nn.Sequential(Basic(w, w, 1), Basic(w, w, 1))
        self.layer2 = nn.Sequential(Basic(w, 2 * w, 2), Basic(2 * w, 2 * w, 1))
        self.layer3 = nn.Sequential(Basic(2 * w, 4 * w, 2), Basic(4 * w, 4 * w, 1))
        self.layer4 = nn.Sequential(Basic(4 * w, 8 * w, 2), Basic(8 * w, 8 * w, 1))
        self.fc = nn.Linear(8 * w, classes)
        # Non-trivial batch-norm statistics, so a mix-up would change the outputs.
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.normal_(0, 0.1)
                m.num_batches_tracked.fill_(7)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv_a = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.norm_a = nn.BatchNorm2d(cout)
        self.conv_b = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.norm_b = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.ModuleDict({"conv": nn.Conv2d(cin, cout, 1, stride, bias=False),
                                           "norm": nn.BatchNorm2d(cout)})

    def forward(self, x):
        y = F.relu(self.norm_a(self.conv_a(x)))
        y = self.norm_b(self.conv_b(y))
        s = x if self.shortcut is None else self.shortcut["norm"](self.shortcut["conv"](x))
        return F.relu(y + s)


class Stage(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.blocks = nn.ModuleList([Block(cin, cout, stride), Block(cout, cout, 1)])

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


class Mine(nn.Module):
    def __init__(self, width=16, classes=10):
        super().__init__()
        w = width
        self.stem = nn.ModuleDict({"conv": nn.Conv2d(3, w, 3, 1, 1, bias=False),
                                   "norm": nn.BatchNorm2d(w)})
        self.stages = nn.ModuleList([Stage(w, w, 1), Stage(w, 2 * w, 2), Stage(2 * w, 4 * w, 2),
                                     Stage(4 * w, 8 * w, 2)])
        self.head = nn.ModuleDict({"proj": nn.Linear(8 * w, classes)})

    def forward(self, x):
        x = F.relu(self.stem["norm"](self.stem["conv"](x)))
        for s in self.stages:
            x = s(x)
        return self.head["proj"](torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
