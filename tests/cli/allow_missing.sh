# allow_missing.sh — `--allow-missing PATTERN` as a user runs it: a classifier head of another
# class count is left to the model's own initialisation; plan/check list it as "missing
# (allowed)", apply -t writes everything else, and torch loads the result with strict=False,
# the rest bit-exact. A pattern that matches no target warns; a bad pattern is a usage error.
. "$(dirname "$0")/../lib.sh"
needs_py allow/torch torch || exit 0
cd "$T" || exit 1
cat > net.py <<'PY'
import torch
class Net(torch.nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.body = torch.nn.Linear(16, 32)
        self.norm = torch.nn.LayerNorm(32)
        self.head = torch.nn.Linear(32, classes)
PY
"$PY" - <<'PY' || fail allow/setup "could not write the models"
import json, torch
from net import Net
torch.manual_seed(0)
torch.save(Net(1000).state_dict(), "src.pt")
tgt = Net(10).state_dict()
json.dump({"tensors": {k: {"shape": list(v.shape), "dtype": "F32"} for k, v in tgt.items()}}, open("target.json", "w"))
PY
printf 'weightbridge 1\ndrop "head.*"\n' > rules.wbr
cd "$TOP" || exit 1
rejects allow/without-flag-refused 1 "or --allow-missing it" "$WBR" check "$T/rules.wbr" "$T/src.pt" -t "$T/target.json"
ok allow/check "$WBR" check "$T/rules.wbr" "$T/src.pt" -t "$T/target.json" --allow-missing 'head.*'
"$WBR" plan "$T/rules.wbr" "$T/src.pt" -t "$T/target.json" --allow-missing 'head.*' >"$T/plan.txt" 2>"$T/plan.err"
grep -q "^missing (allowed): head.weight \[10, 32\] F32" "$T/plan.txt" && grep -q "4 tensors, 2 dropped, 2 missing (allowed), 0 problems" "$T/plan.txt" \
  && pass allow/plan-text || fail allow/plan-text "$(tail -n 4 "$T/plan.txt" | tr '\n' '|')"
"$WBR" plan "$T/rules.wbr" "$T/src.pt" -t "$T/target.json" --allow-missing 'head.*' --format md >"$T/plan.md"
grep -q "2 missing (allowed), 0 problems" "$T/plan.md" && grep -q '^- `head.bias` \[10\] F32' "$T/plan.md" \
  && pass allow/plan-md || fail allow/plan-md "$(tail -n 4 "$T/plan.md" | tr '\n' '|')"
"$WBR" plan "$T/rules.wbr" "$T/src.pt" -t "$T/target.json" --allow-missing 'head.*' --format json >"$T/plan.json"
"$PY" -c "
import json, sys
p = json.load(open(sys.argv[1]))
m = p['missing_allowed']
assert p['problems'] == 0 and [x['name'] for x in m] == ['head.weight', 'head.bias'], m
assert m[0]['shape'] == [10, 32] and m[0]['dtype'] == 'F32', m
" "$T/plan.json" && pass allow/plan-json || fail allow/plan-json "$(head -c 300 "$T/plan.json")"
ok allow/apply "$WBR" apply "$T/rules.wbr" "$T/src.pt" -t "$T/target.json" --allow-missing 'head.*' -o "$T/out.safetensors"
"$PY" - "$T" <<'PY' && pass allow/loads-strict-false || fail allow/loads-strict-false "see above"
import sys, json, struct, torch, numpy as np
d = sys.argv[1]
raw = open(d + "/out.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
out = {k: torch.from_numpy(np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], dtype=np.float32).reshape(v["shape"]).copy())
       for k, v in hdr.items() if k != "__metadata__"}
src = torch.load(d + "/src.pt")
sys.path.insert(0, d)
from net import Net
m = Net(10)
res = m.load_state_dict(out, strict=False)
assert sorted(res.missing_keys) == ["head.bias", "head.weight"] and not res.unexpected_keys, res
for k in out:
    assert torch.equal(m.state_dict()[k], src[k]), k
PY
"$WBR" check "$T/rules.wbr" "$T/src.pt" -t "$T/target.json" --allow-missing 'head.*' --allow-missing 'haed.*' >"$T/w.out" 2>"$T/w.err"
rc=$?
[ $rc -eq 0 ] && grep -q "warning: --allow-missing pattern 'haed.\*' matches no target tensor" "$T/w.err" && grep -q "did you mean 'head.\*'" "$T/w.err" \
  && pass allow/unused-pattern-warns || fail allow/unused-pattern-warns "exit $rc: $(head -c 300 "$T/w.err")"
# a produced target that matches a pattern is just produced, and not listed
"$WBR" plan "$T/rules.wbr" "$T/src.pt" -t "$T/target.json" --allow-missing '*' >"$T/all.txt" 2>"$T/all.err"
rc=$?
[ $rc -eq 0 ] && grep -q "4 tensors, 2 dropped, 2 missing (allowed), 0 problems" "$T/all.txt" && ! grep -q "missing (allowed): body" "$T/all.txt" \
  && pass allow/produced-is-produced || fail allow/produced-is-produced "exit $rc: $(tail -n 3 "$T/all.txt" | tr '\n' '|')"
rejects allow/bad-pattern 2 "--allow-missing pattern 'head.{'" "$WBR" check "$T/rules.wbr" "$T/src.pt" -t "$T/target.json" --allow-missing 'head.{'
rejects allow/needs-value 2 "--allow-missing needs a value" "$WBR" check "$T/rules.wbr" "$T/src.pt" -t "$T/target.json" --allow-missing
rejects allow/no-target-warns 0 "--allow-missing has no effect without a target" "$WBR" plan "$T/rules.wbr" "$T/src.pt" --allow-missing 'head.*'
