#!/bin/sh
# match_bench.sh [BUILD] — `wbr match` on ResNet-like pairs of about 2,000 and 20,000 tensors,
# torchvision -> timm names (renamed only) and torchvision -> Flax (renamed, HWIO kernels,
# [in, out] dense): wall time of the whole command (read, pair, induce, prove, write), best of 3,
# and a check that every target comes from its true source. Goals: < 0.2 s and < 2 s.
BUILD=${1:-build}
WBR=$BUILD/wbr
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
printf '%-8s %-28s %8s %8s %10s %6s  %s\n' tensors pair sources targets seconds stmts check
for n in 2000 20000; do
  for layout in "" --layout; do
    counts=$($PY tests/match/corpus.py "$T/a.json" "$T/b.json" --bench $n $layout)
    best=
    for i in 1 2 3; do
      s=$($PY -c 'import time; print(time.time())')
      "$WBR" match "$T/a.json" "$T/b.json" -o "$T/d.wbr" 2>/dev/null
      rc=$?
      e=$($PY -c 'import time; print(time.time())')
      t=$($PY -c "print(f'{$e - $s:.3f}')")
      best=$($PY -c "print(min([x for x in ['$best', '$t'] if x], key=float))")
    done
    stmts=$(grep -v '^#' "$T/d.wbr" | grep -v '^$' | grep -cv '^weightbridge')
    chk=$($PY tests/match/corpus.py --verify "$WBR" "$T/d.wbr" "$T/a.json" "$T/b.json")
    name=resnet_tv_to_timm
    [ -n "$layout" ] && name=resnet_tv_to_flax
    set -- $counts
    printf '%-8s %-28s %8s %8s %10s %6s  %s (exit %s)\n' "$n" "$name" "$1" "$2" "$best" "$stmts" "$chk" "$rc"
  done
done
