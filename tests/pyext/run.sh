#!/bin/sh
# tests/pyext/run.sh — the weightbridge._native extension at the C level: every method, refcount
# safety, hostile inputs, the GIL released during apply (tests/pyext/test_native.py, built by
# env.sh against $BUILD's library, sanitized under `make asan`); and `pip install ./python` into a
# fresh venv offline, then importing it from there.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pyext/env.sh"
needs_py pyext/native numpy || exit 0
if ! pyext_build; then
  echo "SKIP: pyext/native: $PYEXT_WHY"
  exit 0
fi
pyext_py tests/pyext/test_native.py "$T" 2>"$T/py.err"
rc=$?
[ $rc -ne 0 ] && fail pyext/test-native-exit "exit $rc: $(tail -c 800 "$T/py.err")"

# pip install ./python, offline, into a venv that sees Debian's packages (setuptools, numpy).
# Sanitized builds skip it: the venv's build would not be sanitized.
if [ -n "${WBR_SANITIZED:-}" ]; then
  echo "SKIP: pyext/pip-install-offline: not under sanitizers (the pip build is a plain one)"
elif ! "$PY" -c 'import venv, ensurepip' 2>/dev/null && ! "$PY" -m pip --version >/dev/null 2>&1; then
  echo "SKIP: pyext/pip-install-offline: python3-venv / python3-pip missing (make deps)"
else
  # As a user would: pip from the venv, the package directory in place (its build/ and
  # *.egg-info are gitignored), no index, no build isolation.
  if "$PY" -m venv --system-site-packages --without-pip "$T/venv" >"$T/venv.log" 2>&1 &&
     WBR_BUILD="$(cd "$BUILD" && pwd)" PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
       "$T/venv/bin/python" -m pip install --no-build-isolation --no-deps ./python >"$T/pip.log" 2>&1; then
    if (cd "$T" && "$T/venv/bin/python" -c '
import weightbridge._native as n, sys
assert "/venv/" in n.__file__, n.__file__
ts = n.TensorSet(); ts.add("a", "F32", (2,), bytearray(8))
assert n.plan(n.compile("r.wbr", "weightbridge 1\n"), ts).outputs() == [("a", "F32", (2,), 8)]
print(n.version())' >"$T/imp.out" 2>&1); then pass pyext/pip-install-offline
    else fail pyext/pip-install-offline "import from the venv: $(tail -c 400 "$T/imp.out")"; fi
  else
    fail pyext/pip-install-offline "$(tail -c 600 "$T/venv.log" "$T/pip.log" 2>/dev/null)"
  fi
fi
