#!/bin/sh
# tests/gguf/run.sh — GGUF read and write against an independent spec-following Python
# implementation (ggufpy.py): tensors, typed metadata round trips, quantized refusal, bad inputs.
. "$(dirname "$0")/../lib.sh"
needs_py gguf/python numpy || exit 0
"$PY" "$TOP/tests/gguf/check.py" "$T" || fail gguf/script "check.py exited $?"
