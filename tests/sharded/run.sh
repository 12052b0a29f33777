#!/bin/sh
# tests/sharded/run.sh — sharded safetensors checkpoints (index + shards) as source and output,
# checked against Python readers and writers that follow Hugging Face's layout; bad inputs.
. "$(dirname "$0")/../lib.sh"
needs_py sharded/python numpy || exit 0
"$PY" "$TOP/tests/sharded/check.py" "$T" || fail sharded/script "check.py exited $?"
