#!/bin/sh
# run.sh — cross-checks the apply kernels against numpy and torch (tests/ops/check.py) through a
# small driver compiled from runtime/ops.c directly, so this suite does not depend on the rest of
# the library linking. Every case compares output bytes exactly; one PASS/FAIL line per case.
. "$TOP/tests/lib.sh"
if ! $PY -c 'import numpy, torch' 2>/dev/null; then
  fail ops/python "/usr/bin/python3 lacks numpy or torch (run: make deps)"
  exit 1
fi
if ! cc -std=c11 -O2 ${WBR_SAN_FLAGS:-} -D_GNU_SOURCE -I"$TOP/include" -I"$TOP" \
    -o "$T/driver" "$TOP/tests/ops/driver.c" "$TOP/runtime/ops.c" "$TOP/runtime/dtype.c" \
    2>"$T/cc.err"; then
  fail ops/driver-builds "$(head -c 400 "$T/cc.err")"
  exit 1
fi
pass ops/driver-builds
$PY "$TOP/tests/ops/check.py" "$T/driver" "$T"
