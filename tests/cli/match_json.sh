# match_json.sh — `wbr match --json` (spec A3): stdout is one JSON object whose counts equal the
# text summary's, whose "draft" is the draft the plain run prints, whose unresolved entries carry
# their candidates and a --hint that, given back to `wbr match`, settles the target (run here);
# with -o the draft goes to the file and stdout holds only the JSON; exit codes as without --json.
. "$(dirname "$0")/../lib.sh"
needs_py cli/match_json numpy || exit 0

$PY - "$T" <<'PYEOF'
import json, sys
import numpy as np
sys.path.insert(0, "tests/apply")
import st
d = sys.argv[1]
rng = np.random.default_rng(1)
src = {"alpha.weight": rng.standard_normal((4, 6)).astype(np.float32),
       "beta.weight": rng.standard_normal((4, 6)).astype(np.float32),
       "fc.weight": rng.standard_normal((10, 64)).astype(np.float32),
       "fc.bias": rng.standard_normal((10,)).astype(np.float32)}
st.write(d + "/src.safetensors", [st.from_array(k, v) for k, v in src.items()])
def man(name, t):
    json.dump({"tensors": {k: {"shape": v, "dtype": "F32"} for k, v in t.items()}}, open(d + "/" + name, "w"))
man("amb.json", {"head.weight": [10, 64], "head.bias": [10], "left.proj": [4, 6], "right.proj": [4, 6], "extra.w": [7, 7]})
man("two.json", {"head.weight": [10, 64], "head.bias": [10], "left.proj": [4, 6], "right.proj": [4, 6]})
man("full.json", {"head.weight": [10, 64], "head.bias": [10]})
PYEOF
S="$T/src.safetensors"

# check ID JSONFILE PYTHON-EXPR-ON-j : the JSON parses and the expression holds
check() {
  r=$($PY -c 'import json, sys
j = json.load(open(sys.argv[1]))
print("ok" if eval(sys.argv[2]) else "no: " + json.dumps(j)[:600])' "$2" "$3" 2>&1)
  if [ "$r" = ok ]; then pass "$1"; else fail "$1" "$r"; fi
}
# summary FILE : "paired targets statements" from the text summary on stderr
summary() { sed -n 's/^[^:]*: \([0-9]*\) of \([0-9]*\) targets paired, \([0-9]*\) statements.*/\1 \2 \3/p' "$1"; }

# ---- a complete match: counts as the summary says, the draft as the plain run prints it ----
$WBR match "$S" "$T/full.json" >"$T/full.wbr" 2>"$T/full.err"
$WBR match "$S" "$T/full.json" --json >"$T/full.out" 2>"$T/full.jerr"
rc=$?
set -- $(summary "$T/full.err")
if [ $rc -eq 0 ]; then pass match/json/complete-exit-0; else fail match/json/complete-exit-0 "exit $rc"; fi
check match/json/complete-counts "$T/full.out" "j['complete'] is True and (j['paired'], j['targets'], j['statements']) == ($1, $2, $3) and j['unresolved'] == [] and j['ambiguous'] == j['unmatched'] == 0"
$PY -c 'import json, sys; sys.stdout.write(json.load(open(sys.argv[1]))["draft"])' "$T/full.out" >"$T/full.draft"
same match/json/draft-is-the-plain-draft "$T/full.wbr" "$T/full.draft"

# ---- ambiguous and unmatched targets: exit 3, entries with candidates, reasons and hints ----
$WBR match "$S" "$T/amb.json" --json >"$T/amb.out" 2>"$T/amb.err"
rc=$?
set -- $(summary "$T/amb.err")
if [ $rc -eq 3 ]; then pass match/json/incomplete-exit-3; else fail match/json/incomplete-exit-3 "exit $rc"; fi
check match/json/incomplete-counts "$T/amb.out" "j['complete'] is False and (j['paired'], j['targets'], j['statements']) == ($1, $2, $3) and (j['ambiguous'], j['unmatched']) == (2, 1) and len(j['unresolved']) == 3"
grep -q '^draft incomplete: 2 ambiguous, 1 without a candidate' "$T/amb.err" && pass match/json/summary-still-on-stderr || fail match/json/summary-still-on-stderr "$(head -c 300 "$T/amb.err")"
check match/json/ambiguous-entries "$T/amb.out" "[(u['target'], u['reason'], sorted(c['source'] for c in u['candidates'])) for u in j['unresolved'][:2]] == [('left.proj', 'ambiguous', ['alpha.weight', 'beta.weight']), ('right.proj', 'ambiguous', ['alpha.weight', 'beta.weight'])] and all(c['shape'] == [4, 6] and c['dtype'] == 'F32' for u in j['unresolved'] for c in u['candidates']) and j['unresolved'][0]['shape'] == [4, 6]"
check match/json/no-candidate-entry "$T/amb.out" "[(u['target'], u['reason'], u['candidates'], u['hint'], u['shape']) for u in j['unresolved'][2:]] == [('extra.w', 'no candidate', [], None, [7, 7])]"
check match/json/draft-lists-unresolved "$T/amb.out" "all('# target \"%s\"' % u['target'] in j['draft'] for u in j['unresolved'])"

# every hint, given back as the shell would read it, settles its target (the last free source is
# not paired by elimination: the other stays ambiguous); the hints name distinct candidates
$PY -c 'import json, sys
for u in json.load(open(sys.argv[1]))["unresolved"]:
    if u["hint"]: print(u["target"] + "\t" + u["hint"])' "$T/amb.out" >"$T/hints"
n=0
while IFS="	" read -r tgt hint; do
  n=$((n + 1))
  eval "\"\$WBR\" match \"\$S\" \"\$T/two.json\" --json $hint" >"$T/h.out" 2>"$T/h.err"
  rc=$?
  check "match/json/hint-settles/$tgt" "$T/h.out" "$rc == 3 and j['paired'] == 3 and '$tgt' not in [u['target'] for u in j['unresolved']]"
done <"$T/hints"
[ $n -eq 2 ] && [ "$(cut -f2 "$T/hints" | sort -u | wc -l)" -eq 2 ] && pass match/json/two-distinct-hints ||
  fail match/json/two-distinct-hints "$n hints: $(cat "$T/hints")"

# all hints together: complete, and the hinted sources land on their targets
h=$(cut -f2 "$T/hints" | tr '\n' ' ')
eval "\"\$WBR\" match \"\$S\" \"\$T/two.json\" -o \"\$T/h.wbr\" $h" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] && pass match/json/all-hints-complete || fail match/json/all-hints-complete "exit $rc: $(head -c 300 "$T/err")"
"$WBR" apply "$T/h.wbr" "$S" -t "$T/two.json" -o "$T/h.safetensors" 2>>"$T/err"
r=$($PY - "$S" "$T/h.safetensors" <<'PYEOF'
import sys
sys.path.insert(0, "tests/apply")
import st
import numpy as np
s = {t.name: t.array() for t in st.read(sys.argv[1])[0]}
o = {t.name: t.array() for t in st.read(sys.argv[2])[0]}
print("ok" if np.array_equal(o["left.proj"], s["alpha.weight"]) and np.array_equal(o["right.proj"], s["beta.weight"]) else "wrong")
PYEOF
)
[ "$r" = ok ] && pass match/json/hinted-values || fail match/json/hinted-values "$r $(head -c 300 "$T/err")"

# ---- with -o: the draft in the file, only the JSON on stdout ----
$WBR match "$S" "$T/amb.json" --json -o "$T/o.wbr" >"$T/o.out" 2>/dev/null
rc=$?
check match/json/with-o-stdout-is-json "$T/o.out" "$rc == 3 and j['draft'] == open('$T/o.wbr').read()"

# ---- a bad input is an error as before: no JSON, exit 1 ----
rejects match/json/missing-src 1 "nope.safetensors" $WBR match "$T/nope.safetensors" "$T/amb.json" --json
[ ! -s "$T/.out" ] && pass match/json/no-json-on-error || fail match/json/no-json-on-error "$(head -c 200 "$T/.out")"
