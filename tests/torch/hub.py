#!/usr/bin/python3
"""hub.py WORK — the PyTorch layouts model hubs hand out, against the real torch:
- a sharded .bin checkpoint (pytorch_model.bin.index.json beside pytorch_model-0000K-of-0000N.bin
  shards, each written here by torch.save as save_pretrained(safe_serialization=False) does) is
  read in weight-map order with torch's shapes and dtypes, converts to values equal to
  torch.load's (a transposed view and a bf16 tensor included), and its bad indexes are refused;
- a Lightning .ckpt (state_dict beside epoch, loops, callbacks, optimizer_states with tensors and
  Python scalars, lr_schedulers, hyper_parameters) reads its state_dict without #KEY, another
  entry with #KEY, and converts to torch.load(...)["state_dict"]'s values; it is never written;
- --from/--to override the extension (a checkpoint named weights.data), through the CLI."""
import json
import os
import sys

import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "npz"))
from wbrtest import bad_rows, check_ok, check_rejects, result, wbr  # noqa: E402
sys.path.insert(0, HERE)
from check import raw, read_st as read_st_rows  # noqa: E402

WORK = sys.argv[1]
os.makedirs(WORK, exist_ok=True)
ST_DT = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
         "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
         "BOOL": torch.bool}


def p(*names):
    return os.path.join(WORK, *names)


def read_st(path):
    """name -> (dtype name, shape, bytes), in file order, by check.py's independent reader."""
    return {name: (dt, shape, b) for name, dt, shape, b in read_st_rows(path)}


def same_as(tid, st_path, ref, prefix=""):
    """The safetensors file holds exactly ref's tensors (an ordered dict), bytes and all."""
    got = read_st(st_path)
    want = [(prefix + k, v) for k, v in ref.items()]
    bad = [k for k, v in want if k not in got or got[k][2] != raw(v) or got[k][1] != list(v.shape)
           or ST_DT[got[k][0]] != v.dtype]
    result(tid, not bad and list(got) == [k for k, _ in want], f"differ: {bad[:4]}, order {list(got)[:4]}")


def inspect_json(path, *extra):
    r = wbr("inspect", "--json", path, *extra)
    return r, (json.loads(r.stdout)["tensors"] if r.returncode == 0 else None)


# ---- Sharded .bin ---------------------------------------------------------------------------------

def save_sharded_bin(d, parts, prefix="pytorch_model"):
    """parts: list of dicts (one per shard); the index lists tensors in shard order, as
    transformers' save_pretrained does."""
    os.makedirs(d, exist_ok=True)
    n, wm, total = len(parts), {}, 0
    for k, part in enumerate(parts):
        f = f"{prefix}-{k + 1:05d}-of-{n:05d}.bin"
        torch.save(part, os.path.join(d, f))
        for name, t in part.items():
            wm[name] = f
            total += t.numel() * t.element_size()
    idx = os.path.join(d, f"{prefix}.bin.index.json")
    with open(idx, "w") as fh:
        json.dump({"metadata": {"total_size": total}, "weight_map": wm}, fh, indent=2)
    return idx


torch.manual_seed(5)
base = torch.randn(6, 4)
shard1 = {"model.embed.weight": torch.randn(10, 4), "model.layers.0.w": torch.randn(4, 4).to(torch.bfloat16),
          "model.layers.0.b": torch.arange(4)}
shard2 = {"model.layers.1.w": base.t(),  # a non-contiguous view: made only when written
          "model.norm.scale": torch.ones(()), "model.mask": torch.tensor([True, False]),
          "model.half": torch.randn(3, dtype=torch.float16)}
idx = save_sharded_bin(p("hf"), [shard1, shard2])
loaded = {}
for f in sorted(set(json.load(open(idx))["weight_map"].values())):
    loaded.update(torch.load(p("hf", f)))
order = list(json.load(open(idx))["weight_map"])
ref = {k: loaded[k] for k in order}

r, tens = inspect_json(idx)
if check_ok("hub/bin-index/inspect", r):
    got = [(k, v["shape"], ST_DT[v["dtype"]]) for k, v in tens.items()]
    result("hub/bin-index/order-shapes-dtypes", got == [(k, list(v.shape), v.dtype) for k, v in ref.items()], str(got[:3]))
r = wbr("inspect", idx)
result("hub/bin-index/format-name", r.returncode == 0 and r.stdout.startswith(f"{idx}: sharded pytorch, 7 tensors"),
       r.stdout[:120] + r.stderr[-200:])
r = wbr("convert", idx, "-o", p("from-bin.safetensors"))
if check_ok("hub/bin-index/convert", r):
    same_as("hub/bin-index/values-equal-torch-load", p("from-bin.safetensors"), ref)
with open(p("prefix.wbr"), "w") as f:
    f.write('weightbridge 1\nrename "model.*" -> "m.*"\n')
r = wbr("apply", p("prefix.wbr"), idx, "-o", p("from-bin.pt"))
if check_ok("hub/bin-index/apply-to-pt", r):
    back = torch.load(p("from-bin.pt"), weights_only=True)
    bad = [k for k, v in ref.items() if raw(back["m." + k[6:]]) != raw(v)]
    result("hub/bin-index/pt-reads-back", not bad and list(back) == ["m." + k[6:] for k in ref], str(bad[:3]))
# The old reading: a .bin.index.json is not a manifest any more; x.json still is.
with open(p("target.json"), "w") as f:
    f.write('{"tensors": {"a": {"shape": [2], "dtype": "F32"}}}')
r = wbr("inspect", p("target.json"))
result("hub/manifest-still-json", r.returncode == 0 and ": manifest, 1 tensors" in r.stdout, r.stdout[:100] + r.stderr[-200:])
# The output is protected: a shard of the input is never replaced.
r = wbr("convert", idx, "-o", p("hf", "pytorch_model-00002-of-00002.bin"))
result("hub/bin-index/shard-is-input", r.returncode == 2 and "same file as the input" in r.stderr,
       f"exit {r.returncode}: {r.stderr[-300:]}")
# Writing a sharded .bin is not done: refused before anything is written.
r = wbr("convert", p("from-bin.safetensors"), "-o", p("out.bin.index.json"))
result("hub/bin-index/not-written", r.returncode == 2 and "reads sharded pytorch files but does not write them" in r.stderr
       and not os.path.exists(p("out.bin.index.json")), f"exit {r.returncode}: {r.stderr[-300:]}")

# Bad indexes: the sharded safetensors reader's checks, with .bin shards (one error each).
I = "pytorch_model.bin.index.json"
x = torch.zeros(2)


def tsave(obj):
    path = p("tmp.bin")
    torch.save(obj, path)
    with open(path, "rb") as f:
        return f.read()


def ix(wm):
    return json.dumps({"metadata": {"total_size": 8}, "weight_map": wm})


rows = [
    ("bin-idx-not-json", I, "{\"weight_map\": ", "index is not valid JSON"),
    ("bin-idx-no-map", I, '{"metadata": {}}', 'index has no "weight_map"'),
    ("bin-idx-traversal", I, ix({"a": "../s1.bin"}),
     "\"weight_map\": tensor 'a' maps to '../s1.bin', which is not a file name in the index's directory"),
    ("bin-idx-safetensors-shard", I, ix({"a": "s1.safetensors"}),
     "\"weight_map\": tensor 'a' maps to 's1.safetensors', which is not a PyTorch .bin/.pt/.pth file"),
    ("bin-idx-dup", I, '{"weight_map": {"a": "s1.bin", "a": "s1.bin"}}', "tensor 'a' appears twice in \"weight_map\""),
    ("bin-idx-missing-shard", I, ix({"a": "s1.bin"}), "shard 's1.bin' named in \"weight_map\" does not exist"),
    ("bin-idx-not-in-shard", I, {I: ix({"a": "s1.bin", "b": "s1.bin"}), "s1.bin": tsave({"a": x})},
     "\"weight_map\" puts tensor 'b' in 's1.bin', which has no such tensor"),
    ("bin-idx-unlisted", I, {I: ix({"a": "s1.bin"}), "s1.bin": tsave({"a": x, "z": x})},
     "shard 's1.bin' holds tensor 'z', which \"weight_map\" does not list"),
    ("bin-idx-two-shards", I, {I: ix({"a": "s1.bin", "b": "s2.bin"}), "s1.bin": tsave({"a": x}),
                               "s2.bin": tsave({"b": x, "a": x})},
     "shard 's2.bin' holds tensor 'a', which \"weight_map\" puts in 's1.bin'"),
    ("bin-idx-shard-not-torch", I, {I: ix({"a": "s1.bin"}), "s1.bin": b"\1\2\3\4"},
     "not a PyTorch checkpoint: it does not start with a zip header", "s1.bin"),
    ("bin-idx-shard-nested", I, {I: ix({"a": "s1.bin"}), "s1.bin": tsave({"model": {"a": x}, "opt": {"b": x}})},
     "this checkpoint nests its tensors in sub-dicts", "s1.bin"),
]
bad_rows("hub", rows, WORK)

# ---- Lightning .ckpt ------------------------------------------------------------------------------

model = {"encoder.0.weight": torch.randn(8, 4), "encoder.0.bias": torch.zeros(8),
         "head.weight": torch.randn(3, 8).to(torch.float16), "bn.num_batches_tracked": torch.tensor(7)}
ckpt = {
    "epoch": 3, "global_step": 1200, "pytorch-lightning_version": "2.1.3",
    "state_dict": model,
    "loops": {"fit_loop": {"state_dict": {}, "epoch_loop.state_dict": {"_batches_that_stepped": 1200},
                           "epoch_progress": {"total": {"ready": 4, "completed": 3}, "current": {"ready": 4}}}},
    "callbacks": {"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {
        "monitor": "val_loss", "best_model_score": torch.tensor(0.25), "best_model_path": "/ckpt/epoch=3.ckpt",
        "current_score": torch.tensor(0.25), "dirpath": "/ckpt", "best_k_models": {"/ckpt/epoch=3.ckpt": torch.tensor(0.25)},
        "kth_value": torch.tensor(float("inf")), "last_model_path": ""}},
    "optimizer_states": [{"state": {0: {"step": torch.tensor(1200.0), "exp_avg": torch.randn(8, 4), "exp_avg_sq": torch.rand(8, 4)},
                                    1: {"step": torch.tensor(1200.0), "exp_avg": torch.randn(8), "exp_avg_sq": torch.rand(8)}},
                          "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01,
                                            "amsgrad": False, "foreach": None, "maximize": False, "capturable": False,
                                            "differentiable": False, "fused": None, "params": [0, 1, 2]}]}],
    "lr_schedulers": [{"T_max": 10, "eta_min": 0.0, "base_lrs": [1e-3], "last_epoch": 3, "verbose": False,
                       "_step_count": 4, "_get_lr_called_within_step": False, "_last_lr": [9.0e-4]}],
    "hparams_name": "kwargs",
    "hyper_parameters": {"lr": 1e-3, "hidden": [8, 8], "name": "mlp", "dropout": 0.1, "act": None, "nan": float("nan")},
}
ck = p("model.ckpt")
torch.save(ckpt, ck)
want = torch.load(ck)["state_dict"]
r, tens = inspect_json(ck)
if check_ok("hub/ckpt/inspect", r):
    result("hub/ckpt/state-dict-only", list(tens) == list(want) and
           all(tens[k]["shape"] == list(v.shape) and ST_DT[tens[k]["dtype"]] == v.dtype for k, v in want.items()),
           str(list(tens)[:5]))
r = wbr("convert", ck, "-o", p("ckpt.safetensors"))
if check_ok("hub/ckpt/convert", r):
    same_as("hub/ckpt/values-equal-torch-load", p("ckpt.safetensors"), want)
r = wbr("convert", ck, "-o", p("ckpt.pt"))
if check_ok("hub/ckpt/convert-pt", r):
    back = torch.load(p("ckpt.pt"), weights_only=True)
    result("hub/ckpt/pt-reads-back", list(back) == list(want) and all(raw(back[k]) == raw(v) for k, v in want.items()))
opt = torch.load(ck)["optimizer_states"]
r, tens = inspect_json(ck + "#optimizer_states")
if check_ok("hub/ckpt/key-optimizer", r):
    names = [f"0.state.{i}.{n}" for i, s in opt[0]["state"].items() for n in s]
    result("hub/ckpt/key-optimizer-names", list(tens) == names, str(list(tens)))
r, tens = inspect_json(ck + "#optimizer_states/0/state/1")
result("hub/ckpt/key-path-through-list", r.returncode == 0 and list(tens or {}) == ["step", "exp_avg", "exp_avg_sq"],
       r.stderr[-300:] + str(tens))
r = wbr("convert", ck + "#callbacks", "-o", p("cb.safetensors"))
if check_ok("hub/ckpt/key-callbacks", r):
    cb = torch.load(ck)["callbacks"]
    flat = {f"{k}.{n}" if not isinstance(v2, dict) else f"{k}.{n}.{m}": (v2 if not isinstance(v2, dict) else w)
            for k, v in cb.items() for n, v2 in v.items() if isinstance(v2, (torch.Tensor, dict))
            for m, w in (v2.items() if isinstance(v2, dict) else [(None, None)])}
    same_as("hub/ckpt/key-callbacks-values", p("cb.safetensors"), flat)
check_rejects("hub/ckpt/key-scalar", wbr("inspect", ck + "#epoch"), "entry 'epoch' is an int, not a dict of tensors")
check_rejects("hub/ckpt/key-missing", wbr("inspect", ck + "#state_dcit"), "no entry 'state_dcit' in the checkpoint")
# A .ckpt that is a plain state dict (some projects save one) reads as it is.
torch.save(model, p("plain.ckpt"))
r, tens = inspect_json(p("plain.ckpt"))
result("hub/ckpt/plain-state-dict", r.returncode == 0 and list(tens or {}) == list(model), r.stderr[-300:])
# Nested without a state_dict: the torch reader's own question.
torch.save({"model": model, "ema": model}, p("nested.ckpt"))
check_rejects("hub/ckpt/nested-no-state-dict", wbr("inspect", p("nested.ckpt")),
              "this checkpoint nests its tensors in sub-dicts (model, ema)")
# What real Lightning checkpoints keep in hyper_parameters (save_hyperparameters() of whatever
# the module was given): classes, instances, partials, paths, numpy scalars and arrays, sets.
# They are kept inert (never resolved or run) and the state dict reads; a plain .pt with the
# same objects is still refused at the first unknown global, as torch.load(weights_only=True).
import argparse, collections, functools, pathlib  # noqa: E401,E402
import numpy as np  # noqa: E402
hp = {"loss_cls": torch.nn.MSELoss, "loss": torch.nn.MSELoss(), "opt": functools.partial(torch.optim.Adam, lr=1e-3),
      "root": pathlib.PurePosixPath("/data/x"), "args": argparse.Namespace(lr=0.1, layers=[2, 3]),
      "score": np.float64(0.5), "refs": np.arange(3), "groups": collections.defaultdict(list, {"a": [1]}),
      "ids": {1, 2, 3}, "dtype": torch.float16}
torch.save({**ckpt, "hyper_parameters": hp, "hparams_type": argparse.Namespace}, p("objects.ckpt"))
r, tens = inspect_json(p("objects.ckpt"))
result("hub/ckpt/objects-beside-state-dict", r.returncode == 0 and list(tens or {}) == list(want), r.stderr[-400:])
r = wbr("convert", p("objects.ckpt"), "-o", p("objects.safetensors"))
if check_ok("hub/ckpt/objects-convert", r):
    same_as("hub/ckpt/objects-values", p("objects.safetensors"), want)
check_rejects("hub/ckpt/object-selected", wbr("inspect", p("objects.ckpt") + "#hyper_parameters"),
              "'loss_cls' is a Python object (torch.nn.modules.loss.MSELoss), which weightbridge does not read")
torch.save({"state_dict": {"w": torch.zeros(2), "extra": pathlib.PurePosixPath("/x")}}, p("object-in-sd.ckpt"))
check_rejects("hub/ckpt/object-in-state-dict", wbr("inspect", p("object-in-sd.ckpt")),
              "'extra' is a Python object (pathlib.PurePosixPath)")
torch.save({"model": model, "cfg": argparse.Namespace(a=1)}, p("objects.pt"))
check_rejects("hub/pt-objects-still-refused", wbr("inspect", p("objects.pt") + "#model"),
              "global 'argparse.Namespace' is not allowed")

# Never written: refused before anything exists.
r = wbr("convert", p("ckpt.safetensors"), "-o", p("out.ckpt"))
result("hub/ckpt/not-written", r.returncode == 2 and "reads lightning files but does not write them" in r.stderr
       and not os.path.exists(p("out.ckpt")), f"exit {r.returncode}: {r.stderr[-300:]}")

# ---- --from / --to --------------------------------------------------------------------------------

os.rename(p("plain.ckpt"), p("weights.data"))
r = wbr("inspect", p("weights.data"))
result("hub/from/unknown-extension-mentions-from", r.returncode == 1 and "unknown file type (by extension)" in r.stderr
       and "--from FORMAT" in r.stderr, f"exit {r.returncode}: {r.stderr[-300:]}")
torch.save(ckpt, p("lightning.data"))
r = wbr("convert", p("lightning.data"), "--from", "lightning", "-o", p("out.weights"), "--to", "pytorch")
if check_ok("hub/from-to/convert", r):
    back = torch.load(p("out.weights"), weights_only=True)
    result("hub/from-to/values", list(back) == list(want) and all(raw(back[k]) == raw(v) for k, v in want.items()))
    r, tens = inspect_json(p("out.weights"), "--from", "torch")
    result("hub/from-to/inspect-from", r.returncode == 0 and list(tens or {}) == list(want), r.stderr[-300:])
r = wbr("convert", p("out.weights"), "-o", p("x.safetensors"))
result("hub/from/needed", r.returncode == 1 and "--from FORMAT" in r.stderr, f"exit {r.returncode}: {r.stderr[-300:]}")
# #KEY on a file whose format is given
r, tens = inspect_json(p("lightning.data") + "#optimizer_states", "--from", "ckpt")
result("hub/from/key", r.returncode == 0 and len(tens or {}) == 6, r.stderr[-300:])
