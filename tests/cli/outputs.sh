# outputs.sh — every writing command (apply, match -o, compile -o, fmt -w) as a user runs it,
# against issue 9's output-safety items: no output replaces an input however it is spelled
# (symlink, hard link, ./x, dir/../x, FILE#KEY, a shard, a future output shard, the rule file,
# the target); devices and FIFOs are written in place; symlinks are written through; modes;
# concurrent sharded applies never mix; a signal leaves no named temporary; FIFO inputs fail fast.
. "$(dirname "$0")/../lib.sh"
needs_py outputs/python numpy || exit 0
W=$T/w
mkdir -p "$W/sub" && cd "$W" || exit 1
"$PY" - <<'PY' || fail outputs/setup "could not write the inputs"
import json, struct
import numpy as np
def st(tensors):
    h, off, blobs = {}, 0, []
    for n, a in tensors:
        b = a.tobytes(); h[n] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b); blobs.append(b)
    hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"".join(blobs)
A = np.arange(64, dtype="<f4").reshape(8, 8)
open("src.safetensors", "wb").write(st([("w", A)]))
open("m-00001-of-00002.safetensors", "wb").write(st([("w", A)]))
open("m-00002-of-00002.safetensors", "wb").write(st([("b", A[0])]))
json.dump({"metadata": {}, "weight_map": {"w": "m-00001-of-00002.safetensors", "b": "m-00002-of-00002.safetensors"}},
          open("m.safetensors.index.json", "w"))
open("out-00001-of-00001.safetensors", "wb").write(st([("w", A)]))
json.dump({"tensors": {"weight": {"shape": [8, 8], "dtype": "F32"}}}, open("target.json", "w"))
rng = np.random.default_rng(9)
open("conc.safetensors", "wb").write(st([(f"t{k}", rng.standard_normal((256, 256)).astype("<f4")) for k in range(6)]))
PY
# A PyTorch checkpoint with state beside the model (what FILE.pt#model must never destroy).
"$PY" -c '
import torch
torch.save({"model": {"w": torch.arange(64, dtype=torch.float32).reshape(8, 8)}, "optimizer": {"state": {}}, "epoch": 3}, "ckpt.pt")
' 2>/dev/null || fail outputs/setup-torch "could not write ckpt.pt"
printf 'weightbridge 1\nrename "w" -> "weight"\n' >r.wbr
printf 'weightbridge 1\noptional drop "nothing"\n' >noop.wbr
ln -s src.safetensors link.safetensors
ln src.safetensors hard.safetensors
ln -s r.wbr rules.safetensors
ln -s r.wbr rl.wbc
ln r.wbr hard.wbc
ln -s target.json tl.json
ln -s m-00002-of-00002.safetensors shard-link.safetensors

INPUTS="src.safetensors ckpt.pt m.safetensors.index.json m-00001-of-00002.safetensors
  m-00002-of-00002.safetensors out-00001-of-00001.safetensors target.json r.wbr noop.wbr"
sums() { md5sum $INPUTS 2>/dev/null; }
sums >"$T/sums.before"
SAME="the output is the same file as the input"

# refused ID 'stderr substring' CMD... : exit 2 with the message, and every input unchanged.
refused() {
  id=$1; want=$2; shift 2
  "$@" >"$T/.out" 2>"$T/.err"
  rc=$?
  sums >"$T/sums.after"
  if [ $rc -ne 2 ]; then fail "$id" "exit $rc, wanted 2 — $(head -c 300 "$T/.err")"
  elif ! grep -qF -- "$want" "$T/.err"; then fail "$id" "stderr lacks '$want': $(head -c 300 "$T/.err")"
  elif ! cmp -s "$T/sums.before" "$T/sums.after"; then fail "$id" "an input changed: $(diff "$T/sums.before" "$T/sums.after" | tr '\n' '|')"
  elif [ -L link.safetensors ] && [ -L rl.wbc ] && [ -L tl.json ]; then pass "$id"
  else fail "$id" "a symlink was replaced"; fi
}

# ---- 1. no output replaces an input, however it is spelled ----
refused outputs/apply-key-source "$SAME" "$WBR" apply noop.wbr 'ckpt.pt#model' -o ckpt.pt
refused outputs/apply-key-target "$SAME" "$WBR" apply noop.wbr src.safetensors -t 'ckpt.pt#model' -o ckpt.pt
refused outputs/apply-symlink "$SAME" "$WBR" apply r.wbr src.safetensors -o link.safetensors
refused outputs/apply-hard-link "$SAME" "$WBR" apply r.wbr src.safetensors -o hard.safetensors
refused outputs/apply-dot-slash "$SAME" "$WBR" apply r.wbr src.safetensors -o ./src.safetensors
refused outputs/apply-dot-dot "$SAME" "$WBR" apply r.wbr src.safetensors -o sub/../src.safetensors
refused outputs/apply-source-shard "$SAME" "$WBR" apply noop.wbr m.safetensors.index.json -o m-00001-of-00002.safetensors
refused outputs/apply-source-shard-link "$SAME" "$WBR" apply noop.wbr m.safetensors.index.json -o shard-link.safetensors
refused outputs/apply-source-index "$SAME" "$WBR" apply noop.wbr m.safetensors.index.json -o ./m.safetensors.index.json
refused outputs/apply-future-shard "$SAME" "$WBR" apply r.wbr out-00001-of-00001.safetensors -o out.safetensors.index.json
refused outputs/apply-rule-file "$SAME" "$WBR" apply r.wbr src.safetensors -o rules.safetensors
refused outputs/apply-target "$SAME" "$WBR" apply r.wbr src.safetensors -t target.json -o tl.json
[ -e out.safetensors.index.json ] && fail outputs/apply-future-shard-no-index "an index was written" \
  || pass outputs/apply-future-shard-no-index
refused outputs/match-src "$SAME" "$WBR" match src.safetensors target.json -o src.safetensors
refused outputs/match-src-symlink "$SAME" "$WBR" match src.safetensors target.json -o link.safetensors
refused outputs/match-src-hard-link "$SAME" "$WBR" match src.safetensors target.json -o hard.safetensors
refused outputs/match-target "$SAME" "$WBR" match src.safetensors target.json -o ./target.json
refused outputs/match-target-symlink "$SAME" "$WBR" match src.safetensors target.json -o sub/../tl.json
refused outputs/match-key-source "$SAME" "$WBR" match 'ckpt.pt#model' target.json -o ckpt.pt
refused outputs/match-source-shard "$SAME" "$WBR" match m.safetensors.index.json target.json -o m-00002-of-00002.safetensors
refused outputs/compile-rule-file "would overwrite a rule file" "$WBR" compile r.wbr -o r.wbr
refused outputs/compile-rule-symlink "would overwrite a rule file" "$WBR" compile r.wbr -o rl.wbc
refused outputs/compile-rule-hard-link "would overwrite a rule file" "$WBR" compile r.wbr -o hard.wbc
refused outputs/compile-rule-dot-dot "would overwrite a rule file" "$WBR" compile r.wbr -o sub/../r.wbr
refused outputs/compile-weight-file "is not a .wbc file" "$WBR" compile r.wbr -o src.safetensors
refused outputs/compile-pt "is not a .wbc file" "$WBR" compile r.wbr -o ckpt.pt
# fmt -w writes only the rule file it formatted: a weight file or a manifest never parses, so it is
# never rewritten.
for f in src.safetensors target.json link.safetensors; do
  "$WBR" fmt -w "$f" >/dev/null 2>&1
  rc=$?
  sums >"$T/sums.after"
  [ $rc -eq 1 ] && cmp -s "$T/sums.before" "$T/sums.after" && [ -L link.safetensors ] && pass "outputs/fmt-w-not-rules-$f" \
    || fail "outputs/fmt-w-not-rules-$f" "exit $rc or an input changed"
done
# The --update file is read whole before the draft is written: rewriting it in place is the point.
cp r.wbr upd.wbr
ok outputs/match-update-in-place "$WBR" match src.safetensors target.json --update upd.wbr -o upd.wbr

# ---- 2. devices and FIFOs are written in place, never replaced ----
is_char() { [ -c "$1" ] && [ ! -L "$1" ]; }
if mknod "$W/null.wbc" c 1 3 2>/dev/null && mknod "$W/null.wbr" c 1 3 && mknod "$W/null.safetensors" c 1 3; then
  ok outputs/device-compile "$WBR" compile r.wbr -o "$W/null.wbc"
  is_char "$W/null.wbc" && pass outputs/device-compile-still-device || fail outputs/device-compile-still-device "$(ls -l "$W/null.wbc")"
  ok outputs/device-match "$WBR" match src.safetensors target.json -o "$W/null.wbr"
  is_char "$W/null.wbr" && pass outputs/device-match-still-device || fail outputs/device-match-still-device "$(ls -l "$W/null.wbr")"
  ok outputs/device-apply "$WBR" apply r.wbr src.safetensors -o "$W/null.safetensors"
  is_char "$W/null.safetensors" && pass outputs/device-apply-still-device || fail outputs/device-apply-still-device "$(ls -l "$W/null.safetensors")"
  rejects outputs/device-fmt-w 1 "not a regular file" "$WBR" fmt -w "$W/null.wbr"
  is_char "$W/null.wbr" && pass outputs/device-fmt-w-still-device || fail outputs/device-fmt-w-still-device "$(ls -l "$W/null.wbr")"
  ln -s null.wbc "$W/nl.wbc"
  ok outputs/device-via-symlink "$WBR" compile r.wbr -o "$W/nl.wbc"
  is_char "$W/null.wbc" && [ -L "$W/nl.wbc" ] && pass outputs/device-via-symlink-kept || fail outputs/device-via-symlink-kept "$(ls -l "$W/nl.wbc" "$W/null.wbc")"
  rm -f "$W/null.wbc" "$W/null.wbr" "$W/null.safetensors" "$W/nl.wbc"
else
  fail outputs/device-mknod "cannot mknod (tests run as root)"
fi
# A FIFO receives exactly the bytes a file would.
"$WBR" match src.safetensors target.json >"$T/draft.want" 2>/dev/null
"$WBR" compile r.wbr -o "$T/r.wbc" 2>/dev/null
mkfifo "$W/pipe.wbr" "$W/pipe.wbc"
timeout 20 cat "$W/pipe.wbr" >"$T/draft.got" &
ok outputs/fifo-match "timeout" 10 "$WBR" match src.safetensors target.json -o "$W/pipe.wbr"
wait
same outputs/fifo-match-bytes "$T/draft.want" "$T/draft.got"
timeout 20 cat "$W/pipe.wbc" >"$T/wbc.got" &
ok outputs/fifo-compile "timeout" 10 "$WBR" compile r.wbr -o "$W/pipe.wbc"
wait
same outputs/fifo-compile-bytes "$T/r.wbc" "$T/wbc.got"
[ -p "$W/pipe.wbr" ] && [ -p "$W/pipe.wbc" ] && pass outputs/fifo-still-fifo || fail outputs/fifo-still-fifo "$(ls -l "$W"/pipe.*)"
rm -f "$W/pipe.wbr" "$W/pipe.wbc"
# /dev/stdout (a link into /proc) is the descriptor itself: a pipe or a redirected file.
"$WBR" match src.safetensors target.json -o /dev/stdout 2>/dev/null | cat >"$T/so-pipe.txt"
same outputs/stdout-pipe "$T/draft.want" "$T/so-pipe.txt"
"$WBR" match src.safetensors target.json -o /dev/stdout >"$T/so-file.txt" 2>/dev/null
same outputs/stdout-file "$T/draft.want" "$T/so-file.txt"
ln -s /dev/stdout so.safetensors
"$WBR" apply r.wbr src.safetensors -o so.safetensors >"$T/so.safetensors" 2>/dev/null
"$WBR" apply r.wbr src.safetensors -o "$T/plain.safetensors" 2>/dev/null
same outputs/stdout-apply "$T/plain.safetensors" "$T/so.safetensors"
[ -L so.safetensors ] && [ -L /dev/stdout ] && pass outputs/stdout-still-link || fail outputs/stdout-still-link "$(ls -l so.safetensors /dev/stdout)"

# ---- 4. symlinks are written through; the link stays a link ----
printf 'weightbridge 1\nrename   "w" -> "weight"\n' >real.wbr
ln -s real.wbr fl.wbr
ok outputs/fmt-w-symlink "$WBR" fmt -w fl.wbr
[ -L fl.wbr ] && [ "$(readlink fl.wbr)" = real.wbr ] && pass outputs/fmt-w-symlink-kept || fail outputs/fmt-w-symlink-kept "$(ls -l fl.wbr)"
ok outputs/fmt-w-symlink-target-formatted "$WBR" fmt --check real.wbr
ln -s sub/draft.wbr dl.wbr
ok outputs/match-dangling-symlink "$WBR" match src.safetensors target.json -o dl.wbr
[ -L dl.wbr ] && [ -f sub/draft.wbr ] && pass outputs/match-dangling-symlink-target || fail outputs/match-dangling-symlink-target "$(ls -l dl.wbr sub)"
ln -s nodir/x.wbr bad.wbr
rejects outputs/match-dangling-no-dir 1 "does not exist" "$WBR" match src.safetensors target.json -o bad.wbr
"$WBR" apply r.wbr src.safetensors -o real.safetensors 2>/dev/null
cp real.safetensors "$T/real.want"
printf 'junk' >real.safetensors
ln -s real.safetensors ol.safetensors
ok outputs/apply-symlink-out "$WBR" apply r.wbr src.safetensors -o ol.safetensors
[ -L ol.safetensors ] && pass outputs/apply-symlink-out-kept || fail outputs/apply-symlink-out-kept "$(ls -l ol.safetensors)"
same outputs/apply-symlink-out-target "$T/real.want" real.safetensors
# A link to a file of another kind is not written through: compile -o x.wbc must never turn a
# checkpoint into bytecode because x.wbc points to it (found after write-through: exit 0 and a
# destroyed weight file).
cp src.safetensors victim.safetensors
md5sum victim.safetensors >"$T/victim.sum"
ln -s victim.safetensors vl.wbc
ln -s victim.safetensors vl.wbr
rejects outputs/compile-link-to-other-kind 2 "a file of another kind" "$WBR" compile r.wbr -o vl.wbc
rejects outputs/match-link-to-other-kind 2 "a file of another kind" "$WBR" match src.safetensors target.json -o vl.wbr
md5sum -c --quiet "$T/victim.sum" >/dev/null 2>&1 && [ -L vl.wbc ] && pass outputs/link-to-other-kind-unchanged \
  || fail outputs/link-to-other-kind-unchanged "victim.safetensors changed or a link was replaced"
# A sharded index reached through a link would put the shards beside the link and an index that
# cannot find them at the target: refused.
mkdir -p realdir
ln -s realdir/x.safetensors.index.json il.safetensors.index.json
rejects outputs/sharded-index-symlink 2 "may not be a symbolic link" "$WBR" apply noop.wbr conc.safetensors -o il.safetensors.index.json --max-shard-size 300KB
[ -z "$(ls realdir)" ] && [ -z "$(ls il-* 2>/dev/null)" ] && pass outputs/sharded-index-symlink-nothing-written \
  || fail outputs/sharded-index-symlink-nothing-written "$(ls realdir il-* 2>&1 | tr '\n' ' ')"

# ---- 2. permissions: a new file gets 0666 & ~umask, a replaced one keeps its mode ----
mode() { stat -c %a "$1"; }
(umask 027; "$WBR" match src.safetensors target.json -o new1.wbr 2>/dev/null; "$WBR" compile r.wbr -o new2.wbc 2>/dev/null
 "$WBR" apply r.wbr src.safetensors -o new3.safetensors 2>/dev/null)
[ "$(mode new1.wbr) $(mode new2.wbc) $(mode new3.safetensors)" = "640 640 640" ] && pass outputs/mode-new-umask \
  || fail outputs/mode-new-umask "$(mode new1.wbr) $(mode new2.wbc) $(mode new3.safetensors), wanted 640"
chmod 600 new1.wbr new2.wbc new3.safetensors
"$WBR" match src.safetensors target.json -o new1.wbr 2>/dev/null; "$WBR" compile r.wbr -o new2.wbc 2>/dev/null
"$WBR" apply r.wbr src.safetensors -o new3.safetensors 2>/dev/null
[ "$(mode new1.wbr) $(mode new2.wbc) $(mode new3.safetensors)" = "600 600 600" ] && pass outputs/mode-replaced-kept \
  || fail outputs/mode-replaced-kept "$(mode new1.wbr) $(mode new2.wbc) $(mode new3.safetensors), wanted 600"
printf 'weightbridge 1\nrename   "w" -> "weight"\n' >m7.wbr
chmod 751 m7.wbr
"$WBR" fmt -w m7.wbr 2>/dev/null
[ "$(mode m7.wbr)" = 751 ] && pass outputs/mode-fmt-w-kept || fail outputs/mode-fmt-w-kept "$(mode m7.wbr)"
ls -a | grep -q '\.tmp$\|wbr-' && fail outputs/no-temporaries-left "$(ls -a | tr '\n' ' ')" || pass outputs/no-temporaries-left

# ---- 3. concurrent applies to one sharded OUT never mix runs ----
printf 'weightbridge 1\nrename "t{k}" -> "w{k}"\n' >ca.wbr
printf 'weightbridge 1\nrename "t{k}" -> "w{k}"\ntranspose "w{k}"\n' >cb.wbr
mkdir -p conc
bad=0
for it in 1 2 3 4 5 6; do
  rm -f conc/*
  pids=
  for r in ca cb ca cb; do
    "$WBR" apply --max-shard-size 300KB $r.wbr conc.safetensors -o conc/out.safetensors.index.json 2>>"$T/conc.err" &
    pids="$pids $!"
  done
  for p in $pids; do wait "$p" || bad=$((bad + 1)); done
  "$PY" - "$W" <<'PY' || bad=$((bad + 1))
import json, struct, sys
import numpy as np
d = sys.argv[1]
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    return {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], "<f4").reshape(v["shape"]) for k, v in h.items()}
src = load(f"{d}/conc.safetensors")
idx = json.load(open(f"{d}/conc/out.safetensors.index.json"))
out = {n: load(f"{d}/conc/{f}")[n] for n, f in idx["weight_map"].items()}
kinds = {"T" if np.array_equal(out[f"w{k}"], src[f"t{k}"].T) else "I" if np.array_equal(out[f"w{k}"], src[f"t{k}"]) else "?" for k in range(6)}
want = "cb.wbr" if kinds == {"T"} else "ca.wbr"
sys.exit(0 if len(kinds) == 1 and "?" not in kinds and idx["metadata"]["weightbridge.rules"] == want else 1)
PY
  [ "$(ls -a conc | grep -c '^\.[^.]')" = 0 ] || bad=$((bad + 1))
done
[ $bad -eq 0 ] && pass outputs/sharded-concurrent-consistent || fail outputs/sharded-concurrent-consistent "$bad bad results: $(head -c 300 "$T/conc.err")"

# ---- 5. a signal removes the named temporary (no O_TMPFILE: the test-only hook forces it) ----
"$PY" -c '
import json, struct
n = 64 << 20
h = json.dumps({"big": {"dtype": "F32", "shape": [4096, n // 4 // 4096], "data_offsets": [0, n]}}).encode()
h += b" " * (-len(h) % 8)
f = open("big.safetensors", "wb"); f.write(struct.pack("<Q", len(h)) + h); f.truncate(8 + len(h) + n)
'
printf 'weightbridge 1\ntranspose "big"\ncast "big" f64\n' >slow.wbr
for sig in TERM HUP INT; do
  for out in one.safetensors one.safetensors.index.json; do
    mkdir -p "sig$sig" && rm -rf "sig$sig"/* "sig$sig"/.[!.]*
    # sh starts background jobs with SIGINT ignored, and nohup (or a CI runner) may ignore SIGHUP:
    # restore the defaults first, since wbr keeps a signal that was ignored when it started.
    "$PY" -c 'import os, signal as s, sys; [s.signal(x, s.SIG_DFL) for x in (s.SIGINT, s.SIGHUP, s.SIGTERM)]; os.execvp(sys.argv[1], sys.argv[1:])' \
      env WBR_TEST_NO_TMPFILE=1 "$WBR" apply --max-shard-size 100MB slow.wbr big.safetensors -o "sig$sig/$out" 2>/dev/null &
    pid=$!
    seen=0
    for i in $(seq 1 500); do
      if ls -a "sig$sig" | grep -q '\.tmp$'; then seen=1; break; fi
      sleep 0.02
    done
    kill -"$sig" $pid 2>/dev/null
    wait $pid
    rc=$?
    left=$(ls -A "sig$sig" | tr '\n' ' ')
    if [ $seen -eq 1 ] && [ $rc -gt 128 ] && [ -z "$left" ]; then pass "outputs/signal-$sig-$out"
    else fail "outputs/signal-$sig-$out" "temporary seen=$seen rc=$rc left: '$left'"; fi
  done
done
rm -f big.safetensors

# ---- 12. a FIFO as an input fails at once ----
mkfifo fifo.safetensors fifo.json fifo.wbr fifo.wbc
mkdir -p fs && mkfifo fs/s.safetensors && printf '{"weight_map": {"a": "s.safetensors"}}' >fs/m.safetensors.index.json
rejects outputs/fifo-inspect 1 "is a FIFO (named pipe), not a regular file" timeout 10 "$WBR" inspect fifo.safetensors
rejects outputs/fifo-shard 1 "s.safetensors: error: the file is a FIFO" timeout 10 "$WBR" inspect fs/m.safetensors.index.json
rejects outputs/fifo-target 1 "is a FIFO" timeout 10 "$WBR" plan r.wbr src.safetensors -t fifo.json
rejects outputs/fifo-rules 1 "is a FIFO" timeout 10 "$WBR" plan fifo.wbr src.safetensors
rejects outputs/fifo-wbc 1 "not a regular file" timeout 10 "$WBR" plan fifo.wbc src.safetensors
rejects outputs/fifo-fmt 1 "is a FIFO" timeout 10 "$WBR" fmt fifo.wbr
rejects outputs/fifo-compile 1 "is a FIFO" timeout 10 "$WBR" compile fifo.wbr -o f.wbc
rejects outputs/fifo-match-update 1 "is a FIFO" timeout 10 "$WBR" match src.safetensors target.json --update fifo.wbr
cd "$TOP" || exit 1
