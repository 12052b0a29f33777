#!/bin/sh
# tests/lang/run.sh — golden tests of the .wbr front end, run through `wbr fmt`.
#   err_NAME.wbr + err_NAME.err : `wbr fmt err_NAME.wbr` must exit 1 with exactly this stderr.
#   NAME.wbr + NAME.fmt         : `wbr fmt NAME.wbr` must exit 0 and print exactly NAME.fmt;
#                                 formatting NAME.fmt again must give NAME.fmt (idempotence).
# Also: every valid .wbr of the repo (here, rules/, docs/ examples) formats idempotently, and
# `fmt -w` / `--check` behave. Regenerate the goldens with:  UPDATE=1 sh tests/lang/run.sh
# (then review the diff). Needs $WBR and $TOP (set by tests/run.sh; defaults for a manual run).
. "$(dirname "$0")/../lib.sh"
cd "$TOP/tests/lang" || exit 1

for f in err_*.wbr; do
  n=${f%.wbr}
  "$WBR" fmt "$f" >"$T/out" 2>"$T/err"
  rc=$?
  if [ -n "${UPDATE:-}" ]; then cp "$T/err" "$n.err"; fi
  if [ $rc -ne 1 ]; then fail "lang/$n" "exit $rc, wanted 1"; continue; fi
  if [ -s "$T/out" ]; then fail "lang/$n" "printed to stdout on error"; continue; fi
  if [ ! -f "$n.err" ]; then fail "lang/$n" "no golden $n.err (run with UPDATE=1)"; continue; fi
  same "lang/$n" "$n.err" "$T/err"
done

for f in *.wbr; do
  case "$f" in err_*) continue ;; esac
  n=${f%.wbr}
  "$WBR" fmt "$f" >"$T/out" 2>"$T/err"
  rc=$?
  if [ -n "${UPDATE:-}" ] && [ $rc -eq 0 ]; then cp "$T/out" "$n.fmt"; fi
  if [ $rc -ne 0 ]; then fail "lang/$n" "exit $rc: $(head -c 300 "$T/err")"; continue; fi
  if [ ! -f "$n.fmt" ]; then fail "lang/$n" "no golden $n.fmt (run with UPDATE=1)"; continue; fi
  same "lang/$n" "$n.fmt" "$T/out"
  cp "$T/out" "$T/again.wbr"
  "$WBR" fmt "$T/again.wbr" >"$T/again" 2>"$T/err"
  same "lang/$n.idempotent" "$T/out" "$T/again"
done

# Every other .wbr in the repo (rules, docs examples) must format and format idempotently.
: >"$T/list"
for f in "$TOP"/rules/*.wbr; do [ -f "$f" ] && echo "$f" >>"$T/list"; done
if [ -f "$TOP/docs/language.md" ]; then
  # Fenced ```wbr blocks that start with the header are complete examples.
  awk -v dir="$T" '
    /^```wbr$/ { inb = 1; n++; file = dir "/doc_example_" n ".wbr"; first = 1; next }
    /^```$/ && inb { inb = 0; next }
    inb { if (first && $0 !~ /^weightbridge /) { inb = 0; next } first = 0; print > file }
  ' "$TOP/docs/language.md"
  for f in "$T"/doc_example_*.wbr; do [ -f "$f" ] && echo "$f" >>"$T/list"; done
fi
while read -r f; do
  id="lang/repo/$(basename "$f" .wbr)"
  if ! "$WBR" fmt "$f" >"$T/r1" 2>"$T/err"; then fail "$id" "$(head -c 300 "$T/err")"; continue; fi
  cp "$T/r1" "$T/r1.wbr"
  "$WBR" fmt "$T/r1.wbr" >"$T/r2" 2>&1
  same "$id.idempotent" "$T/r1" "$T/r2"
done <"$T/list"

# fmt -w rewrites in place only when needed; --check reports.
printf 'weightbridge 1\ndrop   "x"   # why\n' >"$T/w.wbr"
ok lang/fmt-w "$WBR" fmt -w "$T/w.wbr"
printf 'weightbridge 1\ndrop "x"  # why\n' >"$T/w.want"
same lang/fmt-w.content "$T/w.want" "$T/w.wbr"
touch -d '2001-01-01' "$T/w.wbr"
"$WBR" fmt -w "$T/w.wbr"
if [ "$(find "$T/w.wbr" -newermt '2002-01-01')" = "" ]; then pass lang/fmt-w.unchanged-not-rewritten
else fail lang/fmt-w.unchanged-not-rewritten "a canonical file was rewritten"; fi
ok lang/fmt-check.canonical "$WBR" fmt --check "$T/w.wbr"
printf 'weightbridge 1\nDROP "x"\n' >"$T/c.wbr"
rejects lang/fmt-check.not-canonical 1 "not in canonical form" "$WBR" fmt --check "$T/c.wbr"
printf 'weightbridge 1\ndrop "x"\ndrop\n' >"$T/bad.wbr"
cp "$T/bad.wbr" "$T/bad.orig"
rejects lang/fmt-w.error-keeps-file 1 "expected a pattern" "$WBR" fmt -w "$T/bad.wbr"
same lang/fmt-w.error-file-untouched "$T/bad.orig" "$T/bad.wbr"
rejects lang/fmt-usage 2 "missing the rule file" "$WBR" fmt
rejects lang/fmt-usage-option 2 "unknown option" "$WBR" fmt --frob x.wbr
rejects lang/fmt-missing-file 1 "cannot open" "$WBR" fmt "$T/nope.wbr"

# Compiling is linear in statements (issue 9, item 10: line:col was found by scanning from the
# top for every statement; 100,000 statements took ~170 s, now ~3 s, ~10 s under ASan), and so
# is reporting an error on every one of 20,000 lines.
"$PY" -c "import sys; sys.stdout.write('weightbridge 1\n' + ''.join('optional rename \"a%d\" -> \"b%d\"\n' % (k, k) for k in range(100000)))" >"$T/many.wbr"
if timeout 60 "$WBR" compile "$T/many.wbr" -o "$T/many.wbc" 2>"$T/err"; then pass lang/compile-100k-statements-linear
else fail lang/compile-100k-statements-linear "exit $? (124: over 60 s): $(head -c 300 "$T/err")"; fi
"$PY" -c "import sys; sys.stdout.write('weightbridge 1\n' + ''.join('rename \"a%d\" -> \"a%d\"\n' % (k, k) for k in range(20000)))" >"$T/manybad.wbr"
timeout 60 "$WBR" fmt "$T/manybad.wbr" >/dev/null 2>"$T/err"
rc=$?
n=$(grep -c 'this rename does nothing' "$T/err")
if [ $rc -eq 1 ] && [ "$n" -eq 20000 ] && grep -qF 'manybad.wbr:20001:20: error: the template equals the pattern' "$T/err"; then
  pass lang/report-20k-errors-linear
else fail lang/report-20k-errors-linear "exit $rc (124: over 60 s), $n errors: $(tail -c 300 "$T/err")"; fi
rm -f "$T/many.wbr" "$T/many.wbc" "$T/manybad.wbr"
