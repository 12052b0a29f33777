#!/bin/sh
# tests/dis/run.sh — golden tests of `wbr disasm`: NAME.wbr -> NAME.dis, the exact listing.
# Each golden is checked three ways: disasm of the .wbr (compiled in memory), disasm of the .wbc
# written by `wbr compile`, and that both are the same text. Regenerate the goldens with
#   UPDATE=1 sh tests/dis/run.sh        (then review the diff)
. "$(dirname "$0")/../lib.sh"
# Paths are given relative to the project root: the listing shows the source name as given.
cd "$TOP" || exit 1

for f in tests/dis/*.wbr; do
  n=$(basename "$f" .wbr)
  g=tests/dis/$n.dis
  "$WBR" disasm "$f" >"$T/$n.src.dis" 2>"$T/err"
  rc=$?
  if [ -n "${UPDATE:-}" ] && [ $rc -eq 0 ]; then cp "$T/$n.src.dis" "$g"; fi
  if [ $rc -ne 0 ]; then fail "dis/$n" "disasm of the .wbr exited $rc: $(head -c 300 "$T/err")"; continue; fi
  if [ ! -f "$g" ]; then fail "dis/$n" "no golden $g (run with UPDATE=1)"; continue; fi
  same "dis/$n" "$g" "$T/$n.src.dis"
  if ! "$WBR" compile "$f" -o "$T/$n.wbc" 2>"$T/err"; then
    fail "dis/$n.wbc" "compile failed: $(head -c 300 "$T/err")"; continue
  fi
  "$WBR" disasm "$T/$n.wbc" >"$T/$n.wbc.dis" 2>"$T/err" || { fail "dis/$n.wbc" "disasm of the .wbc failed: $(head -c 300 "$T/err")"; continue; }
  same "dis/$n.wbc" "$g" "$T/$n.wbc.dis"
done

# The default output of compile is next to the input, same name, .wbc.
mkdir -p "$T/d"
cp tests/dis/every_statement.wbr "$T/d/r.wbr"
ok dis/compile_default_output "$WBR" compile "$T/d/r.wbr"
if [ -f "$T/d/r.wbc" ] && [ "$(ls "$T/d")" = "$(printf 'r.wbc\nr.wbr')" ]; then pass dis/compile_writes_only_the_wbc
else fail dis/compile_writes_only_the_wbc "directory holds: $(ls "$T/d" | tr '\n' ' ')"; fi
# Compiling twice gives the same bytes (the format has no timestamps).
cp "$T/d/r.wbc" "$T/d/first.wbc"
"$WBR" compile "$T/d/r.wbr" 2>/dev/null
same dis/compile_is_deterministic "$T/d/first.wbc" "$T/d/r.wbc"
