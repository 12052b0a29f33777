# metadata.sh — the metadata of an output as a user sees it: a safetensors file written from a .pt
# carries "format": "pt" (what transformers' from_pretrained checks: pt, tf, flax or mlx), a
# target manifest's metadata is kept, --metadata KEY=VALUE sets more (and wins), weightbridge.*
# keys are the tool's own; the precedence is source < target < --metadata.
. "$(dirname "$0")/../lib.sh"
needs_py meta/torch torch || exit 0
"$PY" -c "
import torch, json
torch.save({'w': torch.arange(6, dtype=torch.float32).reshape(2, 3)}, '$T/src.pt')
json.dump({'metadata': {'license': 'apache-2.0', 'arch': 'tiny'}, 'tensors': {'w': {'shape': [2, 3], 'dtype': 'F32'}}}, open('$T/target.json', 'w'))
" || fail meta/setup "could not write the inputs"
printf 'weightbridge 1\n' > "$T/r.wbr"
# meta FILE: the __metadata__ of a safetensors file as KEY=VALUE lines, sorted
meta() { "$PY" -c "
import json, struct, sys
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
m = json.loads(raw[8:8 + n]).get('__metadata__', {})
for k in sorted(m): print(k + '=' + m[k])
" "$1"; }
ok meta/apply-from-pt "$WBR" apply "$T/r.wbr" "$T/src.pt" -o "$T/a.safetensors"
meta "$T/a.safetensors" >"$T/a.meta"
grep -qx "format=pt" "$T/a.meta" && pass meta/format-pt || fail meta/format-pt "$(tr '\n' ' ' <"$T/a.meta")"
# transformers' check (modeling_utils): metadata present needs format in pt, tf, flax, mlx
"$PY" -c "
import sys; m = dict(l.rstrip('\n').split('=', 1) for l in open(sys.argv[1]))
assert m.get('format') in ('pt', 'tf', 'flax', 'mlx'), m
" "$T/a.meta" && pass meta/transformers-accepts || fail meta/transformers-accepts "no known format"
ok meta/apply-target-and-flags "$WBR" apply "$T/r.wbr" "$T/src.pt" -t "$T/target.json" -o "$T/b.safetensors" \
  --metadata license=mit --metadata note=a=b
meta "$T/b.safetensors" >"$T/b.meta"
grep -qx "license=mit" "$T/b.meta" && grep -qx "arch=tiny" "$T/b.meta" && grep -qx "note=a=b" "$T/b.meta" \
  && grep -qx "format=pt" "$T/b.meta" && grep -q "^weightbridge.rules_hash=" "$T/b.meta" \
  && pass meta/target-kept-flag-wins || fail meta/target-kept-flag-wins "$(tr '\n' ' ' <"$T/b.meta")"
ok meta/format-overridable "$WBR" apply "$T/r.wbr" "$T/src.pt" -o "$T/c.safetensors" --metadata format=flax
meta "$T/c.safetensors" | grep -qx "format=flax" && pass meta/format-flag-wins || fail meta/format-flag-wins "$(meta "$T/c.safetensors" | tr '\n' ' ')"
# a source that has a format keeps it (a safetensors written by transformers says "pt" itself)
ok meta/reapply "$WBR" apply "$T/r.wbr" "$T/c.safetensors" -o "$T/d.safetensors"
meta "$T/d.safetensors" | grep -qx "format=flax" && pass meta/source-format-kept || fail meta/source-format-kept "$(meta "$T/d.safetensors" | tr '\n' ' ')"
rejects meta/own-key 2 "weightbridge.* keys record the conversion" "$WBR" apply "$T/r.wbr" "$T/src.pt" -o "$T/e.safetensors" --metadata weightbridge.version=9
[ -e "$T/e.safetensors" ] && fail meta/own-key-writes-nothing "an output was written" || pass meta/own-key-writes-nothing
rejects meta/not-key-value 2 "--metadata wants KEY=VALUE" "$WBR" apply "$T/r.wbr" "$T/src.pt" -o "$T/e.safetensors" --metadata license
rejects meta/empty-key 2 "--metadata wants KEY=VALUE" "$WBR" apply "$T/r.wbr" "$T/src.pt" -o "$T/e.safetensors" --metadata =x
rejects meta/only-for-apply 2 "unknown option '--metadata'" "$WBR" plan "$T/r.wbr" "$T/src.pt" --metadata a=b
