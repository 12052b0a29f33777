#!/bin/sh
# tests/memapply/run.sh — wbr_plan_apply_memory (the in-memory output the Python package uses)
# gives exactly the bytes wbr_plan_apply writes, for every kind of node: renames, transposes and
# permutes (straight into the caller's buffer), casts, concat/stack (sequential and interleaved),
# split/select/slice, reshapes, and a lazy source (a strided PyTorch view saved by torch); and it
# refuses a NULL buffer, a plan with problems, a manifest and a tensor without bytes.
. "$(dirname "$0")/../lib.sh"
LIB="$BUILD/libweightbridge.a"
if ! ${CC:-cc} ${WBR_SAN_FLAGS:-} -std=c11 -Wall -Wextra -Werror -Iinclude -o "$T/memapply" \
     tests/memapply/memapply.c "$LIB" $(sh tools/ldlibs.sh) 2>"$T/cc.err"; then
  fail memapply/links "$(head -c 600 "$T/cc.err")"
  exit 0
fi

# same_case ID SRC RULES: memory and file outputs agree (and there is at least one output).
same_case() {
  printf 'weightbridge 1\n%b' "$3" >"$T/$1.wbr"
  if "$T/memapply" "$T/$1.wbr" "$2" "$T/$1.safetensors" >"$T/$1.out" 2>"$T/$1.err" &&
     grep -q '^same [1-9]' "$T/$1.out"; then pass "memapply/$1"
  else fail "memapply/$1" "$(cat "$T/$1.out") $(head -c 400 "$T/$1.err")"; fi
}

same_case rename - 'rename "a" -> "x.a"\nrename "c" -> "bias"\n'
same_case transpose - 'transpose "a"\ntranspose "h"\n'
same_case permute-3d - 'permute "i" (2, 0, 1)\n'
same_case cast - 'cast "a" bf16\ncast "h" f32\ncast "c" f16\n'
same_case transpose-then-cast - 'transpose "a"\ncast "a" f16\n'
same_case cast-then-transpose - 'cast "a" f16\ntranspose "a"\n'
same_case concat-axis0 - 'concat "a", "b" axis 0 -> "ab"\n'
same_case concat-axis1 - 'concat "a", "b" axis 1 -> "ab"\n'
same_case stack - 'stack "a", "b" axis 1 -> "ab"\n'
same_case concat-of-transposes - 'transpose "a"\ntranspose "b"\nconcat "a", "b" axis 1 -> "ab"\n'
same_case split - 'split "a" axis 1 -> "p", "q", "r"\nsplit "b" axis 0 sizes [1, 3] -> "s", "t"\n'
same_case select-slice - 'select "i" axis 1 index 2 -> "sel"\nslice "b" axis 1 range 1:4 -> "sl"\n'
same_case reshape - 'reshape "i" [12, 5]\nreshape "a" [-1]\n'
same_case drop-and-keep - 'drop "b"\ndrop "h"\n'

# A lazy source: torch saves a transposed view with its strides; the reader leaves its bytes to
# be made (data NULL), apply_memory makes them straight into the caller's buffer.
if needs_py memapply/lazy-pt-view torch; then
  "$PY" - "$T/view.pt" <<'PY' 2>"$T/py.err"
import sys, torch
base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
torch.save({"v": base.t(), "w": base[1:5, ::2], "plain": base}, sys.argv[1])
PY
  same_case lazy-pt-view "$T/view.pt" 'rename "v" -> "vt"\n'
  same_case lazy-pt-view-transposed "$T/view.pt" 'transpose "v"\ncast "w" bf16\n'
fi

"$T/memapply" --errors "$T" >"$T/errors.out" 2>"$T/errors.err"
for c in null-buffer problems manifest read-manifest read-out-of-range read-memory-set source-without-bytes \
         plan-get-out-of-range options-version; do
  if grep -qx "ok $c" "$T/errors.out"; then pass "memapply/refuses-$c"
  else fail "memapply/refuses-$c" "$(grep "$c" "$T/errors.out" || head -c 300 "$T/errors.err")"; fi
done
