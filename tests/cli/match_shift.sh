# match_shift.sh — `wbr match` drafts a numbered family renumbered by one constant (0-based ->
# 1-based and back) as one rule with index arithmetic, not one rename per block, and the draft
# applied with real data gives every target its source's bytes.
. "$(dirname "$0")/../lib.sh"
needs_py shift/setup numpy || exit 0
cat >"$T/mk.py" <<'PY'
import json, struct, sys
import numpy as np
def write(path, tensors):
    hdr, blobs, off = {}, [], 0
    for name, a in tensors:
        hdr[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes()); off += a.nbytes
    h = json.dumps(hdr).encode(); h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
def renamed(n, k, a, b):
    p = n.split(".")
    return "%s.%d.%s" % (b, int(p[1]) + k, ".".join(p[2:])) if p[0] == a else n
if sys.argv[1] == "make":  # make SRC TARGET_JSON FROM TO K
    a, b, k = sys.argv[4], sys.argv[5], int(sys.argv[6])
    rng = np.random.default_rng(7)
    first = 0 if k > 0 else 1
    src = [("embed.weight", rng.standard_normal((16, 4), dtype=np.float32))]
    for i in range(first, first + 12):
        src += [("%s.%d.attn.weight" % (a, i), rng.standard_normal((4, 4), dtype=np.float32)),
                ("%s.%d.mlp.weight" % (a, i), rng.standard_normal((8, 4), dtype=np.float32)),
                ("%s.%d.norm.weight" % (a, i), rng.standard_normal((4,), dtype=np.float32))]
    write(sys.argv[2], src)
    json.dump({"tensors": {renamed(n, k, a, b): {"dtype": "F32", "shape": list(v.shape)} for n, v in src}},
              open(sys.argv[3], "w"))
else:  # check SRC OUT FROM TO K: OUT holds exactly the renamed sources, bytes unchanged
    a, b, k = sys.argv[4], sys.argv[5], int(sys.argv[6])
    src, out = read(sys.argv[2]), read(sys.argv[3])
    want = {renamed(n, k, a, b): v for n, v in src.items()}
    if want != out:
        sys.exit("wrong: %s" % sorted(set(want) ^ set(out)) or "bytes differ")
PY
for dir in up down; do
  if [ $dir = up ]; then set -- layers blocks 1; rule='rename "layers.{i}.*" -> "blocks.{i+1}.*"'
  else set -- blocks layers -1; rule='rename "blocks.{i}.*" -> "layers.{i-1}.*"'; fi
  "$PY" "$T/mk.py" make "$T/$dir.safetensors" "$T/$dir.json" "$@"
  ok shift/$dir-match "$WBR" match "$T/$dir.safetensors" "$T/$dir.json" -o "$T/$dir.wbr"
  n=$(grep -c '^rename' "$T/$dir.wbr")
  if [ "$n" -eq 1 ] && grep -qxF "$rule" "$T/$dir.wbr"; then pass shift/$dir-one-rule
  else fail shift/$dir-one-rule "$n renames, wanted: $rule — $(grep '^rename' "$T/$dir.wbr" | head -3 | tr '\n' '|')"; fi
  ok shift/$dir-apply "$WBR" apply "$T/$dir.wbr" "$T/$dir.safetensors" -t "$T/$dir.json" -o "$T/$dir.out.safetensors"
  ok shift/$dir-bytes "$PY" "$T/mk.py" check "$T/$dir.safetensors" "$T/$dir.out.safetensors" "$@"
done
