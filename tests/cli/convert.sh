# convert.sh — `wbr convert SRC -o OUT [--dtype D]`: a format change or a cast with no rule file,
# checked value by value against torch (bf16/f16 rounding) and NumPy; integer, bool and quantized
# tensors kept byte for byte; shards, -t, bad usage (one message, exit 2, nothing written); rules
# from stdin (`-`) for plan/check/apply; swapped arguments said so (`apply SRC -o OUT` names
# convert, a checkpoint given as RULES says "usage is RULES SRC").
. "$(dirname "$0")/../lib.sh"
needs_py cli/convert numpy torch || exit 0

$PY - "$T" <<'PYEOF'
import json, sys
import numpy as np, torch
sys.path.insert(0, "tests/apply"); sys.path.insert(0, "tests/gguf")
import st, ggufpy
d = sys.argv[1]
rng = np.random.default_rng(3)
w = (rng.standard_normal((64, 48)) * 10).astype(np.float32)
w[0, :4] = [np.inf, -np.inf, 1e-40, 65504.0 * 2]   # edge values: infinities, a subnormal, f16 overflow
src = {"enc.weight": w, "enc.bias": rng.standard_normal(48).astype(np.float32),
       "bn.num_batches_tracked": np.array(7, dtype=np.int64), "mask": np.array([True, False, True]),
       "ids": np.arange(5, dtype=np.int32), "emb.double": rng.standard_normal((3, 4))}
st.write(d + "/src.safetensors", [st.from_array(k, np.asarray(v).view(np.uint8) if np.asarray(v).dtype == bool else v, "BOOL" if np.asarray(v).dtype == bool else None) for k, v in src.items()])
np.savez(d + "/src.npz", **src)
torch.save({k: torch.from_numpy(np.array(v)) for k, v in src.items()}, d + "/src.pt")
# the oracle: torch's own casts
ref = {}
for k, v in src.items():
    t = torch.from_numpy(np.array(v))
    if t.is_floating_point():
        ref[k + "@bf16"] = t.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
        ref[k + "@f16"] = t.to(torch.float16).numpy()
np.savez(d + "/ref.npz", **ref)
ggufpy.write(d + "/q.gguf", [], [("tok.weight", "Q8_0", [2, 32], bytes(range(68))),
                                 ("norm.weight", "F32", [4], np.arange(4, dtype=np.float32).tobytes())])
json.dump({"tensors": {k: {"shape": list(np.shape(v)), "dtype": "BF16" if np.asarray(v).dtype.kind == "f" else
                           {"i": "I64" if np.asarray(v).dtype.itemsize == 8 else "I32", "b": "BOOL"}[np.asarray(v).dtype.kind]}
                       for k, v in src.items()}}, open(d + "/bf16.json", "w"))
PYEOF
S="$T/src.safetensors"

# values OUT DTYPE : every tensor of OUT (safetensors) against the source and torch's cast
values() {
  $PY - "$T" "$1" "$2" <<'PYEOF'
import sys
import numpy as np
sys.path.insert(0, "tests/apply")
import st
d, out, dt = sys.argv[1:]
src = dict(np.load(d + "/src.npz")); ref = dict(np.load(d + "/ref.npz"))
got = {t.name: t for t in st.read(out)[0]}
bad = []
for k, v in src.items():
    t = got.get(k)
    if t is None: bad.append(k + " missing"); continue
    a = t.array()
    if v.dtype.kind == "f" and dt != "keep":
        want, wdt = ref[k + "@" + dt], {"bf16": "BF16", "f16": "F16"}[dt]
        if t.dtype != wdt or not np.array_equal(a.view(np.uint16), want.view(np.uint16)): bad.append(k)
    elif v.dtype == bool:
        if t.dtype != "BOOL" or not np.array_equal(a.astype(bool), v): bad.append(k + " changed")
    elif a.dtype != v.dtype or not np.array_equal(a, v): bad.append(k + " changed")
print("ok" if not bad and len(got) == len(src) else "wrong: %s (%d tensors)" % (bad, len(got)))
PYEOF
}

for dt in bf16 f16; do
  $WBR convert "$S" -o "$T/$dt.safetensors" --dtype $dt 2>"$T/err"
  rc=$?
  r=$(values "$T/$dt.safetensors" $dt)
  if [ $rc -eq 0 ] && [ "$r" = ok ]; then pass convert/cast-$dt-as-torch; else fail convert/cast-$dt-as-torch "exit $rc: $r $(head -c 300 "$T/err")"; fi
done
# people's spellings of a dtype
$WBR convert "$S" -o "$T/b2.safetensors" --dtype torch.bfloat16 2>"$T/err" && cmp -s "$T/b2.safetensors" "$T/bf16.safetensors" &&
  pass convert/dtype-torch-spelling || fail convert/dtype-torch-spelling "$(head -c 300 "$T/err")"
# a format change, no cast: .pt -> safetensors, every tensor as it was
$WBR convert "$T/src.pt" -o "$T/pt.safetensors" 2>"$T/err"
rc=$?
r=$(values "$T/pt.safetensors" keep)
if [ $rc -eq 0 ] && [ "$r" = ok ]; then pass convert/pt-to-safetensors; else fail convert/pt-to-safetensors "exit $rc: $r $(head -c 300 "$T/err")"; fi
# safetensors -> npz with a cast, read back by NumPy
$WBR convert "$S" -o "$T/o.npz" --dtype f16 2>"$T/err"
r=$($PY -c 'import sys, numpy as np
o = np.load(sys.argv[1]); r = np.load(sys.argv[2]); s = np.load(sys.argv[3])
ok = all((o[k].dtype == np.float16 and np.array_equal(o[k], r[k + "@f16"], equal_nan=True)) if s[k].dtype.kind == "f" else
         (o[k].dtype == s[k].dtype and np.array_equal(o[k], s[k])) for k in s.files) and len(o.files) == len(s.files)
print("ok" if ok else "wrong")' "$T/o.npz" "$T/ref.npz" "$T/src.npz" 2>&1)
[ "$r" = ok ] && pass convert/npz-f16 || fail convert/npz-f16 "$r $(head -c 300 "$T/err")"
# quantized tensors are kept byte for byte, the float one cast
$WBR convert "$T/q.gguf" -o "$T/q2.gguf" --dtype f16 2>"$T/err"
rc=$?
r=$($PY -c 'import sys; sys.path.insert(0, "tests/gguf"); import ggufpy, numpy as np
kv, ts = ggufpy.read(sys.argv[1])[:2]
print(ts)' "$T/q2.gguf" 2>&1 | head -c 0)
"$WBR" inspect "$T/q2.gguf" >"$T/q.txt" 2>&1
if [ $rc -eq 0 ] && grep -q 'tok.weight *Q8_0 *\[2, 32\] *68' "$T/q.txt" && grep -q 'norm.weight *F16 *\[4\]' "$T/q.txt" &&
   grep -q 'quantized tensor kept' "$T/err"; then pass convert/quantized-kept; else fail convert/quantized-kept "exit $rc: $(cat "$T/q.txt" "$T/err" | head -c 400)"; fi
$PY - "$T" <<'PYEOF' >"$T/q.r"
import sys
d = sys.argv[1]
a, b = open(d + "/q.gguf", "rb").read(), open(d + "/q2.gguf", "rb").read()
print("ok" if bytes(range(68)) in b else "quantized bytes changed")
PYEOF
[ "$(cat "$T/q.r")" = ok ] && pass convert/quantized-bytes || fail convert/quantized-bytes "$(cat "$T/q.r")"
# only integers: nothing to cast, said so, copied
$PY -c 'import sys; sys.path.insert(0, "tests/apply"); import st, numpy as np
st.write(sys.argv[1], [st.from_array("ids", np.arange(4, dtype=np.int64))])' "$T/ints.safetensors"
$WBR convert "$T/ints.safetensors" -o "$T/i2.safetensors" --dtype bf16 2>"$T/err" && grep -q 'no floating-point tensor to cast' "$T/err" &&
  pass convert/ints-only-copied || fail convert/ints-only-copied "$(head -c 300 "$T/err")"
# shards, and a check against a target before writing
mkdir "$T/sh"
$WBR convert "$S" -o "$T/sh/model.safetensors.index.json" --dtype bf16 --max-shard-size 4KB 2>"$T/err"
rc=$?
n=$(ls "$T/sh" 2>/dev/null | grep -c 'model-.*-of-.*\.safetensors')
if [ $rc -eq 0 ] && [ "$n" -ge 2 ]; then pass convert/shards; else fail convert/shards "exit $rc, $n shards: $(head -c 300 "$T/err")"; fi
ok convert/target-check $WBR convert "$S" -t "$T/bf16.json" -o "$T/t.safetensors" --dtype bf16
rejects convert/target-mismatch 1 "not writing" $WBR convert "$S" -t "$T/bf16.json" -o "$T/t2.safetensors"
[ ! -e "$T/t2.safetensors" ] && pass convert/target-mismatch-writes-nothing || fail convert/target-mismatch-writes-nothing "written"

# ---- bad usage: one message, exit 2, nothing written, input intact ----
cp "$S" "$T/keep.safetensors"
rejects convert/no-output 2 "wbr convert: -o OUT is required" $WBR convert "$S"
rejects convert/no-src 2 "wbr convert: SRC is missing" $WBR convert -o "$T/x.safetensors"
rejects convert/bad-dtype 2 "--dtype must be bf16, f16, f32 or f64 (got 'int8')" $WBR convert "$S" -o "$T/x.safetensors" --dtype int8
rejects convert/dtype-no-value 2 "--dtype needs a value" $WBR convert "$S" -o "$T/x.safetensors" --dtype
rejects convert/unknown-option 2 "wbr convert: unknown option '--bogus'" $WBR convert "$S" -o "$T/x.safetensors" --bogus
rejects convert/two-sources 2 "too many arguments" $WBR convert "$S" "$S" -o "$T/x.safetensors"
[ ! -e "$T/x.safetensors" ] && pass convert/bad-usage-writes-nothing || fail convert/bad-usage-writes-nothing "written"
rejects convert/onto-its-source 2 "" $WBR convert "$S" -o "$S" --dtype bf16
same convert/source-intact "$S" "$T/keep.safetensors"

# ---- apply SRC -o OUT: did you mean convert ----
rejects convert/apply-without-rules 2 "did you mean \`wbr convert $S -o OUT\`" $WBR apply "$S" -o "$T/x.safetensors"

# ---- swapped arguments: RULES that is a checkpoint (by extension), a manifest, a directory ----
printf 'weightbridge 1\ncast "*" bf16\n' >"$T/r.wbr"
rejects convert/swapped-pt 2 "src.pt: error: this looks like a PyTorch checkpoint, not a rule file; usage is RULES SRC" \
  $WBR apply "$T/src.pt" "$T/r.wbr" -o "$T/x.safetensors"
mkdir "$T/model_dir"
rejects convert/swapped-directory 2 "looks like a directory" $WBR plan "$T/model_dir" "$S"
rejects convert/swapped-manifest 2 "looks like a JSON manifest" $WBR plan "$T/bf16.json" "$S"

# ---- rules from stdin ----
$WBR apply - "$S" -o "$T/stdin.safetensors" <"$T/r.wbr" 2>"$T/err" && cmp -s "$T/stdin.safetensors" "$T/bf16.safetensors" 2>/dev/null
# the rules' name differs in the metadata: compare values instead
r=$(values "$T/stdin.safetensors" bf16)
[ "$r" = ok ] && pass convert/apply-rules-from-stdin || fail convert/apply-rules-from-stdin "$r $(head -c 300 "$T/err")"
$WBR check - "$S" -t "$T/bf16.json" <"$T/r.wbr" >"$T/out" 2>"$T/err" && grep -q '^ok: - maps' "$T/out" &&
  pass convert/check-rules-from-stdin || fail convert/check-rules-from-stdin "$(cat "$T/out" "$T/err" | head -c 300)"
printf 'weightbridge 1\nrenam "*" -> "x.*"\n' | $WBR plan - "$S" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q '^<stdin>:2:1: error' "$T/err"; then pass convert/stdin-rules-errors-located; else fail convert/stdin-rules-errors-located "exit $rc: $(head -c 300 "$T/err")"; fi
