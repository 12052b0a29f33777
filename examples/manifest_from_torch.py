# manifest_from_torch.py — write the target manifest of a PyTorch model: every state_dict entry's
# name, shape and real dtype (BatchNorm's num_batches_tracked is I64, not F32), in definition
# order. Copy the function into your code; run this file to try it on a small model:
#   python3 examples/manifest_from_torch.py mine.json
import json
import sys

import torch

SAFETENSORS_DTYPE = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def write_manifest(model, path):
    tensors = {k: {"shape": list(v.shape), "dtype": SAFETENSORS_DTYPE[v.dtype]}
               for k, v in model.state_dict().items()}
    with open(path, "w") as f:
        json.dump({"tensors": tensors}, f, indent=1)


if __name__ == "__main__":
    demo = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
    write_manifest(demo, sys.argv[1] if len(sys.argv) > 1 else "mine.json")
