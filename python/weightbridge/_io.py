"""load / save / manifest: weight files as lazy read-only mappings of zero-copy NumPy views (or
torch tensors on request), any mapping of tensors written in every format the CLI writes, and
the JSON manifest form of a state dict, module or (nested) dict with real dtypes."""
import warnings
from collections import namedtuple
from collections.abc import Mapping

import numpy as np

from . import _native
from . import _tensors as T

TensorSpec = namedtuple("TensorSpec", "dtype shape")
TensorSpec.__doc__ = "A manifest's entry: no data, only the safetensors dtype name and shape."


class LazyWeights(Mapping):
    """A weight file as a read-only Mapping in file order. Values are made on access: NumPy
    arrays viewing the memory-mapped file (zero-copy, read-only; a lazy tensor such as a
    strided .pt view or a deflated .npz member is made once), or torch tensors with torch=True
    (bf16 / f8 as a same-size integer view turned into the torch dtype with .view). A
    manifest's values are TensorSpec(dtype, shape). The mapping keeps the file mapped while it
    or any array from it lives."""

    def __init__(self, ts, as_torch=False):
        if as_torch and T.torch is None:
            raise ImportError("weightbridge.load(torch=True) needs PyTorch")
        self._ts, self._torch = ts, bool(as_torch)
        self._names = ts.names()
        self._index = {n: i for i, n in enumerate(self._names)}

    @property
    def tensorset(self):
        return self._ts

    @property
    def format(self):
        return self._ts.format

    def metadata(self):
        return self._ts.metadata()

    def info(self, name):
        """(name, dtype, shape, nbytes, quantized or None) without reading any data."""
        return self._ts.info(self._index[name])

    def __len__(self):
        return len(self._names)

    def __iter__(self):
        return iter(self._names)

    def __contains__(self, name):
        return name in self._index

    def __getitem__(self, name):
        i = self._index[name]
        _, dtype, shape, _, quant = self._ts.info(i)[:5]
        if not self._ts.has_data:
            return TensorSpec(dtype, tuple(shape))
        mv = self._ts.data(i)
        if quant:  # an opaque quantized GGUF tensor: its blocks as raw bytes
            return np.frombuffer(mv, dtype=np.uint8)
        if not self._torch:
            return np.frombuffer(mv, dtype=T.NP_OF[dtype]).reshape(shape)
        # torch: a dtype numpy lacks (BF16, F8) goes through a same-size integer torch knows.
        view = T._TORCH_VIEW.get(dtype)
        arr = np.frombuffer(mv, dtype=np.dtype(view) if view else T.NP_OF[dtype]).reshape(shape)
        with warnings.catch_warnings():  # torch warns that the (read-only) buffer is not writable
            warnings.simplefilter("ignore", UserWarning)
            t = T.torch.from_numpy(arr)
        return t.view(T.TORCH_OF[dtype]) if view else t


def load(path, torch=False):
    """A lazy read-only Mapping over a weight file (every format the CLI reads, FILE.pt#KEY, a
    model directory)."""
    return LazyWeights(_native.open(str(path) if not isinstance(path, str) else path), torch)


def save(weights, path, metadata=None, protect=()):
    """Write a mapping of tensors (flat or nested: nested names are joined with '/') to path,
    in the format its extension names (.safetensors, .safetensors.index.json, .pt/.pth/.bin,
    .npy (one tensor), .npz, .gguf, .json manifest), or to a model directory "DIR/" laid out as
    save_pretrained lays it out. Written atomically by the C writer."""
    if isinstance(weights, LazyWeights):
        ts = weights.tensorset
    else:
        ts = T.source_set(T.flatten(weights))
    for k, v in (metadata or {}).items():
        ts.set_metadata(str(k), str(v))
    ts.write(str(path), protect=tuple(protect))


def manifest(weights):
    """The JSON manifest form of a state dict, torch module, numpy dict or nested dict:
    {"tensors": {name: {"shape": [...], "dtype": "F32"}}} with each tensor's real dtype."""
    return T.manifest_of(T.flatten(weights))
