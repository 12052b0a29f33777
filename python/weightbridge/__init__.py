"""weightbridge for Python: map deep-learning weights between implementations, in memory.

    new_mine = weightbridge.adapt(their_weights, my_weights)

The matcher, the rule compiler, the planner and the runtime are the C library's
(weightbridge._native); this package turns state dicts, NumPy dicts and nested Flax/Haiku
dicts into tensor sets without copying, and hands results back in the caller's own types.
docs/python.md is the reference."""
from . import _native
from ._native import (BytecodeError, Error, FormatError, InternalError, MappingError,
                      RulesError, UsageError, WbrIOError)
from ._api import (CheckReport, Draft, PlanRows, Undecided, adapt, apply, check, convert, match,
                   plan)
from ._io import LazyWeights, TensorSpec, load, manifest, save

__version__ = _native.version()

__all__ = ["adapt", "match", "apply", "plan", "check", "convert", "manifest", "load", "save",
           "Draft", "CheckReport", "PlanRows", "LazyWeights", "TensorSpec", "Undecided",
           "Error", "FormatError", "RulesError", "BytecodeError", "MappingError", "UsageError",
           "WbrIOError", "InternalError", "__version__"]
