# replay.py — evaluates a plan's description of a tensor (plan JSON "from" + "ops", or "expr") on
# real arrays with torch, independently of wbr, so a test can check that what `wbr plan` says
# is what `wbr apply` does. Ops follow the fixtures' truth.json semantics: applied in order to
# the list of source tensors; concat joins the list into one.
import numpy as np
import torch

TORCH = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
         "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
         "BOOL": torch.bool}


def from_bytes(data, dtype, shape):
    """A torch tensor from raw little-endian bytes."""
    t = torch.frombuffer(bytearray(data), dtype=TORCH[dtype]) if data else torch.empty(0, dtype=TORCH[dtype])
    return t.reshape(shape)


def to_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def cast(t, dtype):
    """Round to nearest even in one step. torch converts F64 to F16 through F32 (two roundings),
    so that one case goes through numpy, which converts directly."""
    if t.dtype == torch.float64 and dtype == "F16":
        return torch.from_numpy(t.numpy().astype(np.float16))
    return t.to(TORCH[dtype])


def one(op, t):
    k = op["op"]
    if k == "reshape":
        return t.reshape(op["shape"])
    if k == "permute":
        return t.permute(*op["axes"])
    if k == "cast":
        return cast(t, op["dtype"])
    if k == "split":
        n = t.shape[op["axis"]]
        if "sections" in op:
            sizes = [n // op["sections"]] * op["sections"]
        else:
            sizes = op["sizes"]
        return torch.split(t, sizes, dim=op["axis"])[op["index"]]
    if k == "index":
        return t.select(op["axis"], op["index"])
    if k == "slice":
        return t.narrow(op["axis"], op["start"], op["end"] - op["start"])
    raise ValueError("unknown op %r" % k)


def ops(op_list, tensors):
    """Apply a list of ops to a list of tensors; returns the one tensor left."""
    xs = list(tensors)
    for op in op_list:
        if op["op"] == "concat":
            xs = [torch.cat(xs, dim=op["axis"])]
        else:
            xs = [one(op, x) for x in xs]
    if len(xs) != 1:
        raise ValueError("the ops leave %d tensors, not one" % len(xs))
    return xs[0]


def expr(node, sources):
    """Evaluate a nested expression: {"source": name} or {"op": ..., "inputs": [...]}."""
    if "source" in node:
        return sources[node["source"]]
    ins = [expr(i, sources) for i in node["inputs"]]
    if node["op"] == "concat":
        return torch.cat(ins, dim=node["axis"])
    if len(ins) != 1:
        raise ValueError("op %r with %d inputs" % (node["op"], len(ins)))
    return one(node, ins[0])


def tensor(entry, sources):
    """The value a plan JSON tensor entry describes, from sources (name -> torch tensor)."""
    if "ops" in entry:
        return ops(entry["ops"], [sources[n] for n in entry["from"]])
    return expr(entry["expr"], sources)
