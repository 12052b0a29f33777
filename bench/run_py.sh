#!/bin/sh
# run_py.sh — the Python benchmark (bench/py_bench.py): adapt() on a ViT-B-sized state dict
# against the file + subprocess route and a hand-written PyTorch loop. Builds the library and the
# extension in place (`make python`), then runs it; prints a table with the load average.
# Usage: sh bench/run_py.sh [REPS]   (about 1.5 GiB of memory and 700 MB of scratch disk)
set -e
cd "$(dirname "$0")/.."
make -s all python >/dev/null
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}} PYTHONPATH="$PWD/python" WBR="$PWD/build/wbr" \
  /usr/bin/python3 bench/py_bench.py --reps "${1:-3}"
