#!/bin/sh
# run.sh BUILD — runs every test of the project and ends with the line "N passed, N failed".
# Each test program prints one line per test, "PASS: id" or "FAIL: id: why"; this script runs
# them all (unit tests, then every tests/*/run_*.sh or tests/cli/*.sh), shows failures, counts.
BUILD=${1:-build}
export BUILD
WBR=$(cd "$BUILD" && pwd)/wbr
export WBR
TOP=$(pwd)
export TOP
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() {
  # run NAME CMD... : the test program's PASS/FAIL lines go to the log; a crash or a non-zero
  # exit with no FAIL line counts as one failure of its own.
  name=$1; shift
  out=$(mktemp)
  "$@" >"$out" 2>&1
  rc=$?
  grep -E '^(PASS|FAIL): ' "$out" >>"$log"
  if [ $rc -ne 0 ] && ! grep -q '^FAIL: ' "$out"; then
    echo "FAIL: $name: exited $rc" >>"$log"
    tail -n 20 "$out" | sed 's/^/    /'
  fi
  if [ -n "${VERBOSE:-}" ]; then cat "$out"
  elif grep -q '^FAIL: ' "$out"; then grep -v '^PASS: ' "$out" | head -n 80; fi
  rm -f "$out"
}

run unit "$BUILD/unit-tests"
for t in tests/*/run.sh tests/cli/*.sh; do
  [ -f "$t" ] || continue
  case "$t" in tests/lib.sh) continue ;; esac
  run "$t" sh "$t"
done

pass=$(grep -c '^PASS: ' "$log")
fail=$(grep -c '^FAIL: ' "$log")
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
