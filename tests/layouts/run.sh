#!/bin/sh
# tests/layouts/run.sh — `wbr match --layouts` (matcher/layouts.c), checked by forward pass with
# NumPy: tests/layouts/check.py.
. "$(dirname "$0")/../lib.sh"
needs_py layouts/forward numpy || exit 0
"$PY" tests/layouts/check.py "$WBR" "$T" 2>"$T/err" || fail layouts/check-exit "$(tail -c 600 "$T/err")"
