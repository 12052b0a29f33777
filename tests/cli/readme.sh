# readme.sh — the README's recipes work as printed: its PyTorch manifest snippet, run on a model
# with BatchNorm, gives a manifest wbr reads with the real dtypes (I64 num_batches_tracked).
. "$(dirname "$0")/../lib.sh"
needs_py readme/manifest-recipe torch || exit 0
$PY - "$TOP/README.md" "$T/readme.json" <<'PY' && pass readme/manifest-recipe-runs || fail readme/manifest-recipe-runs "the README's snippet failed"
import json, re, sys, torch
text = open(sys.argv[1]).read()
block = re.search(r"From PyTorch.*?```python\n(.*?)```", text, re.S).group(1)
model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Embedding(4, 2).half())
exec(block.replace('"mine.json"', repr(sys.argv[2])), {"torch": torch, "json": json, "model": model})
PY
ok readme/manifest-reads "$WBR" inspect "$T/readme.json"
grep -Eq '^1\.num_batches_tracked +I64 +\[\] +8$' "$T/.out" && pass readme/manifest-real-dtypes \
  || fail readme/manifest-real-dtypes "num_batches_tracked is not I64: $(grep num_batches "$T/.out")"
grep -Eq '^2\.weight +F16 ' "$T/.out" && pass readme/manifest-f16 || fail readme/manifest-f16 "$(grep '^2\.' "$T/.out")"
ok readme/example-script $PY examples/manifest_from_torch.py "$T/ex.json"
ok readme/example-reads "$WBR" inspect "$T/ex.json"
grep -q 'I64' "$T/.out" && pass readme/example-real-dtypes || fail readme/example-real-dtypes "no I64 in the example's manifest"
