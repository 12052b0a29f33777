# formats.sh — --from FORMAT (SRC, inspect's FILE), --target-format FORMAT (TARGET) and --to
# FORMAT (OUT) override the extension in inspect, plan, check, apply, match and convert; names as
# users type them (any case, extensions, aliases); a bad name is a usage error (exit 2) with the
# list and a "did you mean"; an unknown extension's error names the options. Values are compared
# with NumPy reading the files back.
. "$(dirname "$0")/../lib.sh"
needs_py cli/formats numpy || exit 0

$PY - "$T" <<'PYEOF'
import json, sys
import numpy as np
sys.path.insert(0, "tests/apply")
import st
d = sys.argv[1]
a = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
b = np.arange(5, dtype=np.int64) - 2
st.write(d + "/weights.data", [st.from_array("enc.weight", a), st.from_array("enc.bias", b)])
np.savez(d + "/ref.npz", a=a, b=b)
json.dump({"tensors": {"x.enc.weight": {"shape": [3, 4], "dtype": "F32"}, "x.enc.bias": {"shape": [5], "dtype": "I64"}}},
          open(d + "/target.spec", "w"))
PYEOF
printf 'weightbridge 1\nrename "*" -> "x.*"\n' >"$T/r.wbr"
W="$T/weights.data"

# compare ID FILE.npz : the arrays a, b of ref.npz under the names NumPy finds in FILE
compare() {
  $PY - "$T/ref.npz" "$2" "$3" <<'PYEOF' && pass "$1" || fail "$1" "values differ"
import sys, numpy as np
ref, got, prefix = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3]
ok = list(got.keys()) == [prefix + "enc.weight", prefix + "enc.bias"]
ok = ok and got[prefix + "enc.weight"].tobytes() == ref["a"].tobytes() and got[prefix + "enc.bias"].tobytes() == ref["b"].tobytes()
sys.exit(0 if ok else 1)
PYEOF
}

# Without the option: the unknown extension's error says how to give the format.
rejects formats/unknown-ext 1 "unknown file type (by extension)" "$WBR" inspect "$W"
rejects formats/unknown-ext-names-from 1 "--from FORMAT" "$WBR" inspect "$W"
rejects formats/unknown-out-ext-names-to 2 "or give its format (wbr: --to FORMAT)" "$WBR" convert "$W" --from safetensors -o "$T/out.weird"
[ ! -e "$T/out.weird" ] && pass formats/unknown-out-nothing-written || fail formats/unknown-out-nothing-written "out.weird exists"

# inspect --from, every spelling of a name
for f in safetensors SafeTensors .safetensors; do
  ok "formats/inspect-from-$f" "$WBR" inspect "$W" --from "$f"
done
"$WBR" inspect --json --from safetensors "$W" >"$T/m.json" 2>"$T/err" && grep -q '"enc.bias": {"shape": \[5\], "dtype": "I64"}' "$T/m.json" \
  && pass formats/inspect-json-from || fail formats/inspect-json-from "$(cat "$T/err" "$T/m.json" | head -c 300)"

# convert: --from for SRC, --to for OUT (an .npz named .out), read back by NumPy
ok formats/convert-from-to "$WBR" convert "$W" --from safetensors -o "$T/out.arrays" --to npz
compare formats/convert-from-to-values "$T/out.arrays" ""
ok formats/convert-to-pytorch "$WBR" convert "$W" --from safetensors -o "$T/out.w" --to torch
ok formats/inspect-pytorch-from-pt "$WBR" inspect "$T/out.w" --from pt
grep -q "pytorch, 2 tensors" "$T/.out" && pass formats/inspect-pytorch-format || fail formats/inspect-pytorch-format "$(head -c 200 "$T/.out")"
# --to wins over the extension: a .safetensors name written as npz
ok formats/to-over-extension "$WBR" convert "$W" --from safetensors -o "$T/really-npz.safetensors" --to npz
compare formats/to-over-extension-values "$T/really-npz.safetensors" ""

# apply, plan, check with --from and --target-format (a manifest named .spec)
ok formats/apply-from-to "$WBR" apply "$T/r.wbr" "$W" --from safetensors -t "$T/target.spec" --target-format json -o "$T/a.npzfile" --to npz
compare formats/apply-from-to-values "$T/a.npzfile" "x."
ok formats/plan-from "$WBR" plan "$T/r.wbr" "$W" --from safetensors
ok formats/check-from-target "$WBR" check "$T/r.wbr" "$W" --from safetensors -t "$T/target.spec" --target-format manifest
rejects formats/check-target-needs-format 1 "unknown file type (by extension)" "$WBR" check "$T/r.wbr" "$W" --from safetensors -t "$T/target.spec"
# match drafts from both, each read by its own option
"$WBR" match "$W" "$T/target.spec" --from safetensors --target-format json -o "$T/d.wbr" >"$T/.out" 2>"$T/.err"
[ $? -eq 0 ] && grep -q 'rename' "$T/d.wbr" && pass formats/match-from-target || fail formats/match-from-target "$(head -c 300 "$T/.err")"
# a format given for a file that is not of it: the format's own error
rejects formats/wrong-format 1 "not a PyTorch checkpoint" "$WBR" inspect "$W" --from pytorch

# bad names: exit 2, the list, a suggestion; nothing written
rejects formats/bad-name 2 "unknown file format 'safetensor'" "$WBR" convert "$W" --from safetensor -o "$T/bad.safetensors"
rejects formats/bad-name-list 2 "the formats are: safetensors (.safetensors), manifest (.json), pytorch (.pt .pth .bin)" \
  "$WBR" convert "$W" --from safetensor -o "$T/bad.safetensors"
rejects formats/bad-name-suggests 2 "did you mean 'safetensors'?" "$WBR" inspect "$W" --from safetensor
rejects formats/bad-to-name 2 "--to: 'tflite' is not a format name" "$WBR" convert "$W" --from safetensors -o "$T/bad.safetensors" --to tflite
rejects formats/bad-target-name 2 "--target-format: 'jsn' is not a format name" "$WBR" check "$T/r.wbr" "$W" -t "$T/target.spec" --target-format jsn
[ ! -e "$T/bad.safetensors" ] && pass formats/bad-name-nothing-written || fail formats/bad-name-nothing-written "bad.safetensors exists"
rejects formats/needs-value 2 "--from needs a format name" "$WBR" inspect "$W" --from
rejects formats/twice 2 "--from given twice" "$WBR" inspect "$W" --from safetensors --from npz
rejects formats/to-not-on-plan 2 "unknown option '--to'" "$WBR" plan "$T/r.wbr" "$W" --from safetensors --to npz
rejects formats/to-read-only 2 "reads lightning files but does not write them" "$WBR" convert "$W" --from safetensors -o "$T/o.x" --to ckpt
[ ! -e "$T/o.x" ] && pass formats/to-read-only-nothing-written || fail formats/to-read-only-nothing-written "o.x exists"
# the help of every command that opens files names the options
for c in inspect plan check apply match convert; do
  "$WBR" help $c | grep -q -- "--from FORMAT" && pass "formats/help-$c" || fail "formats/help-$c" "no --from in wbr help $c"
done
