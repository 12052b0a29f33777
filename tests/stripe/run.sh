#!/bin/sh
# tests/stripe/run.sh — apply's stripe pipeline on tensors larger than its stripe: permutes and
# casts compared byte for byte with numpy/torch, and the peak RSS of a large transpose (cases.py).
. "$(dirname "$0")/../lib.sh"
needs_py stripe/python numpy torch || exit 0
"$PY" "$TOP/tests/stripe/cases.py" "$WBR" "$T"
