#!/bin/sh
# tests/apply/run.sh — end-to-end tests of `wbr apply` on real data: cases.py writes seeded random
# sources with its own safetensors writer, runs wbr, reads the output back and compares bytes with
# numpy/torch. One PASS/FAIL line per case (apply/<what>).
. "$(dirname "$0")/../lib.sh"
needs_py apply/python numpy torch || exit 0
"$PY" "$TOP/tests/apply/cases.py" "$WBR" "$T"
