# match_params.sh — the head counts `wbr match` takes (matcher/famtab.c): --param n_heads and
# n_kv_heads, or --config; a --param a typo away from them is one usage error with "did you
# mean"; other names are taken (the rules library's files may declare them).
. "$(dirname "$0")/../lib.sh"
P=tests/fixtures/vit_tv_to_timm
rejects match/params/unknown 2 "did you mean n_heads?" $WBR match $P/a.json $P/b.json --param n_head=4
rejects match/params/typo-kv 2 "did you mean n_kv_heads?" $WBR match $P/a.json $P/b.json --param n_kvheads=4
ok match/params/other-names $WBR match $P/a.json $P/b.json --param dim=4 -o "$T/d0.wbr" # for the library's files
printf '{"num_attention_heads": 4, "hidden_size": 48, "vocab_size": 10}\n' >"$T/config.json"
ok match/params/config-keys-ignored $WBR match $P/a.json $P/b.json --config "$T/config.json" -o "$T/d.wbr"
ok match/params/known $WBR match $P/a.json $P/b.json --param n_heads=4 -o "$T/d2.wbr"

# --update with a file that declares parameters: planned with the values given (a name it does not
# declare, such as the matcher's n_heads, is no error; its own names are not refused either).
printf '{"tensors": {"a.weight": {"shape": [8, 4], "dtype": "F32"}, "c.bias": {"shape": [3], "dtype": "F32"}}}\n' >"$T/ua.json"
printf '{"tensors": {"b.weight": {"shape": [2, 4, 4], "dtype": "F32"}, "d.bias": {"shape": [3], "dtype": "F32"}}}\n' >"$T/ub.json"
printf 'weightbridge 1\nparam n_groups\nrename "a.weight" -> "b.weight"\nreshape "b.weight" [n_groups, -1, 4]\n' >"$T/mine.wbr"
$WBR match "$T/ua.json" "$T/ub.json" --update "$T/mine.wbr" --param n_groups=2 --param n_heads=4 -o "$T/u.wbr" 2>"$T/uerr"
rc=$?
if [ $rc -eq 0 ] && grep -q '^param n_groups$' "$T/u.wbr" && grep -q '^rename "c.' "$T/u.wbr" && ! grep -q '^param n_heads' "$T/u.wbr"; then
  pass match/params/update; else fail match/params/update "exit $rc: $(head -c 300 "$T/uerr")"; fi
ok match/params/update-checks $WBR check "$T/u.wbr" "$T/ua.json" -t "$T/ub.json" --param n_groups=2
rejects match/params/update-needs-value 1 "n_groups" $WBR match "$T/ua.json" "$T/ub.json" --update "$T/mine.wbr" -o "$T/u2.wbr"
