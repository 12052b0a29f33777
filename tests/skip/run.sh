#!/bin/sh
# tests/skip/run.sh — without numpy or torch the Python-oracle suites print "SKIP: id: MODULE
# missing", no FAIL, and exit 0 (they used to fail): numpy.py and torch.py that raise ImportError
# are put first on PYTHONPATH, each suite runs alone, and tests/run.sh counts the skips apart.
. "$(dirname "$0")/../lib.sh"
mkdir -p "$T/hide"
for m in numpy torch; do echo "raise ImportError('hidden by tests/skip')" >"$T/hide/$m.py"; done
for s in apply/run.sh fixtures/run.sh gguf/run.sh npz/run.sh ops/run.sh plan/run.sh py/run.sh \
    torch/run.sh cli/apply.sh cli/inspect.sh cli/readme.sh match/run.sh sharded/run.sh corpus/run.sh \
    cli/outputs.sh; do
  PYTHONPATH="$T/hide" sh "tests/$s" >"$T/out" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && grep -Eq '^SKIP: [^ ]+: (numpy|torch) missing$' "$T/out" && ! grep -q '^FAIL' "$T/out"; then
    pass "skip/$s"
  else
    fail "skip/$s" "exit $rc: $(head -c 300 "$T/out" | tr '\n' '|')"
  fi
done
# tests/run.sh reports the skips on a line of their own and counts them neither passed nor failed.
PYTHONPATH="$T/hide" sh tests/run.sh "$BUILD" npz lang >"$T/all" 2>&1
if grep -qx '1 skipped (SKIP lines above)' "$T/all" && grep -qx 'suite tests/npz: 0 passed, 0 failed, 1 skipped' "$T/all" \
    && tail -n 1 "$T/all" | grep -Eqx '[1-9][0-9]* passed, 0 failed'; then
  pass skip/run-sh-counts-apart
else
  fail skip/run-sh-counts-apart "$(tail -n 4 "$T/all" | tr '\n' '|')"
fi
