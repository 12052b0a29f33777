#!/bin/sh
# run.sh — the tree keeps ARCHITECTURE.md's shape: layers one way and no call cycle between
# files of the lower folders (checked on the built objects, deps.py), none of the includes the
# layering forbids, the VM made of short functions (funclen.py), and file I/O in base/io.c
# only (plumbing.py).
. "$(dirname "$0")/../lib.sh"
if ! command -v nm >/dev/null 2>&1; then echo "SKIP: layout/deps: nm missing (binutils)"; exit 0; fi
python3 "$TOP/tests/layout/deps.py" --skip-stale "$BUILD"
for rule in 'formats/:base bytecode vm' 'apply/:vm' 'vm/:bytecode formats base' 'compiler/:vm apply formats'; do
  inc=${rule%%:*}; dirs=${rule#*:}
  # shellcheck disable=SC2086
  hits=$(cd "$TOP" && grep -rn "#include \"\(\.\./\)*$inc" $dirs 2>/dev/null | head -5)
  if [ -z "$hits" ]; then pass "layout/no-include-$inc-in-$(echo "$dirs" | tr ' ' '+')"
  else fail "layout/no-include-$inc-in-$(echo "$dirs" | tr ' ' '+')" "$hits"; fi
done
python3 "$TOP/tests/layout/funclen.py" --max 120 vm
# One pattern engine: compiler/ does not scan globs or templates itself (pattern_scan.py); the
# check sees a planted scanner.
python3 "$TOP/tests/layout/pattern_scan.py" "$TOP"
mkdir -p "$T/ps/compiler"
printf 'int f(const char *s);\nint f(const char *s) { return s[0] == %s; } /* { */\n' "'{'" >"$T/ps/compiler/scan.c"
case "$(python3 "$TOP/tests/layout/pattern_scan.py" "$T/ps")" in
  "FAIL: layout/one-pattern-engine: "*"compiler/scan.c"*) pass layout/pattern-scan-sees-a-scanner ;;
  *) fail layout/pattern-scan-sees-a-scanner "a planted '{' test in compiler/ was not reported" ;;
esac
# Plumbing once: only base/io.c opens, reads, writes, renames or syncs files; the checker sees a
# planted formats/ object that renames a file itself.
python3 "$TOP/tests/layout/plumbing.py" --skip-stale "$BUILD"
mkdir -p "$T/p/obj/formats"
printf '#include <stdio.h>\nint f_save(const char *a, const char *b) { return rename(a, b); }\n' >"$T/p1.c"
cc -c "$T/p1.c" -o "$T/p/obj/formats/p1.o"
out=$(python3 "$TOP/tests/layout/plumbing.py" "$T/p")
case "$out" in
  *"FAIL: layout/file-io-in-base-io: "*"formats/p1.c (rename)"*) pass layout/plumbing-checker-sees-rename ;;
  *) fail layout/plumbing-checker-sees-rename "$out" ;;
esac
# The checker must catch what it claims to: a planted base -> vm call and a call cycle inside
# base/ are both reported.
mkdir -p "$T/b/obj/base" "$T/b/obj/vm"
printf 'int v_f(void);\nint b_f(void) { return v_f(); }\nint b_g(void);\nint b_h(void) { return b_g(); }\n' >"$T/b1.c"
printf 'int b_h(void);\nint b_g(void) { return 1; }\nint b_k(void) { return b_h(); }\n' >"$T/b2.c"
printf 'int b_g(void);\nint v_f(void) { return b_g(); }\n' >"$T/v1.c"
cc -c "$T/b1.c" -o "$T/b/obj/base/b1.o" && cc -c "$T/b2.c" -o "$T/b/obj/base/b2.o" &&
  cc -c "$T/v1.c" -o "$T/b/obj/vm/v1.o"
# compiler/ is checked too, with the generated grammar (BUILD/gen) counted in it.
mkdir -p "$T/b/obj/compiler" "$T/b/gen"
printf 'int g_f(void);\nint c_f(void) { return g_f(); }\n' >"$T/c1.c"
printf 'int c_f(void);\nint g_f(void) { return c_f(); }\n' >"$T/g1.c"
cc -c "$T/c1.c" -o "$T/b/obj/compiler/c1.o" && cc -c "$T/g1.c" -o "$T/b/gen/parser.o"
out=$(python3 "$TOP/tests/layout/deps.py" "$T/b")
case "$out" in
  *"FAIL: layout/layers: "*"base/b1.c -> vm/v1.c"*) pass layout/checker-sees-upward-use ;;
  *) fail layout/checker-sees-upward-use "$out" ;;
esac
case "$out" in
  *"FAIL: layout/no-file-cycles: {base/b1.c, base/b2.c}"*) pass layout/checker-sees-cycle ;;
  *) fail layout/checker-sees-cycle "$out" ;;
esac
case "$out" in
  *"{compiler/c1.c, gen/parser.c}"*) pass layout/checker-sees-compiler-cycle ;;
  *) fail layout/checker-sees-compiler-cycle "$out" ;;
esac
# The VM opens no file (issue 11: source lines come from the text the program carries, never
# from a path named inside bytecode): no fopen or base/io.h in vm/, and its objects call no
# open, fopen or file reader.
hits=$(cd "$TOP" && grep -n 'fopen\|#include "base/io.h"' vm/*.c vm/*.h | head -5)
if [ -z "$hits" ]; then pass layout/vm-opens-no-file-source; else fail layout/vm-opens-no-file-source "$hits"; fi
calls=$(nm -u "$BUILD"/obj/vm/*.o | grep -E ' (open|open64|openat|fopen|fopen64|wbr_io_[a-z_]+|wbr_read_file)$' | sort -u | tr '\n' ' ')
if [ -z "$calls" ]; then pass layout/vm-opens-no-file-objects; else fail layout/vm-opens-no-file-objects "vm/ objects call: $calls"; fi
