#!/bin/sh
# demo.sh BUILD — the README's first command: the whole workflow on a small bundled example:
# inspect, match (draft the rules), review, plan, check, apply, and a mistake caught.
set -e
BUILD=${1:-build}
WBR="$BUILD/wbr"
D="$BUILD/demo"
mkdir -p "$D"
/usr/bin/python3 examples/make_example.py "$D"
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; }

say "1. A checkpoint from another implementation (Hugging Face GPT-2 naming, 2 layers):"
show wbr inspect gpt2_tiny.safetensors
"$WBR" inspect "$D/gpt2_tiny.safetensors" | head -n 7
echo "  ..."

say "2. The model we want to load it into (nanoGPT), as a manifest of names, shapes, dtypes:"
head -n 6 "$D/nanogpt_tiny.json"
echo "  ... (make one from any checkpoint with: wbr inspect FILE --json > target.json)"

say "3. wbr match drafts the rules: general statements, with the evidence, proven before writing."
show wbr match gpt2_tiny.safetensors nanogpt_tiny.json -o draft.wbr
"$WBR" match "$D/gpt2_tiny.safetensors" "$D/nanogpt_tiny.json" -o "$D/draft.wbr"
cat "$D/draft.wbr"
echo "(It saw that GPT-2's Conv1D weights are [in, out], even the square c_proj ones.)"

say "4. You review it and commit it. The plan shows every target tensor, where it comes from and
   what happens to it; no tensor data is read:"
show wbr plan draft.wbr gpt2_tiny.safetensors -t nanogpt_tiny.json
"$WBR" plan "$D/draft.wbr" "$D/gpt2_tiny.safetensors" -t "$D/nanogpt_tiny.json" | head -n 8
echo "  ..."

say "5. check proves the rules map the checkpoint onto the target exactly (use it in CI):"
show wbr check draft.wbr gpt2_tiny.safetensors -t nanogpt_tiny.json
"$WBR" check "$D/draft.wbr" "$D/gpt2_tiny.safetensors" -t "$D/nanogpt_tiny.json"

say "6. apply converts, tensor by tensor, and writes the output atomically:"
show wbr apply draft.wbr gpt2_tiny.safetensors -t nanogpt_tiny.json -o nanogpt_tiny.safetensors
"$WBR" apply "$D/draft.wbr" "$D/gpt2_tiny.safetensors" -t "$D/nanogpt_tiny.json" -o "$D/nanogpt_tiny.safetensors" 2>&1
"$WBR" inspect "$D/nanogpt_tiny.safetensors" | grep -E "(safetensors, |^name|h\.0\.attn\.c_(attn|proj)\.weight)"

say "7. A mistake is caught before anything is written (here: the mlp transposes deleted):"
grep -v 'mlp' "$D/draft.wbr" > "$D/broken.wbr"
show wbr check broken.wbr gpt2_tiny.safetensors -t nanogpt_tiny.json
"$WBR" check "$D/broken.wbr" "$D/gpt2_tiny.safetensors" -t "$D/nanogpt_tiny.json" 2>&1 | head -n 4 || true

say "Done. The files are in $D; README.md has the language, the commands and the formats."
