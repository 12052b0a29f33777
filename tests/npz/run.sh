#!/bin/sh
# tests/npz/run.sh — NumPy .npy/.npz read and write against numpy itself (check.py: round
# trips, every dtype, Fortran order, big-endian, the vit_jax fixture as a JAX .npz, bad inputs).
. "$(dirname "$0")/../lib.sh"
needs_py npz/python numpy || exit 0
"$PY" "$TOP/tests/npz/check.py" "$T" || fail npz/script "check.py exited $?"
