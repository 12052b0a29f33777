# struct_resnet.sh — structure decides a pair without shared vocabulary (issue 10): torchvision
# ResNet-50/101/152 layouts as .safetensors onto nested Flax words, zero hints, exit 0 and every
# value right; the real proportions (layer1.0's expand and shortcut alike) exit 3 with exactly
# those ten targets flagged. The pairs and the checks are in struct_resnet.py.
. "$(dirname "$0")/../lib.sh"
needs_py match/struct numpy || exit 0
$PY tests/match/struct_resnet.py "$WBR" "$T"
