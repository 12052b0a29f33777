#!/bin/sh
# params.sh — parameters end to end (docs/language.md, "Parameters"): one parameterised rule
# file (the Meta -> Hugging Face rotary permutation of q written as reshape/permute/reshape, the
# sizes from parameters) applied to two model sizes, with --param and with --config, the bytes
# compared with NumPy's; one .wbc compiled once serves both sizes; --param beats the config,
# which beats the default; a missing value, an unknown --param, a bad value and an inexact
# division are one clear error each.
. "$(dirname "$0")/../lib.sh"
needs_py cli/params numpy || exit 0
cd "$T" || exit 1

cat >rope.wbr <<'W'
weightbridge 1
# Meta's interleaved rotary pairs -> Hugging Face's half split, for q of any model size
param dim
param n_heads = 4
param head_dim = dim / n_heads
reshape "layers.*.wq" [n_heads, head_dim / 2, 2, dim]
permute "layers.*.wq" (0, 2, 1, 3)
reshape "layers.*.wq" [n_heads * head_dim, dim]
expect "layers.*.wq" shape [dim, dim]
expect "layers.*.wq" count n_layers
param n_layers = 2
W
# (n_layers is declared after its use on purpose: that is an error, fixed below.)
if "$WBR" fmt rope.wbr >/dev/null 2>err; then fail cli/params_use_before_declare "accepted"
elif grep -qF "parameter 'n_layers' is used before it is declared" err; then pass cli/params_use_before_declare
else fail cli/params_use_before_declare "$(head -c 300 err)"; fi
grep -v '^param n_layers' rope.wbr | sed 's/^expect "layers.\*.wq" count n_layers$/param n_layers = 2\nexpect "layers.*.wq" count n_layers/' >r.wbr
mv r.wbr rope.wbr

# Two model sizes: small (dim 16, 4 heads) and large (dim 32, 8 heads), 2 layers each.
"$PY" - <<'P'
import json, struct, numpy as np
def save(path, d):
    hdr, off, blobs = {}, 0, []
    for k, v in d.items():
        b = v.astype(np.float32).tobytes()
        hdr[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        off += len(b); blobs.append(b)
    h = json.dumps(hdr).encode(); h += b" " * ((8 - len(h) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
rng = np.random.default_rng(12)
for name, dim, heads in (("small", 16, 4), ("large", 32, 8)):
    w = {f"layers.{i}.wq": rng.standard_normal((dim, dim)).astype(np.float32) for i in range(2)}
    save(f"{name}.safetensors", w)
    hd = dim // heads
    want = {k: v.reshape(heads, hd // 2, 2, dim).transpose(0, 2, 1, 3).reshape(heads * hd, dim) for k, v in w.items()}
    save(f"{name}_want.safetensors", want)
json.dump({"hidden_size": 32, "num_attention_heads": 8, "rope_theta": 10000.0, "head_dim": None}, open("large_config.json", "w"))
json.dump({"dim": 16, "n_heads": 4, "n_layers": 2, "norm_eps": 1e-5}, open("small_params.json", "w"))
P

# The bytes are NumPy's: compare every tensor of OUT with WANT.
cmp_np() {
  "$PY" - "$1" "$2" <<'P'
import json, struct, sys, numpy as np
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    return {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], np.float32).reshape(v["shape"])
            for k, v in h.items() if k != "__metadata__"}
a, b = load(sys.argv[1]), load(sys.argv[2])
sys.exit(0 if a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a) else 1)
P
}
applied() { # applied ID OUT WANT ARGS... : apply must succeed and give WANT's values
  id=$1; out=$2; want=$3; shift 3
  if ! "$WBR" apply "$@" -o "$out" >/dev/null 2>err; then fail "$id" "apply failed: $(head -c 300 err)"
  elif cmp_np "$out" "$want"; then pass "$id"
  else fail "$id" "values differ from NumPy's"; fi
}
applied cli/params_small_by_flag small_out.safetensors small_want.safetensors rope.wbr small.safetensors --param dim=16
applied cli/params_large_by_flags large_out.safetensors large_want.safetensors rope.wbr large.safetensors --param dim=32 --param n_heads=8
applied cli/params_large_by_config large_cfg.safetensors large_want.safetensors rope.wbr large.safetensors --config large_config.json
applied cli/params_small_by_meta_params small_cfg.safetensors small_want.safetensors rope.wbr small.safetensors --config small_params.json
# One .wbc, compiled once, for both sizes.
ok cli/params_compile "$WBR" compile rope.wbr -o rope.wbc
applied cli/params_wbc_small small_wbc.safetensors small_want.safetensors rope.wbc small.safetensors --param dim=16
applied cli/params_wbc_large large_wbc.safetensors large_want.safetensors rope.wbc large.safetensors --config large_config.json
if [ "$(head -c 14 rope.wbc | tail -c 2 | od -An -tu2 | tr -d ' ')" = 2 ]; then pass cli/params_wbc_is_format_2
else fail cli/params_wbc_is_format_2 "format field is not 2"; fi

# Precedence: --param over --config over the default, and the plan says where each came from.
"$WBR" plan rope.wbr large.safetensors --config large_config.json --param n_heads=4 >plan.txt 2>err
if [ "$(head -n 1 plan.txt)" = "params: dim = 32 (config hidden_size), n_heads = 4 (--param), head_dim = 8 (default), n_layers = 2 (default)" ]; then
  pass cli/params_precedence_flag_config_default
else fail cli/params_precedence_flag_config_default "$(head -n 1 plan.txt) $(head -c 300 err)"; fi
"$WBR" plan rope.wbr large.safetensors --config large_config.json --format json >plan.json 2>err
if "$PY" -c 'import json,sys; d=json.load(open("plan.json")); sys.exit(0 if d["params"][:2]==[{"name":"dim","value":32,"from":"config hidden_size"},{"name":"n_heads","value":8,"from":"config num_attention_heads"}] and d["problems"]==0 else 1)'; then
  pass cli/params_plan_json
else fail cli/params_plan_json "$(head -c 600 plan.json)"; fi
# A default is overridable: head_dim given although it has one.
"$WBR" plan rope.wbr large.safetensors --param dim=32 --param n_heads=8 --param head_dim=2 >/dev/null 2>err
if grep -qF "cannot reshape 'layers.0.wq' from [32, 32] (1024 elements) to [8, 1, 2, 32]" err; then pass cli/params_default_overridden
else fail cli/params_default_overridden "$(head -c 300 err)"; fi

# Errors: one clear diagnostic each.
rejects cli/params_missing_value 1 "help: give --param dim=N, or --config config.json with hidden_size, or a default: param dim = N" \
  "$WBR" plan rope.wbr small.safetensors
rejects cli/params_missing_value_where 1 "rope.wbr:3:1: error: parameter 'dim' has no value" "$WBR" check rope.wbr small.safetensors -t small_want.safetensors
rejects cli/params_unknown_flag_name 1 "did you mean --param n_heads=4?" "$WBR" plan rope.wbr small.safetensors --param dim=16 --param n_head=4
rejects cli/params_inexact 1 "the default of parameter head_dim: 16 / 3 is not exact (remainder 1)" \
  "$WBR" apply rope.wbr small.safetensors --param dim=16 --param n_heads=3 -o bad.safetensors
if [ ! -e bad.safetensors ]; then pass cli/params_inexact_writes_nothing; else fail cli/params_inexact_writes_nothing "wrote bad.safetensors"; fi
rejects cli/params_negative_size 1 "reshape: n_heads comes out as -4" \
  "$WBR" plan rope.wbr small.safetensors --param dim=16 --param n_heads=-4
rejects cli/params_bad_flag_value 2 "--param wants NAME=INT" "$WBR" plan rope.wbr small.safetensors --param dim=sixteen
rejects cli/params_bad_flag_name 2 "--param wants NAME=INT" "$WBR" apply rope.wbr small.safetensors --param Dim=16 -o x.safetensors
rejects cli/params_flag_twice 2 "--param dim given twice" "$WBR" check rope.wbr small.safetensors -t small_want.safetensors --param dim=16 --param dim=16
rejects cli/params_config_twice 2 "--config given twice" "$WBR" plan rope.wbr small.safetensors --config a.json --config b.json
echo '{"hidden_size": 32.5}' >bad_config.json
rejects cli/params_config_bad_value 2 'config: key "hidden_size" is 32.5, expected a non-negative integer' \
  "$WBR" plan rope.wbr small.safetensors --config bad_config.json
echo '[1, 2]' >array.json
rejects cli/params_config_not_object 2 "the config is a list, not a JSON object" "$WBR" plan rope.wbr small.safetensors --config array.json
rejects cli/params_config_missing 1 "nope.json" "$WBR" plan rope.wbr small.safetensors --config nope.json
# check: ok with the values, and match takes the flags (its consumer is the matcher).
ok cli/params_check_ok "$WBR" check rope.wbr small.safetensors -t small_want.safetensors --param dim=16
"$WBR" match small.safetensors small.safetensors --param dim=16 --config large_config.json >/dev/null 2>err
rc=$?
if [ $rc -eq 0 ]; then pass cli/params_match_accepts_flags; else fail cli/params_match_accepts_flags "exit $rc $(head -c 300 err)"; fi
rejects cli/params_match_bad_flag 2 "--param wants NAME=INT" "$WBR" match small.safetensors small.safetensors --param x
# Rules without parameters still compile to format 1 with 7 sections (what every wbr before
# parameters wrote and reads), and a literal in the reference range stays a literal there.
printf 'weightbridge 1\nreshape "layers.*.wq" [-1]\nselect "layers.0.wq" axis 0 index -9223372036854775807 -> "s"\n' >plain.wbr
ok cli/params_plain_compile "$WBR" compile plain.wbr -o plain.wbc
if [ "$(od -An -tu2 -j12 -N4 plain.wbc | tr -s ' ')" = " 1 7" ]; then pass cli/params_plain_is_format_1
else fail cli/params_plain_is_format_1 "header: $(od -An -tu2 -j12 -N4 plain.wbc)"; fi
rejects cli/params_plain_literal_kept 1 "select: index out of range for axis 0 of 'layers.0.wq'" "$WBR" plan plain.wbc small.safetensors
# With parameters (format 2) the same literal is written as a literal node: still that number.
printf 'weightbridge 1\nparam n = 1\nselect "layers.0.wq" axis 0 index -9223372036854775807 -> "s"\n' >lit2.wbr
ok cli/params_v2_literal_compile "$WBR" compile lit2.wbr -o lit2.wbc
rejects cli/params_v2_literal_kept 1 "select: index out of range for axis 0 of 'layers.0.wq'" "$WBR" plan lit2.wbc small.safetensors
