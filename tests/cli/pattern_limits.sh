# pattern_limits.sh — a glob at the engine's limit of 63 named captures checks, plans and renames
# every part (the checker's own limit was 32, disagreeing with the engine and the docs); 64 is
# one error.
. "$(dirname "$0")/../lib.sh"
name=$(seq -s . 0 62)
printf '{"tensors": {"%s": {"dtype": "F32", "shape": [2]}}}\n' "$name" >"$T/m.json"
caps=$(seq -f '{c%g}' -s . 0 62)
rev=$(seq -f '{c%g}' -s . 62 -1 0)
printf 'weightbridge 1\nrename "%s" -> "y.%s"\n' "$caps" "$rev" >"$T/r.wbr"
ok limits/63-captures-plan "$WBR" plan "$T/r.wbr" "$T/m.json" --format json
want="y.$(seq -s . 62 -1 0)"
if grep -qF "\"$want\"" "$T/.out"; then pass limits/63-captures-rename-every-part
else fail limits/63-captures-rename-every-part "no target '$want' in the plan"; fi
printf 'weightbridge 1\nrename "%s.{c63}" -> "x.{c0}"\n' "$caps" >"$T/r64.wbr"
rejects limits/64-captures-refused 1 "more than 63 captures in one pattern" "$WBR" compile "$T/r64.wbr" -o "$T/r64.wbc"
n=$(grep -c 'error:' "$T/.err")
if [ "$n" -eq 1 ]; then pass limits/64-captures-one-error; else fail limits/64-captures-one-error "$n errors"; fi
