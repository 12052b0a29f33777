# match_update_text.sh — what `wbr match --update RULES.wbr` writes: the user's file exactly as
# `wbr fmt` prints it (head comments, the header's comment, a comment inside a statement, closing
# comments and their blank lines), then one blank line, the "Drafted by" note and the REVIEW
# lines, then the drafted statements (or, when none could be drafted, the UNRESOLVED list); the
# result is canonical (`wbr fmt` leaves it as it is) and, at exit 0, maps real data right.
. "$(dirname "$0")/../lib.sh"
needs_py cli/match_update_text numpy || exit 0

$PY - "$T" <<'PYEOF'
import json, sys
import numpy as np
sys.path.insert(0, "tests/apply")
import st
d = sys.argv[1]
rng = np.random.default_rng(11)
shapes = {"enc.a.weight": (4, 3), "enc.a.bias": (4,), "enc.b.weight": (6, 4), "enc.b.bias": (6,),
          "aux.alpha.weight": (5, 5), "aux.beta.weight": (5, 5), "fc.weight": (2, 6)}
src = {k: rng.standard_normal(v).astype(np.float32) for k, v in shapes.items()}
st.write(d + "/src.safetensors", [st.from_array(k, v) for k, v in src.items()])
np.savez(d + "/src.npz", **src)
tgt = {"blocks.a.weight": (4, 3), "blocks.a.bias": (4,), "blocks.b.weight": (6, 4), "blocks.b.bias": (6,),
       "extra.left.weight": (5, 5), "extra.right.weight": (5, 5)}
json.dump({"tensors": {k: {"shape": list(v), "dtype": "F32"} for k, v in tgt.items()}}, open(d + "/tgt.json", "w"))
PYEOF
S="$T/src.safetensors"; G="$T/tgt.json"

# Every comment position the parser knows, closing comments apart by a blank line.
cat >"$T/all.wbr" <<'EOF'
# my notes before the header

weightbridge 1  # the version
# about the hints
hint "aux.alpha.weight" = "extra.left.weight"
hint "aux.beta.weight" = "extra.right.weight"

drop "fc.{p}"  # not wanted
rename "enc.a.*" ->
  # a comment inside a statement
  "blocks.a.*"

# closing note one

# closing note two
EOF
# Closing comments right under the last statement; the twins left undecided: nothing to draft.
cat >"$T/none.wbr" <<'EOF'
weightbridge 1
drop "fc.{p}"
rename "enc.*" -> "blocks.*"
# the twins are left to the matcher
EOF
# No statement at all, only a note under the header.
printf 'weightbridge 1\n# just a note\n' >"$T/bare.wbr"

# check ID RULES EXIT NTODO [--hint ...]: the layout above, and at exit 0 the values.
check() {
  id=$1 rules=$2 want=$3 ntodo=$4
  shift 4
  $WBR match "$S" "$G" --update "$rules" -o "$T/out.wbr" "$@" 2>"$T/err"
  rc=$?
  if [ $rc -ne "$want" ]; then fail "$id/exit" "exit $rc, wanted $want: $(head -c 300 "$T/err")"; return; fi
  pass "$id/exit"
  $WBR fmt "$rules" >"$T/canon.wbr"
  n=$(wc -c <"$T/canon.wbr")
  head -c "$n" "$T/out.wbr" >"$T/prefix.wbr"
  if cmp -s "$T/canon.wbr" "$T/prefix.wbr"; then pass "$id/user-file-first"
  else fail "$id/user-file-first" "$(diff "$T/canon.wbr" "$T/prefix.wbr" | head -n 6 | tr '\n' '|')"; fi
  note="# Drafted by \`wbr match --update\` for the $ntodo targets these rules leave unmapped."
  after=$(tail -c +"$((n + 1))" "$T/out.wbr" | head -n 2)
  if [ "$after" = "$(printf '\n%s' "$note")" ]; then pass "$id/drafted-note"
  else fail "$id/drafted-note" "$(printf '%s' "$after" | tr '\n' '|')"; fi
  if $WBR fmt "$T/out.wbr" | cmp -s - "$T/out.wbr"; then pass "$id/canonical"
  else fail "$id/canonical" "$($WBR fmt "$T/out.wbr" | diff - "$T/out.wbr" | head -n 6 | tr '\n' '|')"; fi
  [ "$want" -eq 0 ] || return
  $WBR apply "$T/out.wbr" "$S" -t "$G" -o "$T/out.safetensors" 2>"$T/err"
  r=$($PY - "$T" <<'PYEOF'
import sys
import numpy as np
sys.path.insert(0, "tests/apply")
import st
d = sys.argv[1]
src = dict(np.load(d + "/src.npz"))
got = {t.name: t.array() for t in st.read(d + "/out.safetensors")[0]}
want = {"blocks.a.weight": "enc.a.weight", "blocks.a.bias": "enc.a.bias", "blocks.b.weight": "enc.b.weight",
        "blocks.b.bias": "enc.b.bias", "extra.left.weight": "aux.alpha.weight", "extra.right.weight": "aux.beta.weight"}
bad = [t for t, s in want.items() if t not in got or not np.array_equal(got[t], src[s])]
print("ok" if not bad and len(got) == len(want) else "wrong: " + ", ".join(bad or sorted(got)))
PYEOF
)
  if [ "$r" = ok ]; then pass "$id/values"; else fail "$id/values" "$r $(head -c 300 "$T/err")"; fi
}

check cli/match_update_text/every-comment "$T/all.wbr" 0 4
if grep -q '^# a comment inside a statement$' "$T/out.wbr" && grep -q '^# closing note two$' "$T/out.wbr"; then
  pass cli/match_update_text/every-comment/kept; else fail cli/match_update_text/every-comment/kept "$(head -n 16 "$T/out.wbr" | tr '\n' '|')"; fi
check cli/match_update_text/nothing-drafted "$T/none.wbr" 3 2
if [ "$(grep -c '^[a-z]' "$T/out.wbr")" -eq 3 ] && tail -n 1 "$T/out.wbr" | grep -q '^#   e.g. hint "aux.alpha.weight" = "extra.right.weight"$'; then
  pass cli/match_update_text/nothing-drafted/unresolved-last; else fail cli/match_update_text/nothing-drafted/unresolved-last "$(tail -n 3 "$T/out.wbr" | tr '\n' '|')"; fi
check cli/match_update_text/no-statements "$T/bare.wbr" 0 6 --hint aux.alpha.weight=extra.left.weight
# the loop the draft itself suggests: its own exit-3 text plus a hint, given back to --update
$WBR match "$S" "$G" --update "$T/none.wbr" -o "$T/loop.wbr" 2>/dev/null
printf 'hint "aux.alpha.weight" = "extra.left.weight"\n' >>"$T/loop.wbr"
check cli/match_update_text/loop "$T/loop.wbr" 0 2
