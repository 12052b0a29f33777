#!/bin/sh
# tests/py/run.sh — cross-checks against an independent implementation of the safetensors spec
# (crosscheck.py: struct + json + numpy). Python writes files; `wbr inspect --json` must list
# exactly their tensors, and wbr (through rewrite.c and the public API) must copy them with every
# byte, name, shape and metadata kept, in a layout Python's reader accepts. A file made by wbr
# from known formulas must hold exactly those values. Skips (no FAIL) only without numpy.
. "$(dirname "$0")/../lib.sh"

needs_py py/python numpy || exit 0
CHECK="$TOP/tests/py/crosscheck.py"
LIBDIR=$(dirname "$WBR")

# Link rewrite.c against the library under test, with the sanitizers it was built with.
san=""
if nm "$LIBDIR/libweightbridge.a" 2>/dev/null | grep -q '__asan_'; then
  san="-fsanitize=address,undefined"
elif nm "$LIBDIR/libweightbridge.a" 2>/dev/null | grep -q '__ubsan_'; then
  san="-fsanitize=undefined"
fi
if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -I"$TOP/include" $san -o "$T/rewrite" "$TOP/tests/py/rewrite.c" \
  "$LIBDIR/libweightbridge.a" $(sh "$TOP/tools/ldlibs.sh") 2>"$T/cc.err"; then
  fail py/build-rewrite "$(head -c 600 "$T/cc.err")"
  exit 1
fi
if ! "$PY" "$CHECK" write "$T/py" 2>"$T/gen.err"; then
  fail py/write "$(head -c 600 "$T/gen.err")"
  exit 1
fi

for f in "$T"/py/*.safetensors "$T"/py/*.json; do
  case "$f" in *.expect.json) continue ;; esac
  base=$(basename "$f")
  n=${base%.*}
  if "$WBR" inspect --json "$f" >"$T/$n.inspect" 2>"$T/err"; then
    ok "py/inspect-$base" "$PY" "$CHECK" check-inspect "$T/$n.inspect" "$T/py/$n.expect.json"
  else
    fail "py/inspect-$base" "wbr inspect --json failed: $(head -c 400 "$T/err")"
  fi
  case "$f" in *.safetensors) ;; *) continue ;; esac
  if "$T/rewrite" copy "$f" "$T/$n.copy.safetensors" 2>"$T/err"; then
    ok "py/copy-$base" "$PY" "$CHECK" check-copy "$f" "$T/$n.copy.safetensors"
  else
    fail "py/copy-$base" "wbr could not copy it: $(head -c 400 "$T/err")"
  fi
done

if "$T/rewrite" make "$T/made.safetensors" 2>"$T/err"; then
  ok py/wbr-written-values "$PY" "$CHECK" check-made "$T/made.safetensors"
  # ...and what wbr wrote, wbr reads back and copies identically.
  "$T/rewrite" copy "$T/made.safetensors" "$T/made2.safetensors" 2>"$T/err"
  same py/wbr-copy-is-identical "$T/made.safetensors" "$T/made2.safetensors"
else
  fail py/wbr-written-values "rewrite make failed: $(head -c 400 "$T/err")"
fi
