"""Python containers <-> weightbridge tensor sets, with as few copies as the data allows.

Flattens state dicts, numpy dicts and nested (Flax/Haiku) dicts into ordered (name, path, value)
lists, borrows contiguous CPU buffers into a _native.TensorSet (bf16 through a 16-bit view; a
non-contiguous or CUDA tensor is copied once), allocates output arrays of the target's type for
Plan.apply_memory and rebuilds the caller's container structure around them."""
import json
from collections.abc import Mapping

import numpy as np

from . import _native

try:  # PyTorch is optional: used only when the inputs are torch tensors.
    import torch
except ImportError:  # pragma: no cover - torch is installed where the tests run
    torch = None

# safetensors dtype name -> numpy dtype of the same bytes (BF16 and F8 as raw integers: numpy
# has no such dtypes; load() turns them into torch dtypes on request).
NP_OF = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
         "BF16": np.dtype("<u2"), "F8_E4M3": np.dtype("u1"), "F8_E5M2": np.dtype("u1"),
         "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
         "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?")}
_NP_NAME = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16",
            "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2", "int64": "I64",
            "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"}

TORCH_OF = {}
if torch is not None:
    for _wbr, _attr in (("F64", "float64"), ("F32", "float32"), ("F16", "float16"),
                        ("BF16", "bfloat16"), ("F8_E4M3", "float8_e4m3fn"),
                        ("F8_E5M2", "float8_e5m2"), ("I64", "int64"), ("I32", "int32"),
                        ("I16", "int16"), ("I8", "int8"), ("U8", "uint8"), ("BOOL", "bool")):
        if hasattr(torch, _attr):
            TORCH_OF[_wbr] = getattr(torch, _attr)
_WBR_OF_TORCH = {v: k for k, v in TORCH_OF.items()}
# Torch dtypes numpy cannot hold, passed as same-size integer views.
_TORCH_VIEW = {"BF16": "int16", "F8_E4M3": "uint8", "F8_E5M2": "uint8"}


def is_torch(value):
    return torch is not None and isinstance(value, torch.Tensor)


def dtype_name(value):
    """The safetensors dtype name of a tensor or array ("F32", "BF16", ...)."""
    if is_torch(value):
        name = _WBR_OF_TORCH.get(value.dtype)
        if name is None:
            raise TypeError("weightbridge: torch dtype %s has no weightbridge dtype" % value.dtype)
        return name
    dt = np.dtype(value.dtype)
    name = _NP_NAME.get(dt.name)
    if name is None or dt.kind == "O":
        raise TypeError("weightbridge: numpy dtype %s has no weightbridge dtype" % dt)
    return name


def _is_tensor(value):
    if is_torch(value) or isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return True
    return hasattr(value, "__array__") and hasattr(value, "shape") and hasattr(value, "dtype")


def flatten(weights, sep="/"):
    """[(name, path, tensor)] in the container's order. A flat mapping's keys are the names; a
    nested mapping's keys are joined with sep (Flax / Haiku). A torch module gives its
    state_dict. Refuses anything that is not a mapping of tensors (TypeError)."""
    if torch is not None and isinstance(weights, torch.nn.Module):
        weights = weights.state_dict()
    if not isinstance(weights, Mapping):
        raise TypeError("weightbridge: weights must be a mapping of tensors (a state_dict, a dict "
                        "of numpy arrays, nested dicts) or a torch module, not %s"
                        % type(weights).__name__)
    out, seen = [], {}
    _walk(weights, (), sep, out)
    for name, path, _ in out:
        if name in seen:
            raise ValueError("weightbridge: two entries flatten to the name '%s': %r and %r"
                             % (name, seen[name], path))
        seen[name] = path
    return out


def _walk(node, prefix, sep, out):
    for key, value in node.items():
        if not isinstance(key, str):
            raise TypeError("weightbridge: keys must be str, got %r at %r" % (key, prefix))
        path = prefix + (key,)
        if isinstance(value, Mapping):
            _walk(value, path, sep, out)
        elif _is_tensor(value):
            out.append((sep.join(path), path, value))
        else:
            raise TypeError("weightbridge: '%s' is a %s, not a tensor or array"
                            % (sep.join(path), type(value).__name__))


def cpu_buffer(value):
    """(dtype name, shape, a C-contiguous CPU buffer over the tensor's bytes). Zero-copy for a
    contiguous CPU tensor or array; one copy otherwise (non-contiguous, CUDA, big-endian)."""
    name = dtype_name(value)
    if is_torch(value):
        t = value.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        if not t.is_contiguous():
            t = t.contiguous()
        shape = tuple(t.shape)
        if name in _TORCH_VIEW:
            t = t.view(getattr(torch, _TORCH_VIEW[name]))
        return name, shape, t.numpy()
    a = np.asarray(value)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    if a.dtype.name in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
        a = a.view("<u2" if a.dtype.itemsize == 2 else "u1")
    return name, tuple(a.shape), a


def source_set(entries):
    """A _native.TensorSet borrowing every entry's buffer (the set keeps them alive)."""
    ts = _native.TensorSet()
    for name, _, value in entries:
        dtype, shape, buf = cpu_buffer(value)
        ts.add(name, dtype, shape, buf)
    return ts


def manifest_of(entries):
    """The JSON manifest form {"tensors": {name: {"shape", "dtype"}}}, in order."""
    tensors = {}
    for name, _, value in entries:
        tensors[name] = {"shape": [int(d) for d in value.shape], "dtype": dtype_name(value)}
    return {"tensors": tensors}


def manifest_set(entries, label="mine.json"):
    """A manifest tensor set (names, shapes, dtypes; no data) for the target side."""
    text = json.dumps(manifest_of(entries)).encode()
    return _native.open_memory(label, text)


def empty_like(kind, dtype, shape):
    """(the array handed back to the caller, the writable C-contiguous buffer apply fills)."""
    if kind == "torch":
        t = torch.empty(tuple(shape), dtype=TORCH_OF[dtype])
        view = t.view(getattr(torch, _TORCH_VIEW[dtype])) if dtype in _TORCH_VIEW else t
        return t, view.numpy()
    a = np.empty(tuple(shape), dtype=NP_OF[dtype])
    return a, a


def kind_of(value):
    return "torch" if is_torch(value) else "numpy"


def rebuild(template, entries, values):
    """A container shaped like template (its types, its key order) holding values[name]."""
    if torch is not None and isinstance(template, torch.nn.Module):
        template = template.state_dict()
    by_path = {path: values[name] for name, path, _ in entries}
    return _rebuild(template, (), by_path)


def _rebuild(node, prefix, by_path):
    try:
        out = type(node)()
    except TypeError:
        out = {}
    for key, value in node.items():
        path = prefix + (key,)
        out[key] = _rebuild(value, path, by_path) if isinstance(value, Mapping) else by_path[path]
    return out


def apply_into(plan, kinds):
    """Run plan.apply_memory into new arrays; {name: array}. kinds(name) says torch or numpy."""
    arrays, buffers = {}, []
    for name, dtype, shape, _ in plan.outputs():
        arr, buf = empty_like(kinds(name), dtype, shape)
        arrays[name] = arr
        buffers.append(buf)
    plan.apply_memory(buffers)
    return arrays
