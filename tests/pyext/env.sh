# env.sh — sourced by the Python suites (tests/pyext, tests/python) after tests/lib.sh: builds the
# weightbridge._native extension against $BUILD's libweightbridge.a (with $WBR_SAN_FLAGS under
# `make asan`) into $BUILD/python, next to a copy of python/weightbridge/*.py, and runs Python on it.
#   pyext_build        0 when the package is importable from $PYEXT (its build log in $T/pyext.log);
#                      non-zero (and $PYEXT_WHY says why) otherwise
#   pyext_py ARGS...   $PY with PYTHONPATH=$PYEXT (and, under sanitizers, libasan/libubsan
#                      preloaded and leak checking off: CPython leaks by design)
# A suite skips visibly when the build cannot be made:  pyext_build || { echo "SKIP: id: $PYEXT_WHY"; exit 0; }
PYEXT_LIB=$(cd "$BUILD" && pwd)
PYEXT=$PYEXT_LIB/python
PYEXT_WHY=
PYEXT_PRELOAD=
if [ -n "${WBR_SANITIZED:-}" ]; then
  for l in libasan.so libubsan.so; do
    f=$(${CC:-cc} -print-file-name=$l 2>/dev/null)
    [ -f "$f" ] && PYEXT_PRELOAD="$PYEXT_PRELOAD $f"
  done
fi

pyext_py() {
  if [ -n "$PYEXT_PRELOAD" ]; then
    LD_PRELOAD="${PYEXT_PRELOAD# }" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
      PYTHONPATH="$PYEXT" PYTHONMALLOC=malloc "$PY" "$@"
  else
    PYTHONPATH="$PYEXT" "$PY" "$@"
  fi
}

pyext_build() {
  if ! "$PY" -c 'import setuptools, sysconfig, os; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' 2>/dev/null; then
    PYEXT_WHY="python3-dev or python3-setuptools missing (make deps)"; return 1
  fi
  if [ -n "${WBR_SANITIZED:-}" ] && [ -z "$PYEXT_PRELOAD" ]; then
    PYEXT_WHY="sanitized build but libasan.so/libubsan.so not found to preload into python"; return 1
  fi
  mkdir -p "$PYEXT/weightbridge"
  # One build at a time (two suites, or two worktrees sharing nothing but this lock's directory).
  (
    command -v flock >/dev/null 2>&1 && flock 9
    cd "$TOP/python" &&
      WBR_BUILD="$PYEXT_LIB" WBR_SAN_FLAGS="${WBR_SAN_FLAGS:-}" "$PY" setup.py -q build_ext --force \
        --build-lib "$PYEXT" --build-temp "$PYEXT/tmp" >"$T/pyext.log" 2>&1
  ) 9>"$PYEXT/.lock" || { PYEXT_WHY="building the extension failed: $(tail -c 600 "$T/pyext.log")"; return 1; }
  # The pure-Python layer beside it (pylib's files; absent before they land).
  rm -f "$PYEXT"/weightbridge/*.py
  for f in "$TOP"/python/weightbridge/*.py; do [ -f "$f" ] && cp "$f" "$PYEXT/weightbridge/"; done
  if ! pyext_py -c 'import weightbridge._native' >"$T/pyext.log" 2>&1; then
    PYEXT_WHY="the built extension does not import: $(tail -c 600 "$T/pyext.log")"; return 1
  fi
  return 0
}
