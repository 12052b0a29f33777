#!/bin/sh
# tests/apply/run.sh — end-to-end tests of `wbr apply` on real data: cases.py writes seeded random
# sources with its own safetensors writer, runs wbr, reads the output back and compares bytes with
# numpy/torch. One PASS/FAIL line per case (apply/<what>).
. "$TOP/tests/lib.sh"
if ! "$PY" -c 'import numpy, torch' 2>/dev/null; then
  fail apply/python "$PY lacks numpy or torch"
  exit 1
fi
"$PY" "$TOP/tests/apply/cases.py" "$WBR" "$T"
