# hfdir.sh — Hugging Face model directories (issue 15) as a user holds them, written here with
# torch and tests/apply/st.py (the tests' strict reader and writer) like a hub download: as SRC
# (model.safetensors, an index and shards, pytorch_model.bin; the .bin index once its reader is
# in), as TARGET, and as the OUTPUT of apply and convert (-o DIR/), laid out as save_pretrained
# lays it out and read back by wbr and by an independent reader (st.py), values bytewise;
# --copy; config.json as the rules' parameters; stale shards of an earlier save; and the bad
# cases, each one clear error with every input and every earlier output unchanged.
. "$(dirname "$0")/../lib.sh"
needs_py cli/hfdir torch numpy || exit 0
cd "$T" || exit 1
export PYTHONPATH="$TOP/tests/apply${PYTHONPATH:+:$PYTHONPATH}"

"$PY" - <<'PY' || fail cli/hfdir/setup "could not write the directories"
import json, os, torch, st
def save_file(tensors, path, metadata=None):
    st.write(path, [st.from_array(k, v.numpy()) for k, v in tensors.items()], metadata)
torch.manual_seed(15)
sd = {"emb": torch.randn(16, 8), "l0.w": torch.randn(8, 8), "l0.b": torch.randn(8),
      "l1.w": torch.randn(8, 8), "l1.b": torch.randn(8), "head": torch.randn(4, 8)}
torch.save(sd, "ref.pt")
cfg = {"architectures": ["Toy"], "model_type": "toy", "num_attention_heads": 2, "hidden_size": 8,
       "torch_dtype": "float32", "layer_norm_eps": 1e-5}
def hub(d, files):
    os.makedirs(d, exist_ok=True)
    json.dump(cfg, open(d + "/config.json", "w"))
    open(d + "/tokenizer.json", "w").write('{"version": "1.0", "model": {"vocab": {"a": 0}}}\n')
    for name, write in files: write(d + "/" + name)
# A single model.safetensors, as save_pretrained writes small models.
hub("hub", [("model.safetensors", lambda p: save_file(sd, p, metadata={"format": "pt"}))])
# An index and two shards, as save_pretrained writes them past max_shard_size.
def shards(d, ext, save):
    names = list(sd)
    parts = [names[:3], names[3:]]
    wm, total = {}, 0
    for k, part in enumerate(parts):
        f = "%s-%05d-of-%05d.%s" % ("model" if ext == "safetensors" else "pytorch_model", k + 1, len(parts), ext)
        save({n: sd[n] for n in part}, d + "/" + f)
        for n in part:
            wm[n] = f
            total += sd[n].numel() * sd[n].element_size()
    idx = "model.safetensors.index.json" if ext == "safetensors" else "pytorch_model.bin.index.json"
    json.dump({"metadata": {"total_size": total}, "weight_map": wm}, open(d + "/" + idx, "w"), indent=2)
hub("hubsh", [])
shards("hubsh", "safetensors", lambda t, p: save_file(t, p, metadata={"format": "pt"}))
hub("hubbin", [("pytorch_model.bin", lambda p: torch.save(sd, p))])
hub("hubbinsh", [])
shards("hubbinsh", "bin", lambda t, p: torch.save(t, p))
# Both formats, as many hub repositories hold them: safetensors wins (transformers' order), so
# the .bin here holds other values that must not be read.
hub("both", [("model.safetensors", lambda p: save_file(sd, p)),
             ("pytorch_model.bin", lambda p: torch.save({k: v + 1 for k, v in sd.items()}, p))])
# The Hugging Face cache: snapshot files are symlinks to blobs.
os.makedirs("cache/blobs", exist_ok=True)
os.makedirs("cache/snapshots/abc", exist_ok=True)
save_file(sd, "cache/blobs/0123abcd", metadata={"format": "pt"})
json.dump(cfg, open("cache/blobs/4567cdef", "w"))
os.symlink("../../blobs/0123abcd", "cache/snapshots/abc/model.safetensors")
os.symlink("../../blobs/4567cdef", "cache/snapshots/abc/config.json")
# A PEFT adapter directory, a directory with a single file and a stale index, an empty one.
os.makedirs("adapter", exist_ok=True)
json.dump({"peft_type": "LORA"}, open("adapter/adapter_config.json", "w"))
save_file({"base_model.model.q.lora_A.weight": torch.zeros(2, 8)}, "adapter/adapter_model.safetensors")
hub("twoforms", [("model.safetensors", lambda p: save_file(sd, p))])
shards("twoforms", "safetensors", lambda t, p: save_file(t, p))
os.makedirs("empty", exist_ok=True)
hub("noweights", [])
# The same model as a plain file, for the target and for comparisons.
save_file(sd, "flat.safetensors")
PY

cat >r.wbr <<'W'
weightbridge 1
rename "emb" -> "embed.weight"
rename "l{i}.w" -> "layers.{i}.weight"
rename "l{i}.b" -> "layers.{i}.bias"
rename "head" -> "lm_head.weight"
W

# compare ID OUT [MAP] : every tensor of OUT (file or directory, read by st.py: safetensors, or
# an index and its shards) equals ref.pt's, bytewise, under r.wbr's names (MAP=plain: as named).
compare() {
  if "$PY" - "$2" "${3:-renamed}" >"$T/cmp" 2>&1 <<'PY'; then pass "$1"; else fail "$1" "$(head -c 400 "$T/cmp")"; fi
import json, os, re, sys, torch, st
def load_file(path):
    return {t.name: t for t in st.read(path)[0]}
out, how = sys.argv[1], sys.argv[2]
ref = torch.load("ref.pt")
def new(n):
    if how == "plain": return n
    if n == "emb": return "embed.weight"
    if n == "head": return "lm_head.weight"
    m = re.fullmatch(r"l(\d)\.(w|b)", n)
    return "layers.%s.%s" % (m.group(1), "weight" if m.group(2) == "w" else "bias")
got = {}
if os.path.isdir(out):
    if os.path.exists(out + "/model.safetensors"):
        got = load_file(out + "/model.safetensors")
    else:
        idx = json.load(open(out + "/model.safetensors.index.json"))
        for f in sorted(set(idx["weight_map"].values())):
            got.update(load_file(out + "/" + f))
else:
    got = load_file(out)
want = {new(k): v for k, v in ref.items()}
assert list(got) == list(want) or set(got) == set(want), (list(got), list(want))
for k, v in want.items():
    assert got[k].dtype == "F32" and got[k].shape == tuple(v.shape), k
    assert got[k].data == v.numpy().tobytes(), "values of " + k
PY
}

# ---- As a source ----------------------------------------------------------------------------
ok hfdir/inspect-single "$WBR" inspect hub
grep -q '^hub: Hugging Face directory (model.safetensors), 6 tensors' "$T/.out" && pass hfdir/inspect-names-layout \
  || fail hfdir/inspect-names-layout "$(head -n 1 "$T/.out")"
"$WBR" inspect hub/ --json >dir.json && "$WBR" inspect hub/model.safetensors --json >file.json
same hfdir/inspect-json-as-the-file dir.json file.json
ok hfdir/inspect-sharded "$WBR" inspect hubsh/
grep -q 'Hugging Face directory (model.safetensors.index.json), 6 tensors' "$T/.out" && pass hfdir/inspect-sharded-layout \
  || fail hfdir/inspect-sharded-layout "$(head -n 1 "$T/.out")"
ok hfdir/inspect-bin "$WBR" inspect hubbin
grep -q 'Hugging Face directory (pytorch_model.bin), 6 tensors' "$T/.out" && pass hfdir/inspect-bin-layout \
  || fail hfdir/inspect-bin-layout "$(head -n 1 "$T/.out")"
ok hfdir/inspect-hf-cache-snapshot "$WBR" inspect cache/snapshots/abc

ok hfdir/apply-from-single "$WBR" apply r.wbr hub/ -o a1.safetensors
compare hfdir/apply-from-single-values a1.safetensors
ok hfdir/apply-from-sharded "$WBR" apply r.wbr hubsh -o a2.safetensors
compare hfdir/apply-from-sharded-values a2.safetensors
ok hfdir/apply-from-bin "$WBR" apply r.wbr hubbin/ -o a3.safetensors
compare hfdir/apply-from-bin-values a3.safetensors
ok hfdir/both-formats-reads-safetensors "$WBR" apply r.wbr both/ -o a4.safetensors
compare hfdir/both-formats-safetensors-values a4.safetensors
# The sharded .bin index is read by the PyTorch index reader (issue 15's other half): tested
# where this tree has it.
if "$WBR" inspect hubbinsh/pytorch_model.bin.index.json >/dev/null 2>&1; then
  ok hfdir/apply-from-bin-index "$WBR" apply r.wbr hubbinsh/ -o a5.safetensors
  compare hfdir/apply-from-bin-index-values a5.safetensors
else
  echo "SKIP: hfdir/apply-from-bin-index: this tree has no reader of pytorch_model.bin.index.json yet"
fi

# ---- As a target ----------------------------------------------------------------------------
mkdir -p tgt && cp a1.safetensors tgt/model.safetensors
ok hfdir/check-against-target-dir "$WBR" check r.wbr flat.safetensors -t tgt
rejects hfdir/check-against-wrong-target-dir 1 "check failed" "$WBR" check r.wbr flat.safetensors -t hub

# ---- As the output --------------------------------------------------------------------------
ok hfdir/out-single "$WBR" apply r.wbr hub/ -o o1/
[ "$(ls o1)" = "model.safetensors" ] && pass hfdir/out-single-layout || fail hfdir/out-single-layout "$(ls o1 | tr '\n' ' ')"
compare hfdir/out-single-values o1
ok hfdir/out-single-reads-back "$WBR" inspect o1/
grep -q '^metadata: format = pt$' "$T/.out" && pass hfdir/out-single-format-pt || fail hfdir/out-single-format-pt "$(grep metadata "$T/.out")"

# Sharded past --max-shard-size: 600 bytes gives shards of 512, 576 and 128 bytes (greedy, in
# order, as save_pretrained). The layout is checked against a plan computed here.
ok hfdir/out-sharded "$WBR" apply r.wbr hub/ -o o2/ --max-shard-size 600
check_sharded() {
  if "$PY" - "$2" "$3" >"$T/sh" 2>&1 <<'PY'; then pass "$1"; else fail "$1" "$(head -c 500 "$T/sh")"; fi
import json, os, re, sys, st
d, mx = sys.argv[1], int(sys.argv[2])
idx = json.load(open(d + "/model.safetensors.index.json"))
assert set(idx) == {"metadata", "weight_map"}, idx.keys()
files = sorted(set(idx["weight_map"].values()))
n = len(files)
assert files == ["model-%05d-of-%05d.safetensors" % (k + 1, n) for k in range(n)], files
assert sorted(os.listdir(d)) == sorted(files + ["model.safetensors.index.json"]), os.listdir(d)
total, names, plan, cur = 0, [], [], None
sizes = {}
for f in files:
    for t in st.read(d + "/" + f)[0]:
        assert idx["weight_map"][t.name] == f, (t.name, f)
        names.append(t.name)
        sizes[t.name] = len(t.data)
        total += len(t.data)
assert sorted(names) == sorted(idx["weight_map"]), "weight_map and shards differ"
assert idx["metadata"]["total_size"] == total, (idx["metadata"]["total_size"], total)
# save_pretrained's greedy split of the tensors in order
shard = []
for nm in idx["weight_map"]:
    if shard and sum(sizes[x] for x in shard) + sizes[nm] > mx:
        plan.append(shard); shard = []
    shard.append(nm)
plan.append(shard)
assert len(plan) == n, (len(plan), n)
for k, part in enumerate(plan):
    assert all(idx["weight_map"][x] == files[k] for x in part), (k, part)
PY
}
check_sharded hfdir/out-sharded-layout o2 600
compare hfdir/out-sharded-values o2
ok hfdir/out-sharded-reads-back "$WBR" inspect o2
grep -q 'model.safetensors.index.json), 6 tensors' "$T/.out" && pass hfdir/out-sharded-inspect || fail hfdir/out-sharded-inspect "$(head -n 1 "$T/.out")"
[ "$(ls o2 | grep -c '^model-0000[123]-of-00003.safetensors$')" = 3 ] && pass hfdir/out-sharded-three || fail hfdir/out-sharded-three "$(ls o2 | tr '\n' ' ')"

# Saved again, smaller: the one file replaces the index and shards; files of other names stay.
echo "# notes" >o2/README.md
ok hfdir/resave-single "$WBR" apply r.wbr hub/ -o o2/
[ "$(ls o2 | tr '\n' ' ')" = "README.md model.safetensors " ] && pass hfdir/resave-removes-stale-shards \
  || fail hfdir/resave-removes-stale-shards "$(ls o2 | tr '\n' ' ')"
compare hfdir/resave-values o2
# And larger again, with another count: the single file and shards of another count go.
ok hfdir/resave-2-shards "$WBR" apply r.wbr hub/ -o o2 --max-shard-size 1000
ok hfdir/resave-3-shards "$WBR" apply r.wbr hub/ -o o2/ --max-shard-size 600
[ "$(ls o2 | tr '\n' ' ')" = "README.md model-00001-of-00003.safetensors model-00002-of-00003.safetensors model-00003-of-00003.safetensors model.safetensors.index.json " ] \
  && pass hfdir/resave-removes-other-count || fail hfdir/resave-removes-other-count "$(ls o2 | tr '\n' ' ')"
ok hfdir/resave-3-reads "$WBR" inspect o2/

ok hfdir/out-sync-new-dir "$WBR" apply r.wbr hubsh/ -o o8/ --sync --max-shard-size 600
check_sharded hfdir/out-sync-layout o8 600
compare hfdir/out-sync-values o8

# convert: a directory to a directory (the .bin one as safetensors), and a cast.
ok hfdir/convert-bin-dir "$WBR" convert hubbin/ -o o3/
compare hfdir/convert-bin-dir-values o3 plain
ok hfdir/convert-bf16 "$WBR" convert hubsh -o o4/ --dtype bf16
"$WBR" inspect o4 >"$T/i4" && grep -q 'emb  *BF16' "$T/i4" && pass hfdir/convert-bf16-dtypes || fail hfdir/convert-bf16-dtypes "$(head -n 4 "$T/i4")"
# Beside the source's .bin, in the source directory itself: the .bin stays untouched.
cp -r hubbin inplace && md5sum inplace/pytorch_model.bin >sum.before
ok hfdir/convert-in-place-beside-bin "$WBR" convert inplace/ -o inplace/
md5sum inplace/pytorch_model.bin | cmp -s - sum.before && pass hfdir/in-place-bin-untouched || fail hfdir/in-place-bin-untouched changed
"$WBR" inspect inplace >"$T/ip" && grep -q '(model.safetensors)' "$T/ip" && pass hfdir/in-place-reads-safetensors || fail hfdir/in-place-reads-safetensors "$(head -n 1 "$T/ip")"

# ---- --copy ----------------------------------------------------------------------------------
mkdir -p extra && echo "extra notes" >extra/NOTES.txt
ok hfdir/copy "$WBR" apply r.wbr hub/ -o o5/ --copy config.json --copy tokenizer.json --copy extra/NOTES.txt
same hfdir/copy-config o5/config.json hub/config.json
same hfdir/copy-tokenizer o5/tokenizer.json hub/tokenizer.json
same hfdir/copy-path o5/NOTES.txt extra/NOTES.txt
[ "$(ls o5 | tr '\n' ' ')" = "NOTES.txt config.json model.safetensors tokenizer.json " ] && pass hfdir/copy-layout || fail hfdir/copy-layout "$(ls o5 | tr '\n' ' ')"
# The README's workflow line, with a manifest target.
"$WBR" inspect a1.safetensors --json >mine.json
ok hfdir/readme-workflow "$WBR" apply r.wbr hub/ -t mine.json -o out/ --copy config.json
same hfdir/readme-workflow-config out/config.json hub/config.json
compare hfdir/readme-workflow-values out
# Not asked, config.json is not copied: a note says so.
ok hfdir/no-copy-by-default "$WBR" apply r.wbr hub/ -o o6/
[ ! -e o6/config.json ] && pass hfdir/no-copy-by-default-absent || fail hfdir/no-copy-by-default-absent "config.json copied"
grep -qF "note: hub/config.json was not copied into o6/; add --copy config.json" "$T/.err" && pass hfdir/no-copy-note \
  || fail hfdir/no-copy-note "$(head -c 300 "$T/.err")"
ok hfdir/quiet-no-note "$WBR" apply -q r.wbr hub/ -o o6/
[ ! -s "$T/.err" ] && pass hfdir/quiet-silent || fail hfdir/quiet-silent "$(head -c 200 "$T/.err")"
ok hfdir/copy-from-hf-cache "$WBR" convert cache/snapshots/abc -o o7/ --copy config.json
[ -f o7/config.json ] && [ ! -L o7/config.json ] && cmp -s o7/config.json cache/blobs/4567cdef && pass hfdir/copy-from-cache-is-a-file \
  || fail hfdir/copy-from-cache-is-a-file "$(ls -l o7)"

# ---- config.json as the rules' parameters ----------------------------------------------------
cat >p.wbr <<'W'
weightbridge 1
param n_heads
param dim
reshape "head" [n_heads, -1]
expect "head" shape [n_heads, dim * 4 / n_heads]
W
ok hfdir/params-from-config "$WBR" apply p.wbr hub/ -o p1.safetensors
"$WBR" inspect p1.safetensors >"$T/p1" && grep -Eq '^head +F32 +\[2, 16\]' "$T/p1" && pass hfdir/params-from-config-shape \
  || fail hfdir/params-from-config-shape "$(grep head "$T/p1")"
ok hfdir/params-flag-wins "$WBR" apply p.wbr hub/ -o p2.safetensors --param n_heads=4
"$WBR" inspect p2.safetensors >"$T/p2" && grep -Eq '^head +F32 +\[4, 8\]' "$T/p2" && pass hfdir/params-flag-wins-shape \
  || fail hfdir/params-flag-wins-shape "$(grep head "$T/p2")"
echo '{"num_attention_heads": 1, "hidden_size": 8}' >own.json
ok hfdir/params-config-flag-wins "$WBR" plan p.wbr hub --config own.json
grep -q '\[1, 32\]' "$T/.out" && pass hfdir/params-config-flag-shape || fail hfdir/params-config-flag-shape "$(grep head "$T/.out")"
"$WBR" plan -v p.wbr hub >/dev/null 2>"$T/pv"
grep -qF "parameters from hub/config.json" "$T/pv" && pass hfdir/params-verbose-says-so || fail hfdir/params-verbose-says-so "$(head -c 300 "$T/pv")"
rejects hfdir/params-missing-without-dir 1 "n_heads" "$WBR" plan p.wbr flat.safetensors
ok hfdir/match-takes-dir "$WBR" match hub/ mine.json -o drafted.wbr

# ---- Bad cases: one clear error; inputs and earlier outputs unchanged ------------------------
sums() { find hub hubsh o1 o5 -type f -exec md5sum {} + | sort; }
sums >sums.before
unchanged() {
  sums >sums.after
  cmp -s sums.before sums.after && pass "$1" || fail "$1" "$(diff sums.before sums.after | head -n 6 | tr '\n' '|')"
}
rejects hfdir/bad-empty-dir 1 "no model weights in this directory: looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json" \
  "$WBR" inspect empty
rejects hfdir/bad-two-forms 1 "the directory holds both model.safetensors and model.safetensors.index.json" "$WBR" inspect twoforms
rejects hfdir/bad-adapter 1 "PEFT adapter directory" "$WBR" apply r.wbr adapter/ -o bad1/
[ ! -e bad1 ] && pass hfdir/bad-adapter-nothing-made || fail hfdir/bad-adapter-nothing-made "bad1 exists"
rejects hfdir/bad-copy-missing 1 "cannot open the file to copy" "$WBR" apply r.wbr hub/ -o o1/ --copy nothere.json
unchanged hfdir/bad-copy-missing-unchanged
rejects hfdir/bad-copy-missing-new-dir 1 "nothere.json" "$WBR" apply r.wbr hub/ -o bad2/ --copy nothere.json
[ ! -e bad2 ] && pass hfdir/bad-copy-no-dir-left || fail hfdir/bad-copy-no-dir-left "bad2 left behind: $(ls -la bad2)"
rejects hfdir/bad-copy-weights 2 "where the converted weights go" "$WBR" apply r.wbr hub/ -o o1/ --copy model.safetensors
rejects hfdir/bad-copy-twice 2 "is copied twice" "$WBR" apply r.wbr hub/ -o o1/ --copy config.json --copy hubsh/config.json
rejects hfdir/bad-copy-onto-itself 2 "onto itself" "$WBR" convert hubbin/ -o hubbin/ --copy config.json
rejects hfdir/bad-copy-file-output 2 "need a directory output" "$WBR" apply r.wbr hub/ -o bad3.safetensors --copy config.json
[ ! -e bad3.safetensors ] && pass hfdir/bad-copy-file-output-nothing || fail hfdir/bad-copy-file-output-nothing "written"
rejects hfdir/bad-copy-needs-value 2 "--copy needs a file" "$WBR" apply r.wbr hub/ -o o1/ --copy
echo x >afile
rejects hfdir/bad-out-is-file 2 "the output names a directory, but" "$WBR" apply r.wbr hub/ -o afile/
ln -s o1 olink
rejects hfdir/bad-out-symlink 2 "the output directory is a symbolic link" "$WBR" apply r.wbr hub/ -o olink/
rejects hfdir/bad-out-symlink-no-slash 2 "the output directory is a symbolic link" "$WBR" apply r.wbr hub/ -o olink
rejects hfdir/bad-out-no-parent 2 "cannot create the output directory" "$WBR" apply r.wbr hub/ -o no/such/
rejects hfdir/bad-out-is-source 2 "the output is the same file as the input" "$WBR" apply r.wbr hub/ -o hub/
rejects hfdir/bad-out-source-shards-stale 2 "which the new model.safetensors would leave stale" "$WBR" convert hubsh/ -o hubsh/
# A snapshot of the Hugging Face cache as the output: its files are links to blobs, never
# written through.
cp cache/blobs/0123abcd blob.before
rejects hfdir/bad-out-cache-links 2 "symbolic link" "$WBR" convert hub/ -o cache/snapshots/abc/
cmp -s cache/blobs/0123abcd blob.before && pass hfdir/bad-out-cache-blob-untouched || fail hfdir/bad-out-cache-blob-untouched "the blob changed"
# A sharded save beside a cache link of the single file: the link would be left stale.
rejects hfdir/bad-out-stale-link 2 "holds a symbolic link of this name" "$WBR" convert hub/ -o cache/snapshots/abc/ --max-shard-size 600
[ "$(ls cache/snapshots/abc | tr '\n' ' ')" = "config.json model.safetensors " ] && pass hfdir/bad-out-stale-link-nothing-written \
  || fail hfdir/bad-out-stale-link-nothing-written "$(ls cache/snapshots/abc | tr '\n' ' ')"
unchanged hfdir/bad-all-unchanged
mkdir -p broken && printf 'abc' >broken/model.safetensors
rejects hfdir/bad-weights-named-inside 1 "broken/model.safetensors: error: file is 3 bytes" "$WBR" inspect broken/
