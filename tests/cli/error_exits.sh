# error_exits.sh — the library tells a bad file, bad rules, a bad .wbc and a wrong mapping apart
# (WBR_EFORMAT, WBR_ERULES, WBR_EBYTECODE, WBR_EMAPPING), but the CLI contract does not change:
# each of them exits 1 with its one diagnostic; usage errors still exit 2.
. "$(dirname "$0")/../lib.sh"
# A 2x3 F32 weight file "a", written by hand (no numpy needed), and manifests to map onto.
/usr/bin/python3 - "$T/src.safetensors" <<'PY' || fail exits/setup "could not write the source"
import json, struct, sys
h = json.dumps({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<6f", *range(6)))
PY
echo '{"tensors": {"b": {"shape": [2, 3], "dtype": "F32"}}}' >"$T/good.json"
echo '{"tensors": {"b": {"shape": [3, 2], "dtype": "F32"}}}' >"$T/wrong.json"
printf 'weightbridge 1\nrename "a" -> "b"\n' >"$T/r.wbr"
ok exits/good-rules-check "$WBR" check "$T/r.wbr" "$T/src.safetensors" -t "$T/good.json"
"$WBR" compile "$T/r.wbr" -o "$T/r.wbc" 2>"$T/err" || fail exits/compile "$(head -c 300 "$T/err")"

# A bad weight file (WBR_EFORMAT).
printf '\010\0\0\0\0\0\0\0{"a":1}' >"$T/junk.safetensors"
rejects exits/bad-file-inspect 1 "junk.safetensors" "$WBR" inspect "$T/junk.safetensors"
rejects exits/bad-file-check 1 "junk.safetensors" "$WBR" check "$T/r.wbr" "$T/junk.safetensors" -t "$T/good.json"
# Bad rules (WBR_ERULES): a syntax error, a rule file that is a directory, a malformed hint.
printf 'weightbridge 1\nrenme "a" -> "b"\n' >"$T/bad.wbr"
rejects exits/bad-rules-check 1 "unknown statement 'renme'" "$WBR" check "$T/bad.wbr" "$T/src.safetensors" -t "$T/good.json"
rejects exits/bad-rules-fmt 1 "unknown statement 'renme'" "$WBR" fmt "$T/bad.wbr"
mkdir "$T/dir.wbr"
rejects exits/rules-directory 1 "the rule file is a directory" "$WBR" compile "$T/dir.wbr" -o "$T/x.wbc"
rejects exits/bad-hint 1 "--hint" "$WBR" match "$T/src.safetensors" "$T/good.json" --hint 'a=b permute (0'
# A bad .wbc (WBR_EBYTECODE): one flipped byte, and source text named .wbc.
/usr/bin/python3 - "$T/r.wbc" "$T/flipped.wbc" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 1
open(sys.argv[2], "wb").write(b)
PY
rejects exits/bad-wbc-check 1 "checksum mismatch" "$WBR" check "$T/flipped.wbc" "$T/src.safetensors" -t "$T/good.json"
rejects exits/bad-wbc-disasm 1 "checksum mismatch" "$WBR" disasm "$T/flipped.wbc"
# A wrong mapping (WBR_EMAPPING): valid rules, a target they do not reach; apply writes nothing.
rejects exits/wrong-mapping-check 1 "shape" "$WBR" check "$T/r.wbr" "$T/src.safetensors" -t "$T/wrong.json"
rejects exits/wrong-mapping-apply 1 "error" "$WBR" apply "$T/r.wbr" "$T/src.safetensors" -t "$T/wrong.json" -o "$T/out.safetensors"
if [ -e "$T/out.safetensors" ]; then fail exits/wrong-mapping-writes-nothing "out.safetensors exists"
else pass exits/wrong-mapping-writes-nothing; fi
printf 'weightbridge 1\ndrop "nothing.here"\n' >"$T/upd.wbr"
rejects exits/update-does-not-run 1 "do not run over the source" "$WBR" match "$T/src.safetensors" "$T/good.json" --update "$T/upd.wbr"
# Usage is still 2.
rejects exits/usage-still-2 2 "TARGET is missing" "$WBR" match "$T/src.safetensors"
