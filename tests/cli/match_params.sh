# match_params.sh — the head counts `wbr match` takes (matcher/famtab.c): --param n_heads and
# n_kv_heads, or --config; any other --param is one usage error with "did you mean" (a config's
# other keys are not: a config holds many).
. "$(dirname "$0")/../lib.sh"
P=tests/fixtures/vit_tv_to_timm
rejects match/params/unknown 2 "did you mean n_heads?" $WBR match $P/a.json $P/b.json --param n_head=4
rejects match/params/unused 2 "wbr match has no parameter 'dim'" $WBR match $P/a.json $P/b.json --param dim=4
printf '{"num_attention_heads": 4, "hidden_size": 48, "vocab_size": 10}\n' >"$T/config.json"
ok match/params/config-keys-ignored $WBR match $P/a.json $P/b.json --config "$T/config.json" -o "$T/d.wbr"
ok match/params/known $WBR match $P/a.json $P/b.json --param n_heads=4 -o "$T/d2.wbr"
