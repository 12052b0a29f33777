#!/bin/sh
# tests/plan/run.sh — `wbr plan` golden outputs (text, md, json) for tests/plan/*.wbr, the plan
# JSON replayed against `wbr apply` on random data, and the bad-input table bad.txt for
# plan/check/apply. `UPDATE=1 sh tests/plan/run.sh` regenerates the golden files.
. "$TOP/tests/lib.sh"
if ! "$PY" -c 'import numpy, torch' 2>/dev/null; then
  fail plan/python "$PY lacks numpy or torch"
  exit 1
fi
UPDATE=${UPDATE:-} "$PY" "$TOP/tests/plan/plan_test.py" "$WBR" "$T"
