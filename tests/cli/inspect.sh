# inspect.sh — `wbr inspect` as a user runs it: table, --json manifest, usage errors.
. "$(dirname "$0")/../lib.sh"
needs_py inspect/example numpy || exit 0
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

# issue 9 item 15: names, GGUF keys/values and .wbc source names reach the terminal escaped
# (\xNN, as in error messages), never as raw escape sequences.
/usr/bin/python3 - "$T" <<'PY' || fail inspect/escapes-make "could not write the hostile files"
import json, struct, sys
d = sys.argv[1]
h = json.dumps({"\x1b[2J\x1b[31mgotcha": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                "__metadata__": {"k\x1b]0;title\x07": "v\x1b[5m"}}).encode()
open(d + "/esc.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + b"x")
# U+009B is CSI to terminals that honour C1 controls in UTF-8
h = json.dumps({"c1\u009b2J": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, ensure_ascii=False).encode()
open(d + "/c1.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + b"x")
def s(b): return struct.pack("<Q", len(b)) + b
kv = s(b"general.\x1b[2Jname") + struct.pack("<I", 8) + s(b"\x1b[31mred")
ti = s(b"t\x1b[1m") + struct.pack("<I", 1) + struct.pack("<Q", 4) + struct.pack("<I", 0) + struct.pack("<Q", 0)
body = b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + kv + ti
body += bytes(-len(body) % 32) + bytes(16)
open(d + "/esc.gguf", "wb").write(body)
PY
for f in esc.safetensors esc.gguf; do
  "$WBR" inspect "$T/$f" >"$T/esc.out" 2>&1
  if [ $? -ne 0 ]; then fail "inspect/escapes-$f" "$(head -c 300 "$T/esc.out")"
  elif od -An -c "$T/esc.out" | grep -q '033'; then fail "inspect/escapes-$f" "a raw ESC byte reached stdout"
  elif ! grep -qF '\x1b[' "$T/esc.out"; then fail "inspect/escapes-$f" "the escape is not shown as \\x1b: $(head -c 300 "$T/esc.out")"
  else pass "inspect/escapes-$f"; fi
done
"$WBR" inspect "$T/c1.safetensors" >"$T/c1.out" 2>&1
if od -An -tx1 "$T/c1.out" | tr -d '\n' | grep -q 'c2 9b'; then fail inspect/escapes-c1 "a raw U+009B (CSI) reached stdout"
elif ! grep -qF 'c1\xc2\x9b2J' "$T/c1.out"; then fail inspect/escapes-c1 "not shown escaped: $(head -c 300 "$T/c1.out")"
else pass inspect/escapes-c1; fi
grep -qF 'metadata: general.\x1b[2Jname = \x1b[31mred' "$T/esc.out" && pass inspect/escapes-gguf-metadata \
  || fail inspect/escapes-gguf-metadata "$(grep metadata "$T/esc.out" | head -c 300)"
R="$T/$(printf 'r\033[2J')".wbr
printf 'weightbridge 1\nrename "*" -> "x.*"\n' >"$R"
"$WBR" compile "$R" -o "$T/esc.wbc" 2>"$T/esc.err" || fail inspect/escapes-compile "$(cat "$T/esc.err")"
for how in "plan text" "plan md" disasm; do
  set -- $how
  if [ "$1" = plan ]; then "$WBR" plan "$T/esc.wbc" "$T/esc.safetensors" --format "$2" >"$T/esc.out" 2>&1
  else "$WBR" disasm "$T/esc.wbc" >"$T/esc.out" 2>&1; fi
  id="inspect/escapes-$1${2:+-$2}"
  if od -An -c "$T/esc.out" | grep -q '033'; then fail "$id" "a raw ESC byte reached stdout"
  elif ! grep -qF 'r\x1b[2J.wbr' "$T/esc.out"; then fail "$id" "the rules' name is not shown escaped: $(head -c 300 "$T/esc.out")"
  else pass "$id"; fi
done

# `wbr match` prints names too (--explain, the draft): a name a rule file cannot spell is refused
# with the name escaped, and no raw escape byte reaches the terminal.
printf '{"tensors": {"\\u001b[2J\\u001b[31mgotcha.x": {"shape": [1], "dtype": "U8"}}}' >"$T/esc-target.json"
"$WBR" match "$T/esc.safetensors" "$T/esc-target.json" --explain >"$T/m.out" 2>&1
rc=$?
if [ $rc -ne 1 ]; then fail inspect/escapes-match "exit $rc, wanted 1: $(head -c 300 "$T/m.out")"
elif od -An -c "$T/m.out" | grep -q '033'; then fail inspect/escapes-match "a raw ESC byte reached the terminal"
elif ! grep -qF "has a control character in its name, which a rule file cannot spell" "$T/m.out"; then
  fail inspect/escapes-match "$(head -c 300 "$T/m.out")"
else pass inspect/escapes-match; fi

# issue 9 item 16: running out of memory names the file and says what to do (it was a bare
# "error: out of memory"). A sanitizer build reserves more address space than the limit allows.
if [ -z "$WBR_SANITIZED" ]; then
  /usr/bin/python3 -c "
import json, sys
t = {'t%d' % i: {'shape': [1], 'dtype': 'F32'} for i in range(300000)}
open(sys.argv[1], 'w').write(json.dumps({'tensors': t}))" "$T/big.json"
  (ulimit -v 100000; exec "$WBR" inspect "$T/big.json") >/dev/null 2>"$T/oom.err"
  rc=$?
  if [ $rc -ne 1 ]; then fail inspect/oom-names-file "exit $rc: $(head -c 300 "$T/oom.err")"
  elif ! grep -qF "big.json: error: out of memory" "$T/oom.err"; then fail inspect/oom-names-file "$(head -c 300 "$T/oom.err")"
  elif ! grep -qF "help: free memory or raise this process's limit (ulimit -v)" "$T/oom.err"; then fail inspect/oom-names-file "no help: $(head -c 300 "$T/oom.err")"
  else pass inspect/oom-names-file; fi
  # a file too large to map under the limit: the system's refusal comes with what to do
  head -c 300000000 /dev/zero >"$T/big.safetensors" 2>/dev/null
  (ulimit -v 200000; exec "$WBR" inspect "$T/big.safetensors") >/dev/null 2>"$T/map.err"
  if grep -qF "cannot map: Cannot allocate memory" "$T/map.err" && grep -qF "help: free memory or raise this process's limit" "$T/map.err"
  then pass inspect/map-failure-says-what-to-do; else fail inspect/map-failure-says-what-to-do "$(head -c 300 "$T/map.err")"; fi
  rm -f "$T/big.safetensors"
fi
