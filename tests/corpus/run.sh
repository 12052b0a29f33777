# run.sh — the matcher's adversarial corpus (tests/corpus/README.md): every case of cases.py, the
# source as .safetensors and as .pt, through `wbr match` and, for exit 0, `wbr apply` on real data.
# One PASS/FAIL line per run (known failures print KNOWN and are not counted), then a summary.
. "$(dirname "$0")/../lib.sh"
needs_py corpus/python numpy torch || exit 0
"$PY" "$TOP/tests/corpus/run.py"
