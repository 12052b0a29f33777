#!/bin/sh
# fuzz_seeds.sh DIR [WBR] — seed corpora generated from the test suite instead of committed copies:
# DIR/seeds-fuzz_parser gets every rule file of tests/lang (good and bad ones) and rules/; with
# WBR, DIR/seeds-fuzz_vm gets every rule file of the tests, rules/ and examples/ that compiles,
# compiled to .wbc. fuzz/corpus/NAME keeps only the seeds no test holds. `make fuzz` runs this first.
set -e
out=${1:-build/fuzz}
wbr=${2:-}
mkdir -p "$out/seeds-fuzz_parser"
find tests/lang rules -name '*.wbr' -exec cp {} "$out/seeds-fuzz_parser/" \;
echo "fuzz seeds: $(ls "$out/seeds-fuzz_parser" | wc -l) rule files for fuzz_parser"
[ -n "$wbr" ] || exit 0
mkdir -p "$out/seeds-fuzz_vm"
find tests rules examples -name '*.wbr' | while read -r f; do
  "$wbr" compile "$f" -o "$out/seeds-fuzz_vm/$(echo "${f%.wbr}" | tr '/' '_').wbc" >/dev/null 2>&1 || true
done
echo "fuzz seeds: $(ls "$out/seeds-fuzz_vm" | wc -l) compiled rule files for fuzz_vm"
