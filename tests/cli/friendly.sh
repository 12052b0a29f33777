# friendly.sh — issue 15's small frictions: manifest dtypes as people write them (float32,
# torch.bfloat16, half, int64, bool ...) read as the safetensors names; problem counts that add up
# (152 wrong -> "152 problems", 20 shown, "and 132 more"); the help naming the cause ("add a cast"
# when only the dtype differs); the matcher drafting one `cast "*" f32` when every floating target
# needs it (applied and compared with torch's cast).
. "$(dirname "$0")/../lib.sh"
needs_py cli/friendly numpy torch || exit 0

$PY - "$T" <<'PYEOF'
import json, sys
import numpy as np
sys.path.insert(0, "tests/apply")
import st
d = sys.argv[1]
rng = np.random.default_rng(9)
t = []
for i in range(3):
    t.append(st.from_array("enc.layers.%d.attn.weight" % i, rng.standard_normal((4, 4)).astype(np.float16)))
    t.append(st.from_array("enc.layers.%d.mlp.weight" % i, rng.standard_normal((8, 4)).astype(np.float16)))
    t.append(st.from_array("enc.layers.%d.norm.weight" % i, rng.standard_normal(4).astype(np.float32)))
t.append(st.from_array("head.weight", rng.standard_normal((2, 4)).astype(np.float16)))
t.append(st.from_array("bn.num_batches_tracked", np.array(3, dtype=np.int64)))
st.write(d + "/h16.safetensors", t)
spell = ["float32", "torch.float32", "FP32", "np.float32"]
man = {x.name: {"shape": list(x.shape), "dtype": "torch.int64" if x.dtype == "I64" else spell[k % 4]} for k, x in enumerate(t)}
json.dump({"tensors": man}, open(d + "/people.json", "w"))
json.dump({"tensors": {x.name: {"shape": list(x.shape), "dtype": "I64" if x.dtype == "I64" else "F32"} for x in t}},
          open(d + "/h32.json", "w"))
aliases = {"float64": "F64", "double": "F64", "fp64": "F64", "float32": "F32", "fp32": "F32", "torch.float32": "F32",
           "float16": "F16", "half": "F16", "fp16": "F16", "torch.half": "F16", "bfloat16": "BF16", "torch.bfloat16": "BF16",
           "BF16": "BF16", "bf16": "BF16", "int64": "I64", "torch.long": "I64", "int32": "I32", "int16": "I16", "int8": "I8",
           "uint8": "U8", "bool": "BOOL", "torch.bool": "BOOL", "np.bool_": "BOOL", "float8_e4m3fn": "F8_E4M3",
           "torch.float8_e5m2": "F8_E5M2", "jnp.bfloat16": "BF16", "numpy.int32": "I32"}
json.dump({"tensors": {"t%d" % i: {"shape": [2], "dtype": a} for i, a in enumerate(aliases)}}, open(d + "/aliases.json", "w"))
json.dump(["t%d %s" % (i, w) for i, w in enumerate(aliases.values())], open(d + "/want.json", "w"))
st.write(d + "/many.safetensors", [st.from_array("l%d.w" % i, np.zeros(2, np.float32)) for i in range(152)])
json.dump({"tensors": {"l%d.w" % i: {"shape": [2], "dtype": "F16"} for i in range(152)}}, open(d + "/many16.json", "w"))
PYEOF

# ---- dtype spellings ----
$WBR inspect "$T/aliases.json" --json >"$T/a.json" 2>"$T/err"
rc=$?
r=$($PY -c 'import json, sys
got = ["%s %s" % (k, v["dtype"]) for k, v in json.load(open(sys.argv[1]))["tensors"].items()]
want = json.load(open(sys.argv[2]))
print("ok" if got == want else "got %s" % [g for g, w in zip(got, want) if g != w])' "$T/a.json" "$T/want.json" 2>&1)
[ $rc -eq 0 ] && [ "$r" = ok ] && pass friendly/manifest-dtype-spellings || fail friendly/manifest-dtype-spellings "exit $rc: $r $(head -c 300 "$T/err")"
for bad in float int torch.complex64 f32x; do
  printf '{"tensors": {"a": {"shape": [2], "dtype": "%s"}}}' "$bad" >"$T/bad.json"
  rejects "friendly/manifest-dtype-refused/$bad" 1 "unknown dtype \"$bad\"" $WBR inspect "$T/bad.json"
  grep -q 'help: dtypes are: F64 F32 .* (also as PyTorch and NumPy name them: float32, torch.bfloat16' "$T/.err" &&
    pass "friendly/manifest-dtype-help/$bad" || fail "friendly/manifest-dtype-help/$bad" "$(head -c 300 "$T/.err")"
done

# ---- counts that add up, the cause in the help ----
printf 'weightbridge 1\n' >"$T/none.wbr"
$WBR check "$T/none.wbr" "$T/many.safetensors" -t "$T/many16.json" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q '^check failed: 152 problems (20 shown, 132 more counted above);' "$T/err" &&
   grep -q '^note: ... and 132 more tensors with the wrong shape or dtype' "$T/err" && [ "$(grep -c '^error: ' "$T/err")" -eq 20 ]; then
  pass friendly/problem-counts-add-up; else fail friendly/problem-counts-add-up "exit $rc: $(tail -c 300 "$T/err")"; fi
[ "$(grep -c '^  help: add a cast for it$' "$T/err")" -eq 20 ] && pass friendly/help-names-the-cast || fail friendly/help-names-the-cast "$(head -c 300 "$T/err")"
$WBR check "$T/none.wbr" "$T/many.safetensors" -t "$T/many16.json" --json 2>/dev/null >"$T/j"
r=$($PY -c 'import json, sys; j = json.load(open(sys.argv[1])); print("ok" if (j["problems"], j["listed"]) == (152, 20) else j)' "$T/j" 2>&1)
[ "$r" = ok ] && pass friendly/problem-counts-json || fail friendly/problem-counts-json "$r"
rejects friendly/apply-counts-add-up 1 "not writing: the plan has 152 problems" $WBR apply "$T/none.wbr" "$T/many.safetensors" -t "$T/many16.json" -o "$T/x.safetensors"

# ---- the matcher: one cast for all ----
for tgt in h32 people; do
  $WBR match "$T/h16.safetensors" "$T/$tgt.json" -o "$T/$tgt.wbr" 2>"$T/err"
  rc=$?
  body=$(grep -v '^#' "$T/$tgt.wbr" | grep -v '^$' | tr '\n' '|')
  if [ $rc -eq 0 ] && [ "$body" = 'weightbridge 1|cast "*" f32|' ]; then pass "friendly/match-one-cast/$tgt"
  else fail "friendly/match-one-cast/$tgt" "exit $rc: $body $(head -c 200 "$T/err")"; fi
done
$WBR apply "$T/h32.wbr" "$T/h16.safetensors" -t "$T/h32.json" -o "$T/o.safetensors" 2>"$T/err"
r=$($PY - "$T" <<'PYEOF'
import sys
import numpy as np, torch
sys.path.insert(0, "tests/apply")
import st
d = sys.argv[1]
s = {t.name: t.array() for t in st.read(d + "/h16.safetensors")[0]}
o = {t.name: t for t in st.read(d + "/o.safetensors")[0]}
bad = [k for k, v in s.items() if not np.array_equal(o[k].array(), torch.from_numpy(np.array(v)).to(torch.float32 if v.dtype.kind == "f" else torch.int64).numpy())
       or o[k].dtype != ("I64" if v.dtype.kind == "i" else "F32")]
print("ok" if not bad and len(o) == len(s) else "wrong: %s" % bad)
PYEOF
)
[ "$r" = ok ] && pass friendly/match-one-cast-values || fail friendly/match-one-cast-values "$r $(head -c 200 "$T/err")"
# a target that keeps one tensor F16: "*" would be wrong there, so the casts stay per pattern
$PY -c 'import json, sys
j = json.load(open(sys.argv[1])); j["tensors"]["head.weight"]["dtype"] = "F16"; json.dump(j, open(sys.argv[2], "w"))' "$T/h32.json" "$T/mixed.json"
$WBR match "$T/h16.safetensors" "$T/mixed.json" -o "$T/mixed.wbr" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && ! grep -q '^cast "\*"' "$T/mixed.wbr" && grep -q '^cast ' "$T/mixed.wbr"; then pass friendly/match-mixed-keeps-patterns
else fail friendly/match-mixed-keeps-patterns "exit $rc: $(grep -v '^#' "$T/mixed.wbr" | tr '\n' '|')"; fi
ok friendly/match-mixed-applies $WBR check "$T/mixed.wbr" "$T/h16.safetensors" -t "$T/mixed.json"
