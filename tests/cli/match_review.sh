# match_review.sh — what a reviewer of `wbr match` relies on: hints that carry a layout (--hint
# 'A=B transpose', `hint "A" = "B" permute (...)` in an --update file) pair with exactly that
# layout, checked with real data; a layout that does not fit, or a malformed one, is one clear
# error; the summary and the draft's header say what was checked and list, under REVIEW, the
# decisions that rest on names or order alone; --update refuses a .wbc.
. "$(dirname "$0")/../lib.sh"
needs_py cli/match_review numpy || exit 0

# Real files: square attention weights (no layer-mate says whether to transpose) and a square
# conv kernel whose two axis orders both fit.
$PY - "$T" <<'PYEOF'
import json, sys
import numpy as np
sys.path.insert(0, "tests/apply")
import st
d = sys.argv[1]
rng = np.random.default_rng(7)
src = {"layers.%d.attn.c_proj.weight" % i: rng.standard_normal((8, 8)).astype(np.float32) for i in range(3)}
src["stem.w"] = rng.standard_normal((3, 3, 8, 8)).astype(np.float32)
st.write(d + "/src.safetensors", [st.from_array(k, v) for k, v in src.items()])
tgt = {"blocks.%d.attn.proj.weight" % i: [8, 8] for i in range(3)}
tgt["stem.conv.weight"] = [8, 8, 3, 3]
json.dump({"tensors": {k: {"shape": v, "dtype": "F32"} for k, v in tgt.items()}}, open(d + "/tgt.json", "w"))
np.savez(d + "/src.npz", **src)
PYEOF
S="$T/src.safetensors"; G="$T/tgt.json"

# values: every target of OUT equals its source with the given axes (python literal dict)
values() {
  $PY - "$T" "$1" "$2" <<'PYEOF'
import sys
import numpy as np
sys.path.insert(0, "tests/apply")
import st
d, out, want = sys.argv[1], sys.argv[2], eval(sys.argv[3])
src = dict(np.load(d + "/src.npz"))
got = {t.name: t.array() for t in st.read(out)[0]}
bad = [t for t, (s, axes) in want.items() if not np.array_equal(got[t], np.transpose(src[s], axes))]
print("ok" if not bad else "wrong: " + ", ".join(bad))
PYEOF
}

TR='{"blocks.%d.attn.proj.weight" % i: ("layers.%d.attn.c_proj.weight" % i, (1, 0)) for i in range(3)}'
H='layers.{i}.attn.c_proj.weight=blocks.{i}.attn.proj.weight'
SH='stem.w=stem.conv.weight permute (2, 3, 0, 1)'

# ---- --hint with a layout: exactly that layout, with real data ----
$WBR match "$S" "$G" --hint "$H transpose" --hint "$SH" -o "$T/t.wbr" --explain 2>"$T/t.err"
rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c 'attn.proj.weight \[8, 8\] <- .* \[transpose\]  -- hint: with the layout it gives' "$T/t.err")" -eq 3 ]; then
  pass match/hint-layout/transpose-pins-three; else fail match/hint-layout/transpose-pins-three "exit $rc: $(head -c 400 "$T/t.err")"; fi
$WBR apply "$T/t.wbr" "$S" -t "$G" -o "$T/t.safetensors" 2>"$T/err"
r=$(values "$T/t.safetensors" "dict($TR, **{'stem.conv.weight': ('stem.w', (2, 3, 0, 1))})")
if [ "$r" = ok ]; then pass match/hint-layout/values; else fail match/hint-layout/values "$r $(head -c 300 "$T/err")"; fi
# the plain hint says which, not how: nothing shows the square GPT-2 weights' layout (Conv1D or
# Linear), so they stay undecided, asking for the hint's layout (issue 10 item 6; kept as they
# were, a Conv1D source would come out silently wrong); the conv kernel gets the matcher's HWIO -> OIHW
$WBR match "$S" "$G" --hint "$H" -o "$T/p.wbr" 2>"$T/err"
rc=$?
$WBR apply "$T/p.wbr" "$S" -o "$T/p.safetensors" 2>>"$T/err"
r=$(values "$T/p.safetensors" "{'stem.conv.weight': ('stem.w', (3, 2, 0, 1))}")
if [ $rc -eq 3 ] && [ "$r" = ok ] && [ "$(grep -c '^# target "blocks\.[012]\.attn\.proj\.weight" \[8, 8\]: .*a plain hint pairs it but says no layout' "$T/p.wbr")" -eq 3 ] &&
   grep -q '^#   e.g. hint "layers.0.attn.c_proj.weight" = "blocks.0.attn.proj.weight" transpose  # or permute (0, 1): as is$' "$T/p.wbr" &&
   ! grep -v '^#' "$T/p.wbr" | grep -q 'attn'; then
  pass match/hint-layout/plain-hint-differs; else fail match/hint-layout/plain-hint-differs "exit $rc, $r $(grep -v '^#' "$T/p.wbr" | tr '\n' '|') $(head -c 300 "$T/err")"; fi

# ---- the same as statements of an --update file: kept canonically, same result ----
printf 'weightbridge 1\nhint "layers.{i}.attn.c_proj.weight" = "blocks.{i}.attn.proj.weight"   TRANSPOSE\nhint "stem.w" = "stem.conv.weight" permute (2,3,0,1)\n' >"$T/mine.wbr"
ok match/hint-layout/update-exit0 $WBR match "$S" "$G" --update "$T/mine.wbr" -o "$T/u.wbr"
if grep -q '^hint "layers.{i}.attn.c_proj.weight" = "blocks.{i}.attn.proj.weight" transpose$' "$T/u.wbr" &&
   grep -q '^hint "stem.w" = "stem.conv.weight" permute (2, 3, 0, 1)$' "$T/u.wbr"; then
  pass match/hint-layout/update-keeps-hints; else fail match/hint-layout/update-keeps-hints "$(grep hint "$T/u.wbr" | tr '\n' '|')"; fi
$WBR apply "$T/u.wbr" "$S" -t "$G" -o "$T/u.safetensors" 2>"$T/err"
r=$(values "$T/u.safetensors" "dict($TR, **{'stem.conv.weight': ('stem.w', (2, 3, 0, 1))})")
if [ "$r" = ok ]; then pass match/hint-layout/update-values; else fail match/hint-layout/update-values "$r $(head -c 300 "$T/err")"; fi
ok match/hint-layout/update-compiles $WBR compile "$T/u.wbr" -o "$T/u.wbc"

# ---- a layout that does not fit, or a malformed one: one clear error, exit 1 ----
rejects match/hint-layout/shape-mismatch 1 \
  "hint 'stem.w=stem.conv.weight' pairs 'stem.w' with 'stem.conv.weight': under that layout the source [3, 3, 8, 8] becomes [3, 3, 8, 8], not the target's [8, 8, 3, 3]" \
  $WBR match "$S" "$G" --hint 'stem.w=stem.conv.weight permute (0, 1, 2, 3)'
rejects match/hint-layout/transpose-not-2d 1 "the layout has 2 axes, the source [3, 3, 8, 8] has 4" \
  $WBR match "$S" "$G" --hint 'stem.w=stem.conv.weight transpose'
printf 'weightbridge 1\n\nhint "stem.w" = "stem.conv.weight" permute (1, 0, 2, 3)\n' >"$T/bad.wbr"
rejects match/hint-layout/update-where 1 "$T/bad.wbr:3:1: error: hint \"stem.w\" = \"stem.conv.weight\" pairs 'stem.w' with 'stem.conv.weight': under that layout" \
  $WBR match "$S" "$G" --update "$T/bad.wbr"
rejects match/hint-layout/cli-not-a-layout 1 "--hint: error: hint 'stem.w=stem.conv.weight transpse': 'transpse' is not a layout" \
  $WBR match "$S" "$G" --hint 'stem.w=stem.conv.weight transpse'
rejects match/hint-layout/cli-brackets 1 "'permute' wants a list of axes in parentheses" \
  $WBR match "$S" "$G" --hint 'stem.w=stem.conv.weight permute [2, 3, 0, 1]'
rejects match/hint-layout/cli-not-permutation 1 "the axes are not a permutation of 0..3" \
  $WBR match "$S" "$G" --hint 'stem.w=stem.conv.weight permute (2, 2, 0, 1)'
rejects match/hint-layout/cli-trailing 1 "text after the axes" \
  $WBR match "$S" "$G" --hint 'stem.w=stem.conv.weight permute (2, 3, 0, 1) x'
printf '{"tensors": {"blocks.0.attn.proj.weight": {"shape": [8, 8], "dtype": "I32"}}}' >"$T/i32.json"
rejects match/hint/dtype-says-dtype 1 "pairs 'layers.0.attn.c_proj.weight' (F32) with 'blocks.0.attn.proj.weight' (I32): the dtypes differ" \
  $WBR match "$S" "$T/i32.json" --hint 'layers.0.attn.c_proj.weight=blocks.0.attn.proj.weight'

# ---- what exit 0 proves, and the REVIEW list (names or order alone) ----
P=tests/fixtures/vit_tv_to_timm
$WBR match $P/a.json $P/b.json -o "$T/v.wbr" 2>"$T/v.err"
if grep -q '^checked: shapes, dtypes, names, structure, [0-9]* index maps; not values$' "$T/v.err" &&
   grep -q '^# Exit 0 means: compiled and planned against both sides' "$T/v.wbr"; then
  pass match/review/says-what-was-checked; else fail match/review/says-what-was-checked "$(head -c 400 "$T/v.err")"; fi
if grep -q '^REVIEW: [0-9]* decisions rest on names or order alone among same-shape candidates; read them first:$' "$T/v.err" &&
   grep -q '^  norm.bias from encoder.ln.bias  (definition order among [0-9]* same-shape candidates)$' "$T/v.err" &&
   grep -q '^#   norm.bias from encoder.ln.bias  (definition order among' "$T/v.wbr"; then
  pass match/review/lists-order-decision; else fail match/review/lists-order-decision "$(grep -A8 REVIEW "$T/v.err" | head -c 600)"; fi
# --explain marks the same pairs
$WBR match $P/a.json $P/b.json --explain >/dev/null 2>"$T/ve.err"
# (as many pairs as the summary's REVIEW line counts; norm.bias with the same rival count)
nrev=$(sed -n 's/^REVIEW: \([0-9]*\) decisions rest on.*/\1/p' "$T/v.err")
nbias=$(sed -n 's/^  norm.bias from encoder.ln.bias  (definition order among \([0-9]*\) same-shape.*/\1/p' "$T/v.err")
if [ -n "$nrev" ] && [ "$(grep -c '; REVIEW: among [0-9]* same-shape candidates$' "$T/ve.err")" -eq "$nrev" ] &&
   grep -q "^norm.bias \[48\] <- encoder.ln.bias \[48\]  -- definition order: .*; REVIEW: among $nbias same-shape candidates\$" "$T/ve.err"; then
  pass match/review/explain-marks-them; else fail match/review/explain-marks-them "$(grep -c REVIEW "$T/ve.err") marked: $(grep '^norm.bias' "$T/ve.err")"; fi
# a hint for it takes it off the list: the user decided it
$WBR match $P/a.json $P/b.json --hint 'encoder.ln.bias=norm.bias' -o "$T/v2.wbr" 2>"$T/v2.err"
if grep -q '^REVIEW' "$T/v2.err" && ! grep -q 'norm.bias from ' "$T/v2.err"; then
  pass match/review/hinted-not-listed; else fail match/review/hinted-not-listed "$(grep -A8 REVIEW "$T/v2.err" | head -c 600)"; fi
# q/k/v parts joined by their names while another group of the same shapes was free: listed
$PY - "$T" <<'PYEOF'
import json, sys
a = {"dec.0.%s.%s_proj.weight" % (m, p): {"shape": [8, 8], "dtype": "F32"} for m in ("self_attn", "cross_attn") for p in "qkv"}
b = {"blocks.0.%s.qkv.weight" % m: {"shape": [24, 8], "dtype": "F32"} for m in ("self", "cross")}
json.dump({"tensors": a}, open(sys.argv[1] + "/fa.json", "w"))
json.dump({"tensors": b}, open(sys.argv[1] + "/fb.json", "w"))
PYEOF
$WBR match "$T/fa.json" "$T/fb.json" -o "$T/f.wbr" 2>"$T/f.err"
if grep -q '^  blocks.0.cross.qkv.weight from dec.0.cross_attn.q_proj.weight + dec.0.cross_attn.k_proj.weight + dec.0.cross_attn.v_proj.weight  (q/k/v parts by name among 2 same-shape candidates)$' "$T/f.err"; then
  pass match/review/fused-by-name; else fail match/review/fused-by-name "$(grep -A3 REVIEW "$T/f.err" | head -c 400)"; fi

# where the same names decide (GPT-2 HF -> nanoGPT), the list is empty and says so
G2=tests/fixtures/gpt2_hf_to_nanogpt
$WBR match $G2/a.json $G2/b.json -o "$T/s.wbr" 2>"$T/s.err"
if grep -q '^REVIEW: no decision rests on names or order alone among same-shape candidates.$' "$T/s.err" &&
   grep -q '^# REVIEW: no decision rests' "$T/s.wbr"; then
  pass match/review/none; else fail match/review/none "$(grep -A4 REVIEW "$T/s.err" | head -c 400)"; fi

# ---- --update with bytecode: one error, not a parse of binary as text ----
$WBR compile "$T/mine.wbr" -o "$T/mine.wbc" 2>/dev/null
rejects match/update/wbc-refused 1 "$T/mine.wbc: error: this is compiled bytecode (.wbc); --update reads and extends a rule file (.wbr)" \
  $WBR match "$S" "$G" --update "$T/mine.wbc"
if [ "$(grep -c ': error: ' "$T/.err")" -eq 1 ]; then pass match/update/wbc-one-error; else fail match/update/wbc-one-error "$(head -c 300 "$T/.err")"; fi
