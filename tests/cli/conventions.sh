# conventions.sh — the command line's conventions (issue 15): --help on every subcommand and
# `wbr help CMD` (the same text, exit 0), "did you mean" for a misspelt subcommand, swapped
# arguments said so (`wbr match TARGET.json SRC`), -q (errors and asked-for output only) and -v
# (the plan table, the evidence, bytes and time), `check --json` (counts, problems with kind,
# tensor and help), `apply --dry-run` (plans and checks, writes nothing, exits as check).
. "$(dirname "$0")/../lib.sh"
needs_py cli/conventions numpy || exit 0

$PY - "$T" <<'PYEOF'
import json, sys
import numpy as np
sys.path.insert(0, "tests/apply")
import st
d = sys.argv[1]
rng = np.random.default_rng(5)
src = {"fc.weight": rng.standard_normal((10, 64)).astype(np.float32), "fc.bias": rng.standard_normal(10).astype(np.float32),
       "conv.weight": rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "stray": np.zeros(3, np.float32)}
st.write(d + "/src.safetensors", [st.from_array(k, v) for k, v in src.items()])
def man(name, t):
    json.dump({"tensors": {k: {"shape": s, "dtype": dt} for k, (s, dt) in t.items()}}, open(d + "/" + name, "w"))
man("good.json", {"head.weight": ([10, 64], "F32"), "head.bias": ([10], "F32"), "conv.weight": ([8, 3, 3, 3], "F32")})
# wrong on purpose: a dtype (only), a shape, a missing target, and the stray source left over
man("bad.json", {"head.weight": ([10, 64], "BF16"), "head.bias": ([5, 2], "F32"), "conv.weight": ([8, 3, 3, 3], "F32"),
                 "extra.w": ([7], "F32")})
PYEOF
S="$T/src.safetensors"
printf 'weightbridge 1\nrename "fc.*" -> "head.*"\ndrop "stray"\n' >"$T/r.wbr"
printf 'weightbridge 1\nrename "fc.*" -> "head.*"\n' >"$T/r2.wbr"

# ---- --help everywhere, wbr help CMD the same ----
for c in inspect plan check apply compile disasm fmt match convert; do
  $WBR $c --help >"$T/h1" 2>"$T/e1"; r1=$?
  $WBR help $c >"$T/h2" 2>&1; r2=$?
  $WBR $c -h >"$T/h3" 2>&1; r3=$?
  if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ $r3 -eq 0 ] && head -n 1 "$T/h1" | grep -q "^usage: wbr $c" && [ ! -s "$T/e1" ] &&
     cmp -s "$T/h1" "$T/h2" && cmp -s "$T/h1" "$T/h3"; then pass "conventions/help/$c"
  else fail "conventions/help/$c" "exits $r1 $r2 $r3: $(head -c 200 "$T/h1") $(head -c 200 "$T/e1")"; fi
done
# --help wins over other arguments, even bad ones (it is what the user asked)
ok conventions/help-with-other-args $WBR apply "$T/nope.wbr" --bogus --help
grep -q '^usage: wbr apply' "$T/.out" && pass conventions/help-with-other-args-text || fail conventions/help-with-other-args-text "$(head -c 200 "$T/.out")"
ok conventions/top-help $WBR --help
grep -q 'every command takes -h/--help, -q/--quiet and -v/--verbose' "$T/.out" && grep -q '^  wbr convert SRC -o OUT' "$T/.out" &&
  pass conventions/top-help-lists || fail conventions/top-help-lists "$(head -c 300 "$T/.out")"
rejects conventions/help-unknown 2 "unknown command 'aply'; did you mean 'apply'?" $WBR help aply

# ---- did you mean ----
rejects conventions/dym-apply 2 "wbr: unknown command 'aply'; did you mean 'apply'?" $WBR aply "$T/r.wbr" "$S" -o "$T/x.safetensors"
rejects conventions/dym-swap 2 "did you mean 'match'?" $WBR mtach "$S" "$T/good.json"
rejects conventions/dym-inspect 2 "did you mean 'inspect'?" $WBR inspcet "$S"
rejects conventions/dym-convert 2 "did you mean 'convert'?" $WBR conver "$S"
$WBR frobnicate >"$T/out" 2>"$T/err"
if [ $? -eq 2 ] && grep -q "unknown command 'frobnicate'$" "$T/err" && ! grep -q 'did you mean' "$T/err"; then pass conventions/dym-none-when-far
else fail conventions/dym-none-when-far "$(head -c 200 "$T/err")"; fi
[ ! -e "$T/x.safetensors" ] && pass conventions/dym-writes-nothing || fail conventions/dym-writes-nothing written

# ---- match TARGET.json SRC: swapped, said at match time ----
rejects conventions/match-swapped 2 "SRC is a manifest (no tensor data) but TARGET $S holds weights: the arguments look swapped" \
  $WBR match "$T/good.json" "$S" -o "$T/sw.wbr"
[ ! -e "$T/sw.wbr" ] && [ ! -s "$T/.out" ] && pass conventions/match-swapped-no-draft || fail conventions/match-swapped-no-draft "a draft was written"
ok conventions/match-manifest-to-manifest $WBR match "$T/good.json" "$T/good.json"

# ---- -q: errors and asked-for output only ----
$WBR apply "$T/r.wbr" "$S" -t "$T/good.json" -o "$T/q.safetensors" -q >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$T/err" ] && [ ! -s "$T/out" ] && [ -s "$T/q.safetensors" ]; then pass conventions/quiet-apply
else fail conventions/quiet-apply "exit $rc: $(cat "$T/out" "$T/err" | head -c 300)"; fi
$WBR check "$T/r.wbr" "$S" -t "$T/good.json" --quiet >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] && [ ! -s "$T/out" ] && [ ! -s "$T/err" ] && pass conventions/quiet-check-ok || fail conventions/quiet-check-ok "exit $rc: $(cat "$T/out" "$T/err" | head -c 300)"
rejects conventions/quiet-keeps-errors 1 "is not produced by the rules" $WBR check "$T/r.wbr" "$S" -t "$T/bad.json" -q
$WBR match "$S" "$T/good.json" -q >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$T/err" ] && grep -q '^weightbridge 1' "$T/out"; then pass conventions/quiet-match-draft-only
else fail conventions/quiet-match-draft-only "exit $rc: $(head -c 300 "$T/err")"; fi
$WBR plan "$T/r.wbr" "$S" -q >"$T/out" 2>"$T/err"
grep -q 'head.weight' "$T/out" && pass conventions/quiet-plan-keeps-table || fail conventions/quiet-plan-keeps-table "$(head -c 300 "$T/out")"
$WBR convert "$S" -o "$T/qc.safetensors" -q 2>"$T/err"
[ ! -s "$T/err" ] && pass conventions/quiet-convert || fail conventions/quiet-convert "$(head -c 200 "$T/err")"

# ---- -v: says more ----
$WBR apply "$T/r.wbr" "$S" -o "$T/v.safetensors" -v >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^head.weight .*fc.weight' "$T/err" && grep -q '^wrote .*v.safetensors: 3 tensors, .* MiB in .* s' "$T/err"; then
  pass conventions/verbose-apply; else fail conventions/verbose-apply "exit $rc: $(head -c 400 "$T/err")"; fi
$WBR check "$T/r.wbr" "$S" -t "$T/good.json" --verbose >"$T/out" 2>"$T/err"
grep -q '^head.bias ' "$T/err" && grep -q '^ok: ' "$T/out" && pass conventions/verbose-check || fail conventions/verbose-check "$(head -c 300 "$T/err")"
$WBR match "$S" "$T/good.json" -v -o "$T/vm.wbr" 2>"$T/err"
grep -q '^head.weight \[10, 64\] <- fc.weight' "$T/err" && pass conventions/verbose-match-evidence || fail conventions/verbose-match-evidence "$(head -c 300 "$T/err")"

# ---- check --json ----
$WBR check "$T/r.wbr" "$S" -t "$T/bad.json" --json >"$T/cj.out" 2>"$T/cj.err"
rc=$?
r=$($PY -c 'import json, sys
j = json.load(open(sys.argv[1]))
kinds = sorted((p["kind"], p["tensor"]) for p in j["list"])
want = [("dtype", "head.weight"), ("missing", "extra.w"), ("shape", "head.bias")]
ok = (j["ok"] is False and j["problems"] == 3 and j["listed"] == 3 and kinds == want and j["rules"].endswith("r.wbr")
      and all(p["help"] for p in j["list"]) and [p["help"] for p in j["list"] if p["kind"] == "dtype"] == ["add a cast for it"])
print("ok" if ok else json.dumps(j)[:700])' "$T/cj.out" 2>&1)
if [ $rc -eq 1 ] && [ "$r" = ok ]; then pass conventions/check-json-problems; else fail conventions/check-json-problems "exit $rc: $r"; fi
grep -q '^check failed: 3 problems' "$T/cj.err" && pass conventions/check-json-stderr-as-before || fail conventions/check-json-stderr-as-before "$(head -c 300 "$T/cj.err")"
$WBR check "$T/r2.wbr" "$S" -t "$T/good.json" --json >"$T/cj2.out" 2>/dev/null
r=$($PY -c 'import json, sys
j = json.load(open(sys.argv[1]))
print("ok" if [(p["kind"], p["tensor"]) for p in j["list"]] == [("extra", "stray")] and "drop it" in j["list"][0]["help"] else json.dumps(j)[:500])' "$T/cj2.out" 2>&1)
[ "$r" = ok ] && pass conventions/check-json-extra || fail conventions/check-json-extra "$r"
$WBR check "$T/r.wbr" "$S" -t "$T/good.json" --json >"$T/cj3.out" 2>/dev/null
rc=$?
r=$($PY -c 'import json, sys
j = json.load(open(sys.argv[1]))
print("ok" if j["ok"] is True and j["problems"] == 0 and j["tensors"] == 3 and j["list"] == [] else json.dumps(j)[:500])' "$T/cj3.out" 2>&1)
[ $rc -eq 0 ] && [ "$r" = ok ] && pass conventions/check-json-ok || fail conventions/check-json-ok "exit $rc: $r"
printf 'weightbridge 1\nrenam "x" -> "y"\n' >"$T/broken.wbr"
$WBR check "$T/broken.wbr" "$S" -t "$T/good.json" --json >"$T/cj4.out" 2>/dev/null
rc=$?
[ $rc -eq 1 ] && [ ! -s "$T/cj4.out" ] && pass conventions/check-json-none-without-plan || fail conventions/check-json-none-without-plan "exit $rc: $(head -c 200 "$T/cj4.out")"
rejects conventions/json-only-on-check 2 "unknown option '--json'" $WBR apply "$T/r.wbr" "$S" -o "$T/j.safetensors" --json

# ---- apply --dry-run ----
$WBR apply "$T/r.wbr" "$S" -t "$T/good.json" -o "$T/dry.safetensors" --dry-run >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ ! -e "$T/dry.safetensors" ] && grep -q '^dry run: the plan has no problems (3 tensors); nothing written' "$T/err"; then
  pass conventions/dry-run-ok; else fail conventions/dry-run-ok "exit $rc: $(head -c 300 "$T/err")"; fi
$WBR apply "$T/r.wbr" "$S" -t "$T/bad.json" -o "$T/dry.safetensors" --dry-run >"$T/out" 2>"$T/err"
rc=$?
$WBR check "$T/r.wbr" "$S" -t "$T/bad.json" >/dev/null 2>&1
crc=$?
if [ $rc -eq $crc ] && [ $rc -eq 1 ] && [ ! -e "$T/dry.safetensors" ] && grep -q 'dry run: the plan has 3 problems; nothing written' "$T/err"; then
  pass conventions/dry-run-problems-exit-as-check; else fail conventions/dry-run-problems-exit-as-check "exit $rc (check $crc): $(tail -c 300 "$T/err")"; fi
ok conventions/dry-run-without-o $WBR apply "$T/r.wbr" "$S" --dry-run
ok conventions/convert-dry-run $WBR convert "$S" -o "$T/cdry.safetensors" --dtype bf16 --dry-run
[ ! -e "$T/cdry.safetensors" ] && pass conventions/convert-dry-run-writes-nothing || fail conventions/convert-dry-run-writes-nothing written
