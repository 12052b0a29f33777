#!/bin/sh
# demo.sh BUILD — the README's first command: shows weightbridge on a small bundled example.
set -e
BUILD=${1:-build}
WBR="$BUILD/wbr"
D="$BUILD/demo"
mkdir -p "$D"
/usr/bin/python3 examples/make_example.py "$D"
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "1. A checkpoint from another implementation (Hugging Face GPT-2 naming, 2 layers):"
run "$WBR" inspect "$D/gpt2_tiny.safetensors"

say "2. Its manifest (names, shapes, dtypes in definition order), usable as a target with -t:"
run "$WBR" inspect --json "$D/gpt2_tiny.safetensors" > "$D/gpt2_tiny.json"
head -n 5 "$D/gpt2_tiny.json"
echo "  ... ($(grep -c dtype "$D/gpt2_tiny.json") tensors in $D/gpt2_tiny.json)"

say "3. A malformed file gets one clear error, never a crash:"
head -c 100 "$D/gpt2_tiny.safetensors" > "$D/truncated.safetensors"
run "$WBR" inspect "$D/truncated.safetensors" || echo "(exit $?)"

say "Next: rules (.wbr), plan/check/apply and match are being built; see README.md."
