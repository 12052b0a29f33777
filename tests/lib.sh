# lib.sh — helpers for shell tests. Source it; every helper prints "PASS: id" or "FAIL: id: why".
# $WBR is the binary under test, $TOP the project root; each script gets a scratch dir $T.
# Source it as `. "$(dirname "$0")/../lib.sh"`: tests/run.sh sets TOP, BUILD and WBR; a script run
# alone gets TOP from its own path, BUILD=$TOP/build, WBR=$BUILD/wbr. Scripts run from $TOP.
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-$TOP/build}
WBR=${WBR:-$(cd "$BUILD" 2>/dev/null && pwd)/wbr}
export TOP BUILD WBR
cd "$TOP" || exit 1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }

# needs_py ID MODULE... : when $PY cannot import a MODULE, prints "SKIP: ID: MODULE missing" and
# returns 1 (the caller exits 0): an oracle that needs numpy or torch skips visibly, not fails.
needs_py() {
  id=$1; shift
  for m in "$@"; do
    "$PY" -c "import $m" 2>/dev/null || { echo "SKIP: $id: $m missing"; return 1; }
  done
}

# ok ID CMD... : CMD must exit 0.
ok() {
  id=$1; shift
  if "$@" >"$T/.out" 2>"$T/.err"; then pass "$id"; else fail "$id" "exit $? from: $* — $(head -c 400 "$T/.err")"; fi
}

# rejects ID EXIT 'stderr substring' CMD... : CMD must exit EXIT and print the substring on stderr.
rejects() {
  id=$1; code=$2; want=$3; shift 3
  "$@" >"$T/.out" 2>"$T/.err"
  rc=$?
  if [ $rc -ne "$code" ]; then fail "$id" "exit $rc, wanted $code — $(head -c 400 "$T/.err")"; return; fi
  if ! grep -qF -- "$want" "$T/.err"; then fail "$id" "stderr lacks '$want': $(head -c 400 "$T/.err")"; return; fi
  pass "$id"
}

# same ID FILE1 FILE2 : the two files must be byte-identical.
same() {
  if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$2 and $3 differ: $(diff "$2" "$3" | head -n 10 | tr '\n' '|')"; fi
}
