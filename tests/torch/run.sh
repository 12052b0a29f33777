#!/bin/sh
# tests/torch/run.sh — PyTorch checkpoints against the real torch (Debian's python3-torch):
# files torch.save wrote are read by wbr (names, shapes, dtypes, exact bytes, #KEY selection);
# files wbr writes are read back by torch.load(weights_only=True); .pt -> .pt round trips; a
# ResNet-18 state dict mapped by rules into a differently named re-implementation gives the same
# outputs; hostile and malformed files (bad_cases.py) are refused with one clear error each;
# sharded .bin checkpoints, Lightning .ckpt files and --from/--to (hub.py).
. "$(dirname "$0")/../lib.sh"
D=$T/g
CHK="$PY $TOP/tests/torch/check.py"

needs_py torch/python-torch torch || exit 0
if ! "$PY" "$TOP/tests/torch/gen.py" "$D" >"$T/gen.out" 2>&1; then
  fail torch/gen "gen.py failed: $(tail -c 400 "$T/gen.out")"
  exit 1
fi
printf 'weightbridge 1\n' >"$T/id.wbr"
printf 'weightbridge 1\nrename "*" -> "x.*"\n' >"$T/prefix.wbr"

# Reading what torch.save wrote.
for f in dtypes proto4 resnet; do
  if "$WBR" inspect --json "$D/$f.pt" >"$D/$f.json" 2>"$T/err"; then
    $CHK inspect "inspect-$f" "$D/$f.pt" "$D/$f.json"
  else
    fail "torch/inspect-$f" "$(head -c 300 "$T/err")"
  fi
  ok "torch/apply-$f-to-st" "$WBR" apply "$T/id.wbr" "$D/$f.pt" -o "$D/$f.safetensors"
  $CHK st "bytes-$f" "$D/$f.pt" "$D/$f.safetensors"
done

# FILE.pt#KEY
"$WBR" inspect --json "$D/nested.pt#model" >"$D/nested-model.json" 2>"$T/err" || fail torch/inspect-key "$(cat "$T/err")"
$CHK inspect inspect-key-model "$D/nested.pt" "$D/nested-model.json" model
"$WBR" inspect --json "$D/nested.pt#optimizer" >"$D/nested-opt.json" 2>"$T/err" || fail torch/inspect-key-opt "$(cat "$T/err")"
$CHK inspect inspect-key-optimizer "$D/nested.pt" "$D/nested-opt.json" optimizer
ok torch/apply-key "$WBR" apply "$T/id.wbr" "$D/nested.pt#model" -o "$D/nested-model.safetensors"
$CHK st bytes-key-model "$D/nested.pt" "$D/nested-model.safetensors" model
rejects torch/nested-needs-key 1 "this checkpoint nests its tensors in sub-dicts (model, optimizer); select one with '#KEY'" "$WBR" inspect "$D/nested.pt"
rejects torch/nested-help 1 "help: pick one with FILE.pt#model (keys: model, optimizer)" "$WBR" inspect "$D/nested.pt"
rejects torch/key-missing 1 "no entry 'modle' in the checkpoint" "$WBR" inspect "$D/nested.pt#modle"
rejects torch/key-missing-help 1 "top-level keys are: model, optimizer, epoch" "$WBR" inspect "$D/nested.pt#modle"
rejects torch/key-not-dict 1 "entry 'epoch' is an int, not a dict of tensors" "$WBR" inspect "$D/nested.pt#epoch"
rejects torch/key-on-safetensors 1 "has no entries to select ('#model')" "$WBR" inspect "$D/dtypes.safetensors#model"
rejects torch/single-tensor 1 "the checkpoint holds a tensor, not a dict of tensors" "$WBR" inspect "$D/single.pt"
rejects torch/legacy 1 "legacy torch.save format (PyTorch < 1.6, not a zip archive)" "$WBR" inspect "$D/legacy.pt"
rejects torch/torchscript 1 "a TorchScript archive (torch.jit.save)" "$WBR" inspect "$D/script.pt"

# Writing: torch.load(weights_only=True) must read our files back exactly.
for f in dtypes resnet; do
  ok "torch/write-$f" "$WBR" apply "$T/id.wbr" "$D/$f.safetensors" -o "$D/w-$f.pt"
  $CHK pt "load-$f" "$D/$f.safetensors" "$D/w-$f.pt"
  # .pt -> .pt, renaming on the way; a .pth and a .bin name work the same.
  ok "torch/pt-to-pt-$f" "$WBR" apply "$T/prefix.wbr" "$D/$f.pt" -o "$D/r-$f.pth"
  $CHK pt "pt-to-pt-$f" "$D/$f.safetensors" "$D/r-$f.pth" x.
done
ok torch/write-bin "$WBR" apply "$T/id.wbr" "$D/resnet.pt" -o "$D/pytorch_model.bin"
$CHK pt load-bin "$D/resnet.safetensors" "$D/pytorch_model.bin"
# Our own output reads back to the same bytes through wbr too.
ok torch/reread "$WBR" apply "$T/id.wbr" "$D/w-dtypes.pt" -o "$D/w-dtypes.safetensors"
"$PY" - "$D/dtypes.safetensors" "$D/w-dtypes.safetensors" <<'PYEOF' && pass torch/reread-same || fail torch/reread-same "tensor data differs"
import sys, struct
def body(p):
    d = open(p, "rb").read(); n = struct.unpack("<Q", d[:8])[0]; return d[8 + n:]
sys.exit(0 if body(sys.argv[1]) == body(sys.argv[2]) else 1)
PYEOF
# An empty state dict.
printf '{"tensors": {}}' >"$T/empty.json"
"$PY" -c "import torch; torch.save({}, '$D/empty.pt')"
ok torch/empty-read "$WBR" inspect "$D/empty.pt"
ok torch/empty-write "$WBR" apply "$T/id.wbr" "$D/empty.pt" -o "$D/w-empty.pt"
"$PY" -c "import torch,sys; sys.exit(0 if torch.load('$D/w-empty.pt', weights_only=True) == {} else 1)" \
  && pass torch/empty-load || fail torch/empty-load "torch.load of an empty state dict failed"

# End to end: torchvision-named ResNet-18 -> rules -> a re-implementation, strict load.
ok torch/e2e-apply-st "$WBR" apply "$TOP/tests/torch/resnet_mine.wbr" "$D/resnet.pt" -o "$D/mine.safetensors"
$CHK e2e e2e-safetensors "$D/mine.safetensors"
ok torch/e2e-apply-pt "$WBR" apply "$TOP/tests/torch/resnet_mine.wbr" "$D/resnet.pt" -o "$D/mine.pt"
$CHK e2e e2e-pt "$D/mine.pt"
"$WBR" apply "$TOP/tests/torch/resnet_mine.wbr" "$D/nested.pt#model" -o "$D/mine-nested.pt" >/dev/null 2>"$T/err" \
  || fail torch/e2e-key "$(head -c 300 "$T/err")"
ok torch/e2e-check "$WBR" check "$TOP/tests/torch/resnet_mine.wbr" "$D/resnet.pt" -t "$D/mine.pt"

# What hubs hand out: a sharded .bin (NAME.bin.index.json), a Lightning .ckpt, --from/--to.
"$PY" "$TOP/tests/torch/hub.py" "$T/hub" || fail torch/hub-script "hub.py exited $?"

# Hostile and malformed checkpoints: one clear error each, no crash, nothing on stdout.
if ! "$PY" "$TOP/tests/torch/bad_cases.py" "$T/bad" >"$T/index.tsv" 2>"$T/gen.err"; then
  fail torch/bad-generator "bad_cases.py failed: $(head -c 400 "$T/gen.err")"
  exit 1
fi
tab=$(printf '\t')
while IFS="$tab" read -r id file want cmd; do
  if [ "$cmd" = apply-ok ]; then
    rm -f "$T/ok-out.safetensors"
    if ! "$WBR" apply "$T/id.wbr" "$file" -o "$T/ok-out.safetensors" >"$T/out" 2>"$T/err"; then
      fail "torch/bad-$id" "apply failed: $(head -c 300 "$T/err")"; continue
    fi
    got=$("$PY" -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); print(d[8+struct.unpack("<Q",d[:8])[0]:].hex())' "$T/ok-out.safetensors")
    if [ "$got" = "$want" ]; then pass "torch/bad-$id"; else fail "torch/bad-$id" "bytes $got, wanted $want"; fi
    continue
  fi
  if [ "$cmd" = apply ]; then
    # Read instantly (views are not gathered), refused when apply would gather them.
    if ! "$WBR" inspect "$file" >"$T/out" 2>"$T/err"; then fail "torch/bad-$id-inspect" "$(head -c 300 "$T/err")"; continue; fi
    pass "torch/bad-$id-inspect"
    "$WBR" apply "$T/id.wbr" "$file" -o "$T/bad-out.safetensors" >"$T/out" 2>"$T/err"
    rc=$?
    if [ -e "$T/bad-out.safetensors" ]; then fail "torch/bad-$id" "apply wrote its output"; continue; fi
  else
    "$WBR" inspect "$file" >"$T/out" 2>"$T/err"
    rc=$?
  fi
  nerr=$(grep -c ': error: ' "$T/err")
  if [ "$rc" -ge 128 ]; then fail "torch/bad-$id" "crashed (exit $rc): $(head -c 400 "$T/err")"
  elif grep -qE 'Sanitizer|runtime error:' "$T/err"; then fail "torch/bad-$id" "sanitizer: $(head -c 600 "$T/err")"
  elif [ "$rc" -ne 1 ]; then fail "torch/bad-$id" "exit $rc, wanted 1 — $(head -c 400 "$T/err")"
  elif ! grep -qF -- "$want" "$T/err"; then fail "torch/bad-$id" "stderr lacks '$want': $(head -c 400 "$T/err")"
  elif [ "$nerr" -ne 1 ]; then fail "torch/bad-$id" "$nerr errors, wanted one: $(head -c 400 "$T/err")"
  elif ! grep -q '^  help: ' "$T/err"; then fail "torch/bad-$id" "no help line: $(head -c 400 "$T/err")"
  elif [ -s "$T/out" ]; then fail "torch/bad-$id" "printed to stdout"
  else pass "torch/bad-$id"; fi
done <"$T/index.tsv"
