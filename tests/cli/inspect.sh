# inspect.sh — `wbr inspect` as a user runs it: table, --json manifest, usage errors.
. tests/lib.sh
/usr/bin/python3 examples/make_example.py "$T" || fail inspect/example "could not write the example"
F="$T/gpt2_tiny.safetensors"
ok inspect/table "$WBR" inspect "$F"
grep -q "safetensors, 28 tensors, 28032 parameters, 112128 bytes" "$T/.out" && pass inspect/totals \
  || fail inspect/totals "$(head -n 1 "$T/.out")"
grep -Eq '^h\.1\.attn\.c_attn\.weight +F32 +\[32, 96\] +12288$' "$T/.out" && pass inspect/row \
  || fail inspect/row "no row for h.1.attn.c_attn.weight"
grep -q '^metadata: format = pt$' "$T/.out" && pass inspect/metadata || fail inspect/metadata "metadata not shown"
ok inspect/json "$WBR" inspect "$F" --json
cp "$T/.out" "$T/m.json"
/usr/bin/python3 - "$T/m.json" "$F" <<'PY' && pass inspect/json-is-manifest || fail inspect/json-is-manifest "manifest differs from the file's header"
import json, struct, sys
m = json.load(open(sys.argv[1]))
with open(sys.argv[2], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
meta = h.pop("__metadata__")
want = {k: {"shape": v["shape"], "dtype": v["dtype"]} for k, v in h.items()}
assert list(m) == ["metadata", "tensors"], list(m)
assert m["metadata"] == meta
assert list(m["tensors"]) == list(want), "order"
assert m["tensors"] == want
PY
ok inspect/json-reads-back "$WBR" inspect "$T/m.json"
grep -q "manifest, 28 tensors, 28032 parameters" "$T/.out" && pass inspect/manifest-totals \
  || fail inspect/manifest-totals "$(head -n 1 "$T/.out")"
"$WBR" inspect --json "$T/m.json" > "$T/m2.json" && same inspect/manifest-roundtrip "$T/m.json" "$T/m2.json"

rejects inspect/usage-no-file 2 "FILE is missing" "$WBR" inspect
rejects inspect/usage-bad-flag 2 "unknown option '--jsn'" "$WBR" inspect "$F" --jsn
rejects inspect/usage-two-files 2 "one FILE only" "$WBR" inspect "$F" "$F"
rejects inspect/missing-file 1 "nothere.safetensors: error: cannot open: No such file or directory" "$WBR" inspect "$T/nothere.safetensors"
rejects inspect/unknown-ext 1 "unknown file type" "$WBR" inspect "$T/x.bin2"
mkdir -p "$T/dir.safetensors"
rejects inspect/directory 1 "not a regular file" "$WBR" inspect "$T/dir.safetensors"
rejects cli/unknown-command 2 "unknown command 'inspekt'" "$WBR" inspekt "$F"
rejects cli/no-command 2 "usage:" "$WBR"
ok cli/help "$WBR" --help
ok cli/version "$WBR" --version
rejects inspect/key-on-safetensors 1 "a safetensors file has no entries to select ('#model')" "$WBR" inspect "$F#model"
cp "$F" "$T/with#hash.safetensors"
ok inspect/hash-in-file-name "$WBR" inspect "$T/with#hash.safetensors"
