#!/bin/sh
# seeds.sh WBR DIR — the seed corpus of fuzz_vm: every rule file of the repository that compiles
# (rules/, examples/, tests/lang, tests/plan, tests/dis, the parser's seeds...) compiled to DIR/NAME.wbc.
# Generated, not committed, so the seeds follow the compiler; `make fuzz` runs it.
wbr=$1 dir=$2
[ -n "$wbr" ] && [ -n "$dir" ] || { echo "usage: seeds.sh WBR DIR" >&2; exit 2; }
mkdir -p "$dir" || exit 1
n=0
for f in $(git ls-files '*.wbr' 2>/dev/null || find . -name '*.wbr'); do
  out="$dir/$(echo "${f%.wbr}" | tr '/' '_').wbc"
  if "$wbr" compile "$f" -o "$out" >/dev/null 2>&1; then n=$((n + 1)); fi
done
echo "seeds.sh: $n rule files compiled into $dir"
