# match_library.sh — `wbr match` proposes the rule files of the rules library that map SRC onto
# TARGET exactly (cli/library.c): --library DIR, else WBR_RULES_PATH's directories; a file that
# does not map the pair, or does not compile, is passed over silently; the draft is unchanged.
. "$(dirname "$0")/../lib.sh"
P=tests/fixtures/vit_tv_to_timm
L=$T/lib
mkdir -p "$L" "$T/lib2"
cp rules/vit_tv_to_timm.wbr rules/convnext_tv_to_timm.wbr "$L/"
printf 'weightbridge 1\nrename "a" ->\n' >"$L/broken.wbr"
cp rules/vit_tv_to_timm.wbr "$T/lib2/again.wbr"

$WBR match $P/a.json $P/b.json --library "$L" -o "$T/d1.wbr" 2>"$T/err1"
rc=$?
n=$(grep -c '^library: ' "$T/err1")
if [ $rc -eq 0 ] && [ "$n" = 1 ] && grep -q "^library: $L/vit_tv_to_timm.wbr maps $P/a.json onto $P/b.json " "$T/err1" &&
   grep -q "use it: wbr apply $L/vit_tv_to_timm.wbr $P/a.json -t $P/b.json -o OUT" "$T/err1"; then
  pass match/library/proposes-the-one-that-maps
else fail match/library/proposes-the-one-that-maps "exit $rc, $n library lines: $(head -c 400 "$T/err1")"; fi
if grep -q 'broken\|error' "$T/err1"; then fail match/library/quiet-on-bad-files "$(grep 'broken\|error' "$T/err1" | head -2)"
else pass match/library/quiet-on-bad-files; fi

WBR_RULES_PATH=$T/nowhere:$L:$T/lib2 $WBR match $P/a.json $P/b.json -o "$T/d2.wbr" 2>"$T/err2"
if [ "$(grep -c '^library: ' "$T/err2")" = 2 ] && grep -q "^library: $T/lib2/again.wbr " "$T/err2"; then
  pass match/library/rules-path; else fail match/library/rules-path "$(grep '^library' "$T/err2")"; fi
same match/library/draft-unchanged "$T/d1.wbr" "$T/d2.wbr"

WBR_RULES_PATH=$T/nowhere $WBR match $P/a.json $P/b.json -o "$T/d3.wbr" 2>"$T/err3"
if grep -q '^library: ' "$T/err3"; then fail match/library/none "$(grep '^library' "$T/err3")"; else pass match/library/none; fi
Q=tests/fixtures/convnext_tv_to_timm
WBR_RULES_PATH=$L $WBR match $Q/a.json $Q/b.json -o "$T/d4.wbr" 2>"$T/err4"
if [ "$(grep -c '^library: ' "$T/err4")" = 1 ] && grep -q "^library: $L/convnext_tv_to_timm.wbr " "$T/err4"; then
  pass match/library/other-pair; else fail match/library/other-pair "$(grep '^library' "$T/err4")"; fi
rejects match/library/needs-value 2 "--library needs a value" $WBR match $P/a.json $P/b.json --library

# A library file with a parameter is checked with the values given (as a config's: a file that
# does not declare one is still checked), and passed over without them.
mkdir -p "$T/plib"
printf '{"tensors": {"a.weight": {"shape": [8, 4], "dtype": "F32"}}}\n' >"$T/pa.json"
printf '{"tensors": {"b.weight": {"shape": [2, 4, 4], "dtype": "F32"}}}\n' >"$T/pb.json"
printf 'weightbridge 1\nparam n_heads\nrename "a.weight" -> "b.weight"\nreshape "b.weight" [n_heads, -1, 4]\n' >"$T/plib/heads.wbr"
printf 'weightbridge 1\nrename "a.weight" -> "b.weight"\nreshape "b.weight" [2, 4, 4]\n' >"$T/plib/plain.wbr"
$WBR match "$T/pa.json" "$T/pb.json" --library "$T/plib" --param n_heads=2 -o "$T/p1.wbr" 2>"$T/perr1"
if [ "$(grep -c '^library: ' "$T/perr1")" = 2 ] && grep -q "^library: $T/plib/heads.wbr .* -o OUT --param n_heads=2$" "$T/perr1"; then
  pass match/library/with-params; else fail match/library/with-params "$(grep '^library' "$T/perr1")"; fi
$WBR match "$T/pa.json" "$T/pb.json" --library "$T/plib" -o "$T/p2.wbr" 2>"$T/perr2"
if grep -q "^library: $T/plib/heads.wbr" "$T/perr2" || ! grep -q "^library: $T/plib/plain.wbr" "$T/perr2"; then
  fail match/library/params-missing "$(grep '^library' "$T/perr2")"; else pass match/library/params-missing; fi
$WBR match "$T/pa.json" "$T/pb.json" --library "$T/plib" --param n_heads=3 -o "$T/p3.wbr" 2>"$T/perr3"
if grep -q "^library: $T/plib/heads.wbr" "$T/perr3"; then fail match/library/params-wrong "$(grep '^library' "$T/perr3")"
else pass match/library/params-wrong; fi
