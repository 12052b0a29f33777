# run.sh — `make install PREFIX=...` into a temp prefix, then build a user's program with
# `pkg-config --cflags --libs weightbridge` and run it against the installed library.
. tests/lib.sh
P="$T/prefix"
ok install/make-install make --no-print-directory -s BUILD="$BUILD" SAN="${WBR_SAN_FLAGS:-}" PREFIX="$P" install
for f in bin/wbr lib/libweightbridge.a lib/libweightbridge.so include/weightbridge.h lib/pkgconfig/weightbridge.pc; do
  if [ -e "$P/$f" ]; then pass "install/has-$f"; else fail "install/has-$f" "missing after make install"; fi
done
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
if cc ${WBR_SAN_FLAGS:-} -o "$T/prog" tests/install/prog.c $(pkg-config --cflags --libs weightbridge) 2>"$T/cc.err"; then
  pass install/pkg-config-build
  out=$(LD_LIBRARY_PATH="$P/lib" "$T/prog" "$T/x.safetensors" 2>&1)
  want="$(sed -n 's/^#define WBR_VERSION "\(.*\)"/\1/p' include/weightbridge.h) fc.weight 1 1"
  if [ "$out" = "$want" ]; then pass install/program-runs; else fail install/program-runs "got '$out', wanted '$want'"; fi
  ok install/installed-wbr-inspects "$P/bin/wbr" inspect "$T/x.safetensors"
else
  fail install/pkg-config-build "$(head -c 600 "$T/cc.err")"
fi
