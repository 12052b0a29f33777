#!/bin/sh
# run.sh BUILD [SUITE...] — runs the tests of the project and ends with the line "N passed, N failed".
# Each test program prints one line per test, "PASS: id", "FAIL: id: why" or "SKIP: id: why"
# (a missing numpy or torch); this script runs them (unit tests, then every tests/*/run.sh and
# tests/cli/*.sh, or only the SUITEs named: unit, lang, tests/lang, cli, tests/cli/apply.sh),
# prints one line per suite as it goes, shows failures and skips, counts. `make test T=lang`.
BUILD=${1:-build}
[ $# -gt 0 ] && shift
export BUILD
WBR=$(cd "$BUILD" && pwd)/wbr
export WBR
TOP=$(pwd)
export TOP
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() {
  # run NAME CMD... : the test program's PASS/FAIL/SKIP lines go to the log; a crash or a
  # non-zero exit with no FAIL line counts as one failure of its own.
  name=$1; shift
  out=$(mktemp)
  "$@" >"$out" 2>&1
  rc=$?
  grep -E '^(PASS|FAIL|SKIP): ' "$out" >>"$log"
  f=$(grep -c '^FAIL: ' "$out")
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL: $name: exited $rc" | tee -a "$log"
    tail -n 20 "$out" | sed 's/^/    /'
    f=1
  fi
  if [ -n "${VERBOSE:-}" ]; then cat "$out"
  elif grep -q '^FAIL: ' "$out"; then grep -v '^PASS: ' "$out" | head -n 80
  else grep '^SKIP: ' "$out"; fi
  p=$(grep -c '^PASS: ' "$out"); s=$(grep -c '^SKIP: ' "$out")
  if [ "$s" -gt 0 ]; then s=", $s skipped"; else s=""; fi
  echo "suite $name: $p passed, $f failed$s"
  rm -f "$out"
}

# suites NAME : the scripts a suite name stands for (unit is the unit-test binary).
suites() {
  d=${1#./}; d=${d#tests/}; d=${d%/}; d=${d%/run.sh}
  case "$d" in
    unit) echo unit ;;
    cli) ls tests/cli/*.sh ;;
    *.sh) echo "tests/$d" ;;
    *) echo "tests/$d/run.sh" ;;
  esac
}

if [ $# -eq 0 ]; then
  set -- unit tests/*/run.sh tests/cli/*.sh
fi
for name in "$@"; do
  for t in $(suites "$name"); do
    if [ "$t" = unit ]; then run unit "$BUILD/unit-tests"; continue; fi
    if [ ! -f "$t" ]; then echo "FAIL: $name: no such suite ($t)" | tee -a "$log"; continue; fi
    run "${t%/run.sh}" sh "$t"
  done
done

pass=$(grep -c '^PASS: ' "$log")
fail=$(grep -c '^FAIL: ' "$log")
skip=$(grep -c '^SKIP: ' "$log")
[ "$skip" -gt 0 ] && echo "$skip skipped (SKIP lines above)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
