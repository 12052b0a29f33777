#!/bin/sh
# fuzz_seeds.sh DIR — seed corpora generated from the test suite instead of committed copies:
# DIR/seeds-fuzz_parser gets every rule file of tests/lang (good and bad ones) and rules/.
# fuzz/corpus/NAME keeps only the seeds no test holds. `make fuzz` runs this first.
set -e
out=${1:-build/fuzz}
mkdir -p "$out/seeds-fuzz_parser"
find tests/lang rules -name '*.wbr' -exec cp {} "$out/seeds-fuzz_parser/" \;
echo "fuzz seeds: $(ls "$out/seeds-fuzz_parser" | wc -l) rule files for fuzz_parser"
