#!/bin/sh
# demo.sh BUILD — the README's first command: the whole workflow on a small bundled example.
set -e
BUILD=${1:-build}
WBR="$BUILD/wbr"
D="$BUILD/demo"
mkdir -p "$D"
/usr/bin/python3 examples/make_example.py "$D"
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "1. A checkpoint from another implementation (Hugging Face GPT-2 naming, 2 layers):"
run "$WBR" inspect "$D/gpt2_tiny.safetensors" | head -n 8
echo "  ..."

say "2. The model we want to load it into (nanoGPT), as a manifest of names, shapes, dtypes:"
head -n 6 "$D/nanogpt_tiny.json"
echo "  ... (make one from any checkpoint with: wbr inspect FILE --json > target.json)"

say "3. The rules: short, reviewed, committed (examples/gpt2_to_nanogpt.wbr):"
cat examples/gpt2_to_nanogpt.wbr

say "4. The plan: every target tensor, where it comes from, what happens to it. No data is read."
run "$WBR" plan examples/gpt2_to_nanogpt.wbr "$D/gpt2_tiny.safetensors" -t "$D/nanogpt_tiny.json" | head -n 8
echo "  ..."

say "5. check proves the rules map the checkpoint onto the target exactly (use it in CI):"
run "$WBR" check examples/gpt2_to_nanogpt.wbr "$D/gpt2_tiny.safetensors" -t "$D/nanogpt_tiny.json"

say "6. apply converts, streaming tensor by tensor, written atomically:"
run "$WBR" apply examples/gpt2_to_nanogpt.wbr "$D/gpt2_tiny.safetensors" -t "$D/nanogpt_tiny.json" -o "$D/nanogpt_tiny.safetensors"
run "$WBR" inspect "$D/nanogpt_tiny.safetensors" | grep -E "(safetensors, |^name|h\.0\.attn\.c_attn)"

say "7. A mistake is caught before anything is written (here: one transpose forgotten):"
grep -v 'mlp.c_fc' examples/gpt2_to_nanogpt.wbr > "$D/forgot.wbr"
run "$WBR" check "$D/forgot.wbr" "$D/gpt2_tiny.safetensors" -t "$D/nanogpt_tiny.json" 2>&1 | head -n 4 || true

say "Done. See README.md for the language, the commands and what comes next."
