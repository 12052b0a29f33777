#!/bin/sh
# tests/python/run.sh — the Python package (python/weightbridge) end to end: adapt on real
# layouts, match/plan/check/apply/convert, load/save round trips, hostile inputs. unittest
# modules run by harness.py, one PASS/FAIL/SKIP line per test. pyc's tests/pyext/env.sh builds
# the extension against $BUILD and runs Python on it. Skips only without numpy, torch or
# python3-dev.
. "$(dirname "$0")/../lib.sh"

needs_py python/python numpy torch || exit 0
. "$TOP/tests/pyext/env.sh"
pyext_build || { echo "SKIP: python/build: $PYEXT_WHY"; exit 0; }
export WBR TOP
cd "$TOP/tests/python" || exit 1
pyext_py harness.py test_adapt test_api test_io
