# run.sh — `make install PREFIX=...` into a temp prefix, then build a user's program with
# `pkg-config --cflags --libs weightbridge` and run it against the installed library.
. "$(dirname "$0")/../lib.sh"
P="$T/prefix"
ok install/make-install make --no-print-directory -s BUILD="$BUILD" SAN="${WBR_SAN_FLAGS:-}" PREFIX="$P" install
# The version as the header spells it (MAJOR.MINOR.PATCH), for the file names and the checks.
V=$(sed -n 's/^#define WBR_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9][0-9]*\)$/\2/p' include/weightbridge.h | paste -sd. -)
for f in bin/wbr lib/libweightbridge.a lib/libweightbridge-runtime.a lib/libweightbridge.so \
    lib/libweightbridge.so.0 "lib/libweightbridge.so.$V" include/weightbridge.h lib/pkgconfig/weightbridge.pc; do
  if [ -e "$P/$f" ]; then pass "install/has-$f"; else fail "install/has-$f" "missing after make install"; fi
done
# The rules library, where `wbr match` looks by default (cli/library.c, docs/matcher.md).
for f in rules/*.wbr; do
  if [ -e "$P/share/weightbridge/$f" ]; then pass "install/has-share/weightbridge/$f"; else fail "install/has-share/weightbridge/$f" "missing after make install"; fi
done
# The shared library is installed once, under its full version; .so.0 (the soname) and .so link to it.
links="$(readlink "$P/lib/libweightbridge.so") $(readlink "$P/lib/libweightbridge.so.0")"
if [ "$links" = "libweightbridge.so.0 libweightbridge.so.$V" ] && [ ! -L "$P/lib/libweightbridge.so.$V" ]; then
  pass install/so-links
else
  fail install/so-links "got links '$links'"
fi
if [ "$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --modversion weightbridge)" = "$V" ]; then
  pass install/pc-version
else
  fail install/pc-version "weightbridge.pc does not say $V"
fi
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
if cc ${WBR_SAN_FLAGS:-} -o "$T/prog" tests/install/prog.c $(pkg-config --cflags --libs weightbridge) 2>"$T/cc.err"; then
  pass install/pkg-config-build
  out=$(LD_LIBRARY_PATH="$P/lib" "$T/prog" "$T/x.safetensors" 2>&1)
  want="$V $((${V%%.*} * 10000 + $(echo "$V" | cut -d. -f2) * 100 + ${V##*.})) $V fc.weight 1 1"
  if [ "$out" = "$want" ]; then pass install/program-runs; else fail install/program-runs "got '$out', wanted '$want'"; fi
  ok install/installed-wbr-inspects "$P/bin/wbr" inspect "$T/x.safetensors"
else
  fail install/pkg-config-build "$(head -c 600 "$T/cc.err")"
fi
# docs/example.c, the README's C program, built against the installed library with pkg-config
# and run as a user would: a rename and a cast, the output read back and compared with NumPy.
if cc ${WBR_SAN_FLAGS:-} -Wall -Werror -o "$T/example" docs/example.c $(pkg-config --cflags --libs weightbridge) 2>"$T/cc.err"; then
  pass install/example-builds
  if "$PY" -c 'import numpy' 2>/dev/null; then
    "$PY" -c 'import sys; sys.path.insert(0, "tests/apply"); import st, numpy as np
st.write(sys.argv[1], [st.from_array("fc.weight", np.arange(6, dtype=np.float32).reshape(2, 3) / 3)])' "$T/ex.safetensors"
    printf 'weightbridge 1\nrename "fc.*" -> "head.*"\ncast "*" f16\n' >"$T/ex.wbr"
    out=$(LD_LIBRARY_PATH="$P/lib" "$T/example" "$T/ex.wbr" "$T/ex.safetensors" "$T/ex_out.safetensors" 2>&1)
    r=$("$PY" -c 'import sys; sys.path.insert(0, "tests/apply"); import st, numpy as np
t = st.read(sys.argv[1])[0]
print("ok" if [x.name for x in t] == ["head.weight"] and t[0].dtype == "F16" and
      np.array_equal(t[0].array(), (np.arange(6, dtype=np.float32).reshape(2, 3) / 3).astype(np.float16)) else "wrong")' "$T/ex_out.safetensors" 2>&1)
    if [ "$out" = "wrote $T/ex_out.safetensors: 1 tensors" ] && [ "$r" = ok ]; then pass install/example-runs
    else fail install/example-runs "got '$out' / $r"; fi
    printf 'weightbridge 1\nrenam "x" -> "y"\n' >"$T/bad.wbr"
    LD_LIBRARY_PATH="$P/lib" "$T/example" "$T/bad.wbr" "$T/ex.safetensors" "$T/ex2.safetensors" 2>"$T/ex.err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q 'bad.wbr:2:1: error' "$T/ex.err" && [ ! -e "$T/ex2.safetensors" ]; then pass install/example-reports
    else fail install/example-reports "exit $rc: $(head -c 200 "$T/ex.err")"; fi
  else
    echo "SKIP: install/example-runs: numpy missing"
  fi
else
  fail install/example-builds "$(head -c 600 "$T/cc.err")"
fi
# A non-system prefix without LD_LIBRARY_PATH: an rpath from pkg-config's libdir (the README's story).
if cc -o "$T/example-rpath" docs/example.c $(pkg-config --cflags --libs weightbridge) \
     -Wl,-rpath,"$(pkg-config --variable=libdir weightbridge)" ${WBR_SAN_FLAGS:-} 2>"$T/cc.err" &&
   env -u LD_LIBRARY_PATH "$T/example-rpath" 2>&1 | grep -q '^usage: '; then pass install/example-rpath
else fail install/example-rpath "$(head -c 300 "$T/cc.err")"; fi
