#!/bin/sh
# torch_bench.sh BUILD [MIB] — issue 6's benchmark: reading a ~1 GiB torch.save checkpoint with
# weightbridge vs torch.load of the same file, in one run. Makes the file with the real torch
# (python3-torch), then times, best of 3 each, with the page cache warm for everyone:
#   torch.load(weights_only=True) + touching every tensor's bytes (a sum per tensor)
#   wbr inspect FILE.pt                     (zip + pickle: what plan/check/match read)
#   wbr apply (identity) FILE.pt -> .safetensors   (every byte read and written)
#   wbr apply (identity) FILE.pt -> .pt            (our writer, CRC-32 included)
# and prints the ratios. Figures, not assertions: exits non-zero only when a step fails.
set -u
BUILD=${1:-build}
SIZE_MIB=${2:-1024}
cd "$(dirname "$0")/.." || exit 1
WBR=$BUILD/wbr
PY=/usr/bin/python3
S=$BUILD/bench/torch
[ -x "$WBR" ] || { echo "torch_bench: $WBR is missing: run make BUILD=$BUILD first"; exit 1; }
rm -rf "$S"
mkdir -p "$S"
trap 'rm -rf "$S"' EXIT

# A transformer-like state dict: 24 blocks of attention and MLP weights in F32 + BF16 + norms.
"$PY" - "$S/model.pt" "$SIZE_MIB" <<'EOF' || { echo "FAILED: making the checkpoint"; exit 1; }
import collections, sys, torch
path, mib = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
d = 1024
per_block = (4 * d * d + 8 * d * d) * 4          # bytes per block, F32
blocks = max(1, mib * 2**20 // per_block)
sd = collections.OrderedDict()
for i in range(blocks):
    p = f"blocks.{i}."
    sd[p + "ln1.weight"] = torch.ones(d)
    sd[p + "attn.qkv.weight"] = torch.randn(3 * d, d)
    sd[p + "attn.proj.weight"] = torch.randn(d, d)
    sd[p + "ln2.weight"] = torch.ones(d)
    sd[p + "mlp.fc1.weight"] = torch.randn(4 * d, d)
    sd[p + "mlp.fc2.weight"] = torch.randn(d, 4 * d)
    sd[p + "mlp.fc2.bias"] = torch.zeros(d, dtype=torch.bfloat16)
torch.save(sd, path)
EOF
printf 'weightbridge 1\n' >"$S/id.wbr"
size=$(stat -c %s "$S/model.pt")
echo "checkpoint: $(awk -v b="$size" 'BEGIN{printf "%.0f MiB", b/1048576}'), $("$WBR" inspect "$S/model.pt" | head -n 1 | cut -d, -f2)"

# best SECONDS of 3 runs of CMD...
best3() {
  b=
  for _ in 1 2 3; do
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>"$S/err" || { echo "FAILED: $* — $(head -c 300 "$S/err")"; exit 1; }
    t1=$(date +%s.%N)
    b=$(awk -v a="$t0" -v c="$t1" -v b="$b" 'BEGIN{t=c-a; if (b=="" || t<b) b=t; printf "%.3f", b}')
  done
  echo "$b"
}
cat "$S/model.pt" >/dev/null # warm the page cache for everyone

torch_load=$(best3 "$PY" -c "
import torch, sys
sd = torch.load('$S/model.pt', weights_only=True)
s = 0.0
for k, v in sd.items(): s += float(v.float().sum()) if v.numel() else 0.0
")
torch_import=$(best3 "$PY" -c "import torch")
inspect=$(best3 "$WBR" inspect "$S/model.pt")
to_st=$(best3 "$WBR" apply "$S/id.wbr" "$S/model.pt" -o "$S/out.safetensors")
to_pt=$(best3 "$WBR" apply "$S/id.wbr" "$S/model.pt" -o "$S/out.pt")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }
net=$(awk -v a="$torch_load" -v b="$torch_import" 'BEGIN{printf "%.3f", a - b}')
printf '%-46s %8s s\n' "torch.load + touch every tensor (incl. import)" "$torch_load"
printf '%-46s %8s s\n' "  of which 'import torch'" "$torch_import"
printf '%-46s %8s s   %s x torch.load (net of import: %s x)\n' "wbr inspect" "$inspect" \
  "$(ratio "$inspect" "$torch_load")" "$(ratio "$inspect" "$net")"
printf '%-46s %8s s   %s x torch.load (net of import: %s x)\n' "wbr apply .pt -> .safetensors" "$to_st" \
  "$(ratio "$to_st" "$torch_load")" "$(ratio "$to_st" "$net")"
printf '%-46s %8s s   %s x torch.load (net of import: %s x)\n' "wbr apply .pt -> .pt" "$to_pt" \
  "$(ratio "$to_pt" "$torch_load")" "$(ratio "$to_pt" "$net")"
