#!/bin/sh
# tests/embed/run.sh — the runtime needs no compiler: a program built against
# include/weightbridge.h and ONLY $BUILD/libweightbridge-runtime.a (plus PCRE2, cJSON, zlib, libm)
# loads a .wbc made by `wbr compile` and prints the same listing as `wbr disasm`. The archive
# must not mention the parser, the checker or the emitter at all.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1
RT="$BUILD/libweightbridge-runtime.a"
if [ ! -f "$RT" ]; then fail embed/runtime-archive "$RT is missing"; exit 0; fi

# Every symbol the compiler, the generated grammar or the matcher defines, derived from their
# own objects (so a new compiler function is covered without editing a list): the archive may
# neither define nor use any of them.
nm -P --defined-only "$BUILD"/obj/compiler/*.o "$BUILD"/obj/matcher/*.o "$BUILD"/gen/*.o \
  2>/dev/null | awk '$2 ~ /^[TDBR]$/ {print $1}' | sort -u >"$T/comp"
if [ ! -s "$T/comp" ]; then fail embed/runtime-has-no-compiler-symbols "no compiler objects under $BUILD"
else
  syms=$(nm -P "$RT" 2>/dev/null | awk 'NF >= 2 {print $1}' | sort -u | comm -12 - "$T/comp" | head -n 5)
  if [ -z "$syms" ]; then pass embed/runtime-has-no-compiler-symbols
  else fail embed/runtime-has-no-compiler-symbols "$(echo "$syms" | tr '\n' ' ')"; fi
fi

if ${CC:-cc} ${WBR_SAN_FLAGS:-} -std=c11 -Wall -Wextra -Werror -Iinclude -o "$T/embed" tests/embed/embed.c \
     "$RT" $(sh tools/ldlibs.sh) 2>"$T/cc.err"; then
  pass embed/links-with-runtime-only
else
  fail embed/links-with-runtime-only "$(head -c 600 "$T/cc.err")"
  exit 0
fi

cp tests/dis/every_statement.wbr "$T/rules.wbr"
"$WBR" compile "$T/rules.wbr" -o "$T/rules.wbc" 2>"$T/err" || { fail embed/compile "$(head -c 300 "$T/err")"; exit 0; }
"$WBR" disasm "$T/rules.wbc" >"$T/want.dis"
if "$T/embed" "$T/rules.wbc" >"$T/got.dis" 2>"$T/err"; then pass embed/loads-wbc
else fail embed/loads-wbc "$(head -c 300 "$T/err")"; fi
same embed/same-listing-as-wbr-disasm "$T/want.dis" "$T/got.dis"
if grep -q '^flipped.wbc: error: byte .*: checksum mismatch' "$T/err"; then pass embed/rejects-flipped-byte
else fail embed/rejects-flipped-byte "stderr: $(head -c 300 "$T/err")"; fi
# The runtime cannot compile source: a .wbr is not bytecode.
rejects embed/wbr-is-not-bytecode 1 'not a .wbc bytecode file' "$T/embed" "$T/rules.wbr"

# The runtime alone tells a bad file, a bad .wbc and a wrong mapping apart by code.
if ${CC:-cc} ${WBR_SAN_FLAGS:-} -std=c11 -Wall -Wextra -Werror -Iinclude -o "$T/codes" tests/embed/codes.c \
     "$RT" $(sh tools/ldlibs.sh) 2>"$T/cc.err"; then
  printf 'weightbridge 1\nrename "a" -> "b"\n' >"$T/ab.wbr"
  "$WBR" compile "$T/ab.wbr" -o "$T/ab.wbc" 2>"$T/err" || fail embed/codes-compile "$(head -c 300 "$T/err")"
  "$T/codes" "$T/ab.wbc" "$T/out.safetensors" >"$T/codes.out" 2>&1
  for c in bad-file bad-wbc good-wbc wrong-mapping wrote-nothing; do
    if grep -qx "ok $c" "$T/codes.out"; then pass "embed/codes-$c"
    else fail "embed/codes-$c" "$(grep "$c" "$T/codes.out" || head -c 300 "$T/codes.out")"; fi
  done
else
  fail embed/codes-links "$(head -c 600 "$T/cc.err")"
fi
# The public header, with its _INIT macros, is valid C++ too (extern "C").
if command -v c++ >/dev/null 2>&1; then
  if c++ -x c++ -std=c++11 -Wall -Wextra -Werror -Iinclude -fsyntax-only tests/embed/codes.c 2>"$T/cxx.err"; then
    pass embed/header-is-cxx
  else
    fail embed/header-is-cxx "$(head -c 600 "$T/cxx.err")"
  fi
else
  echo "SKIP: embed/header-is-cxx: no c++ compiler"
fi
