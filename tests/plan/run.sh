#!/bin/sh
# tests/plan/run.sh — `wbr plan` golden outputs (text, md, json) for tests/plan/*.wbr, the plan
# JSON replayed against `wbr apply` on random data, and the bad-input table bad.txt for
# plan/check/apply. `UPDATE=1 sh tests/plan/run.sh` regenerates the golden files.
. "$(dirname "$0")/../lib.sh"
needs_py plan/python numpy torch || exit 0
UPDATE=${UPDATE:-} "$PY" "$TOP/tests/plan/plan_test.py" "$WBR" "$T"
