#!/bin/sh
# run.sh — cross-checks the apply kernels against numpy and torch (tests/ops/check.py) through a
# small driver compiled from apply/kernels.c directly, so this suite does not depend on the rest of
# the library linking. Every case compares output bytes exactly; one PASS/FAIL line per case.
. "$(dirname "$0")/../lib.sh"
needs_py ops/python numpy torch || exit 0
if ! cc -std=c11 -O2 ${WBR_SAN_FLAGS:-} -D_GNU_SOURCE -I"$TOP/include" -I"$TOP" \
    -o "$T/driver" "$TOP/tests/ops/driver.c" "$TOP/apply/kernels.c" "$TOP/apply/kernels_x86.c" "$TOP/base/cpu.c" "$TOP/base/dtype.c" \
    2>"$T/cc.err"; then
  fail ops/driver-builds "$(head -c 400 "$T/cc.err")"
  exit 1
fi
pass ops/driver-builds
$PY "$TOP/tests/ops/check.py" "$T/driver" "$T"
# the casts again at each lower CPU level (apply/kernels_x86.c): the portable reference included
for level in portable sse2 avx2; do
  WBR_CPU=$level OPS_ONLY=casts $PY "$TOP/tests/ops/check.py" "$T/driver" "$T"
done
