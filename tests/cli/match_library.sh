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
