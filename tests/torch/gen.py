#!/usr/bin/python3
"""gen.py OUTDIR — PyTorch checkpoints written by the real torch.save (Debian's python3-torch),
for tests/torch/run.sh. Everything is seeded; nothing is downloaded. Writes:

  dtypes.pt      every dtype torch and safetensors share, parameters, a scalar, empty tensors,
                 a transposed (non-contiguous) tensor saved as is, two views of one storage,
                 a strided slice, an offset view, a 0-stride expand
  resnet.pt      the state dict of theirs.ResNet18 (torchvision's naming) with random weights
  nested.pt      {"model": resnet state dict, "optimizer": {...}, "epoch": 3}
  proto4.pt      dtypes.pt's dict saved with pickle protocol 4 (FRAME, MEMOIZE, SHORT_BINUNICODE)
  single.pt      a bare tensor (not a dict): must be refused
  legacy.pt      the pre-1.6 format (_use_new_zipfile_serialization=False): must be refused
  script.pt      a TorchScript archive (torch.jit.save): must be refused
"""
import collections
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)


def dtypes_dict():
    d = collections.OrderedDict()
    d["f32"] = torch.randn(3, 4)
    d["f64"] = torch.randn(2, 3, dtype=torch.float64)
    d["f16"] = torch.randn(5).half()
    d["bf16"] = torch.randn(2, 2, 3).bfloat16()
    d["i64"] = torch.randint(-2**40, 2**40, (7,), dtype=torch.int64)
    d["i32"] = torch.randint(-2**30, 2**30, (2, 2), dtype=torch.int32)
    d["i16"] = torch.randint(-2**14, 2**14, (3,), dtype=torch.int16)
    d["i8"] = torch.randint(-128, 127, (4,), dtype=torch.int8)
    d["u8"] = torch.randint(0, 255, (2, 5), dtype=torch.uint8)
    d["bool"] = torch.rand(6) > 0.5
    d["param"] = torch.nn.Parameter(torch.randn(4, 2))
    d["scalar"] = torch.tensor(3.5)
    d["empty"] = torch.zeros(0, 3)
    d["empty_i64"] = torch.zeros(0, dtype=torch.int64)
    d["transposed"] = torch.randn(3, 5).t()                # strides (1, 5)
    base = torch.randn(6, 4)
    d["view_a"] = base[:2]                                   # shares base's storage, offset 0
    d["view_b"] = base[3:]                                   # offset 12
    d["strided"] = torch.arange(40, dtype=torch.float32).reshape(5, 8)[1:4, ::3]
    d["expanded"] = torch.randn(3, 1).expand(3, 4)          # stride 0
    d["permuted"] = torch.randn(2, 3, 4, 5).permute(3, 1, 0, 2)
    d["big_dim"] = torch.randn(1, 1, 70000)                 # a size beyond BININT2
    d["large"] = torch.randn(1024, 1536)                    # 6 MiB: more than the writer buffers
    d["large_t"] = torch.randn(1536, 1024).t()              # and a large gather
    return d


dt = dtypes_dict()
torch.save(dt, os.path.join(out, "dtypes.pt"))
torch.save(dt, os.path.join(out, "proto4.pt"), pickle_protocol=4)

theirs = models.Theirs()
sd = theirs.state_dict()
torch.save(sd, os.path.join(out, "resnet.pt"))
opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
theirs(torch.randn(2, 3, 32, 32)).sum().backward()
opt.step()
torch.save({"model": sd, "optimizer": opt.state_dict(), "epoch": 3},
           os.path.join(out, "nested.pt"))

torch.save(torch.randn(3), os.path.join(out, "single.pt"))
torch.save({"w": torch.randn(2)}, os.path.join(out, "legacy.pt"),
           _use_new_zipfile_serialization=False)
torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), os.path.join(out, "script.pt"))
