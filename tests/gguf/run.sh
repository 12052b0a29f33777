#!/bin/sh
# tests/gguf/run.sh — GGUF read and write against an independent spec-following Python
# implementation (ggufpy.py): tensors, typed metadata round trips, quantized refusal, bad inputs.
. "$TOP/tests/lib.sh"
"$PY" "$TOP/tests/gguf/check.py" "$T" || fail gguf/script "check.py exited $?"
