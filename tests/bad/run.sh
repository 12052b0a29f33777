#!/bin/sh
# tests/bad/run.sh — the table-driven bad-input suite. cases.py (the table; its header documents
# the row format) writes each malformed file into a scratch dir; each must make `wbr inspect`
# (or the row's command) exit 1 with exactly one error, the expected text naming the file, a
# help line, nothing on stdout, and no crash or sanitizer report. One PASS/FAIL line per row.
. "$(dirname "$0")/../lib.sh"

if ! "$PY" "$TOP/tests/bad/cases.py" "$T/cases" >"$T/index.tsv" 2>"$T/gen.err"; then
  fail bad/generator "cases.py failed: $(head -c 400 "$T/gen.err")"
  exit 1
fi

tab=$(printf '\t')
while IFS="$tab" read -r id file want cmd; do
  # shellcheck disable=SC2086 # cmd is words without spaces (cases.py asserts it)
  "$WBR" $cmd >"$T/out" 2>"$T/err"
  rc=$?
  nerr=$(grep -c ': error: ' "$T/err")
  if [ "$rc" -ge 128 ]; then
    fail "bad/$id" "crashed (exit $rc): $(head -c 400 "$T/err")"
  elif grep -qE 'Sanitizer|runtime error:' "$T/err"; then
    fail "bad/$id" "sanitizer report: $(head -c 600 "$T/err")"
  elif [ "$rc" -ne 1 ]; then
    fail "bad/$id" "exit $rc, wanted 1 — $(head -c 400 "$T/err")"
  elif ! grep -qF -- "$want" "$T/err"; then
    fail "bad/$id" "stderr lacks '$want': $(head -c 400 "$T/err")"
  elif [ "$nerr" -ne 1 ]; then
    fail "bad/$id" "$nerr errors reported, wanted exactly one: $(head -c 400 "$T/err")"
  elif ! grep -q '^  help: ' "$T/err"; then
    fail "bad/$id" "no help line: $(head -c 400 "$T/err")"
  elif [ -s "$T/out" ]; then
    fail "bad/$id" "printed to stdout: $(head -c 200 "$T/out")"
  else
    pass "bad/$id"
  fi
done <"$T/index.tsv"
