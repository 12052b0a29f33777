# index_arith.sh — index arithmetic in templates (docs/language.md 4.5) as a user runs it: one
# rule renumbers a 0-based family 1-based (glob {i+1}) and one brings it back (regex ${i-1}), with
# real data (every tensor's bytes compared with its source), through .wbr and through .wbc; a
# capture that is not a number, or a result below 0, is one error naming the tensor.
. "$(dirname "$0")/../lib.sh"
needs_py arith/setup numpy || exit 0
cat >"$T/st.py" <<'PY'
import json, struct, sys
import numpy as np
def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
def write(path, names):
    hdr, blobs, off = {}, [], 0
    for i, name in enumerate(names):
        a = (np.arange(6, dtype=np.float32) + 100 * i).reshape(2, 3)
        hdr[name] = {"dtype": "F32", "shape": [2, 3], "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes()); off += a.nbytes
    h = json.dumps(hdr).encode(); h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
if sys.argv[1] == "write":
    write(sys.argv[2], sys.argv[3:])
else:  # compare SRC OUT FROM=TO ... : OUT holds exactly the TOs, each with FROM's bytes
    src, out = read(sys.argv[2]), read(sys.argv[3])
    pairs = dict(a.split("=") for a in sys.argv[4:])
    bad = [t for f, t in pairs.items() if out.get(t) != src[f]]
    if bad or sorted(out) != sorted(pairs.values()):
        sys.exit("wrong: %s; have %s" % (bad, sorted(out)))
PY
names=""; up=""; down=""
for i in 0 1 2 9 10 11; do
  j=$((i + 1))
  for w in self_attn.q_proj.weight mlp.up_proj.weight; do
    names="$names model.layers.$i.$w"
    up="$up model.layers.$i.$w=blocks.$j.$w"
    down="$down blocks.$j.$w=model.layers.$i.$w"
  done
done
"$PY" "$T/st.py" write "$T/hf.safetensors" $names model.norm.weight
printf 'weightbridge 1\nrename "model.layers.{i}.*" -> "blocks.{i+1}.*"\n' >"$T/up.wbr"
printf 'weightbridge 1\nrename /^blocks\\.(?<i>\\d+)\\./ -> "model.layers.${i-1}."\n' >"$T/down.wbr"

ok arith/plan-0-to-1 "$WBR" plan "$T/up.wbr" "$T/hf.safetensors"
if grep -q '^blocks\.10\.mlp\.up_proj\.weight .* model\.layers\.9\.mlp\.up_proj\.weight ' "$T/.out" &&
   grep -q '^blocks\.1\.self_attn\.q_proj\.weight .* model\.layers\.0\.self_attn' "$T/.out"; then
  pass arith/plan-shows-the-shift
else fail arith/plan-shows-the-shift "$(head -c 600 "$T/.out")"; fi
ok arith/apply-0-to-1 "$WBR" apply "$T/up.wbr" "$T/hf.safetensors" -o "$T/one.safetensors"
ok arith/bytes-0-to-1 "$PY" "$T/st.py" compare "$T/hf.safetensors" "$T/one.safetensors" $up model.norm.weight=model.norm.weight
ok arith/apply-1-to-0 "$WBR" apply "$T/down.wbr" "$T/one.safetensors" -o "$T/zero.safetensors"
ok arith/bytes-1-to-0 "$PY" "$T/st.py" compare "$T/one.safetensors" "$T/zero.safetensors" $down model.norm.weight=model.norm.weight
ok arith/round-trip-bytes "$PY" "$T/st.py" compare "$T/hf.safetensors" "$T/zero.safetensors" \
  $(for n in $names model.norm.weight; do printf '%s=%s ' "$n" "$n"; done)

# The same program as bytecode: the verifier accepts it, the VM runs it.
ok arith/compile "$WBR" compile "$T/up.wbr" -o "$T/up.wbc"
ok arith/apply-wbc "$WBR" apply "$T/up.wbc" "$T/hf.safetensors" -o "$T/one_wbc.safetensors"
same arith/wbc-same-bytes "$T/one.safetensors" "$T/one_wbc.safetensors"

# Zero-padded indices keep their width.
"$PY" "$T/st.py" write "$T/pad.safetensors" h.007.w h.099.w
printf 'weightbridge 1\nrename "h.{i}.w" -> "h.{i+1}.w"\n' >"$T/pad.wbr"
ok arith/apply-padded "$WBR" apply "$T/pad.wbr" "$T/pad.safetensors" -o "$T/pad1.safetensors"
ok arith/padded-width-kept "$PY" "$T/st.py" compare "$T/pad.safetensors" "$T/pad1.safetensors" h.007.w=h.008.w h.099.w=h.100.w

# Run-time errors: one error, naming the tensor, the capture and its value; nothing written.
"$PY" "$T/st.py" write "$T/word.safetensors" model.layers.0.w model.layers.final.w
rejects arith/capture-not-a-number 1 "error: tensor 'model.layers.final.w': '{i+1}' needs a number, and capture 'i' is 'final'" \
  "$WBR" apply "$T/up.wbr" "$T/word.safetensors" -o "$T/word1.safetensors"
n=$(grep -c 'error: tensor' "$T/.err")
if [ "$n" -eq 1 ] && grep -q "the plan has 1 problem" "$T/.err" && [ ! -e "$T/word1.safetensors" ]; then pass arith/one-error-nothing-written
else fail arith/one-error-nothing-written "$n errors; output exists: $(ls "$T" | grep -c word1)"; fi
"$PY" "$T/st.py" write "$T/zb.safetensors" blocks.0.w blocks.1.w
rejects arith/result-negative 1 "error: tensor 'blocks.0.w': '\${i-1}' would be negative: capture 'i' is '0'" \
  "$WBR" plan "$T/down.wbr" "$T/zb.safetensors"
grep -q "down.wbr:2:1: error" "$T/.err" && pass arith/error-at-the-statement || fail arith/error-at-the-statement "$(head -c 300 "$T/.err")"
