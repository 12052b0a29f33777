#!/usr/bin/python3
# cases.py WBR SCRATCH — the stripe pipeline of `wbr apply` (apply/pipeline.c) on tensors larger
# than its stripe (8 MiB) and its source-page budget (8 MiB): permutes, permute+cast in both
# orders, casts alone, odd shapes, 1-row / 1-column, 3-D and 4-D perms, every element size, read
# back and compared byte for byte with numpy (torch for bfloat16); and the peak RSS of a 96 MiB
# transpose+cast (the bar: <= 64 MiB whatever the tensor size). Ids stripe/<what>.
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "apply"))
import st  # noqa: E402

WBR, TMP = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(20261203)
failed = 0


def report(cid, why=None):
    global failed
    if why is None:
        print("PASS: %s" % cid, flush=True)
    else:
        failed += 1
        print("FAIL: %s: %s" % (cid, " ".join(str(why).split())[:600]), flush=True)


def arr(dt, shape):
    if dt in ("F32", "F64", "F16", "BF16"):
        x = rng.standard_normal(shape).astype(np.float32)
        x.flat[::97] *= 1e-6  # some subnormals once narrowed
        if dt == "BF16":
            return st.Tensor("x", "BF16", shape, torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().tobytes())
        return st.from_array("x", x.astype(st.NP_DTYPE[dt]))
    return st.from_array("x", rng.integers(-128, 127, size=shape, dtype=np.int8))


def as_torch(t):
    a = t.array()
    if t.dtype == "BF16":
        return torch.from_numpy(a.astype(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a.copy())


TORCH = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16}


def expected(t, perm, cast, cast_first):
    """numpy/torch result: the permute (and cast, in the rules' order) of tensor t."""
    x = as_torch(t)
    if cast and cast_first:
        x = x.to(TORCH[cast])
    if perm is not None:
        x = x.permute(*perm).contiguous()
    if cast and not cast_first:
        x = x.to(TORCH[cast])
    dt = cast or t.dtype
    data = x.view(torch.int16).numpy().tobytes() if dt == "BF16" else x.numpy().tobytes()
    return st.Tensor("x", dt, tuple(x.shape), data)


def run_wbr(d, rules):
    with open(os.path.join(d, "rules.wbr"), "w") as f:
        f.write("weightbridge 1\n" + rules + "\n")
    p = subprocess.Popen([WBR, "apply", "rules.wbr", "src.safetensors", "-o", "out.safetensors"], cwd=d,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=300)
    return p.returncode, err.decode("utf-8", "replace")


def case(cid, dt, shape, perm=None, cast=None, cast_first=False):
    d = os.path.join(TMP, cid.replace("/", "_"))
    os.makedirs(d, exist_ok=True)
    t = arr(dt, shape)
    st.write(os.path.join(d, "src.safetensors"), [t])
    stmts = []
    if cast and cast_first:
        stmts.append('cast "x" %s' % cast.lower())
    if perm is not None:
        stmts.append('permute "x" (%s)' % ", ".join(map(str, perm)))
    if cast and not cast_first:
        stmts.append('cast "x" %s' % cast.lower())
    want = expected(t, perm, cast, cast_first)
    rc, err = run_wbr(d, "\n".join(stmts))
    if rc != 0:
        return report(cid, "wbr apply exited %d: %s" % (rc, err))
    got = st.read(os.path.join(d, "out.safetensors"))[0]
    g = got[0]
    if (g.dtype, g.shape) != (want.dtype, want.shape):
        return report(cid, "want %s %s got %s %s" % (want.dtype, want.shape, g.dtype, g.shape))
    if g.data != want.data:
        a, b = np.frombuffer(want.data, np.uint8), np.frombuffer(g.data, np.uint8)
        i = int(np.argmax(a != b))
        return report(cid, "bytes differ first at byte %d of %d" % (i, len(a)))
    report(cid)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))


def rss_case(cid):
    """A 96 MiB F32 transpose + cast to BF16: peak RSS (wait4's ru_maxrss) stays under 64 MiB."""
    d = os.path.join(TMP, cid.replace("/", "_"))
    os.makedirs(d, exist_ok=True)
    x = rng.standard_normal((4096, 6144)).astype(np.float32)
    st.write(os.path.join(d, "src.safetensors"), [st.from_array("w", x)])
    with open(os.path.join(d, "rules.wbr"), "w") as f:
        f.write('weightbridge 1\ntranspose "w"\ncast "w" bf16\n')
    # Forked from a bare interpreter, not from this one: a child's ru_maxrss counts what it
    # shared with its parent before exec (numpy, torch and the array here).
    meter = ("import os, sys\npid = os.fork()\nif pid == 0:\n    os.execv(sys.argv[1], sys.argv[1:])\n"
             "_, status, ru = os.wait4(pid, 0)\nprint(status, ru.ru_maxrss)\n")
    p = subprocess.run([sys.executable, "-S", "-c", meter, WBR, "apply", "rules.wbr", "src.safetensors", "-o",
                        "out.safetensors"], cwd=d, capture_output=True, timeout=300)
    status, maxrss = (int(v) for v in p.stdout.split())
    if status != 0:
        return report(cid, "wbr apply failed (status %d): %s" % (status, p.stderr.decode("utf-8", "replace")))
    got = st.read(os.path.join(d, "out.safetensors"))[0][0]
    want = torch.from_numpy(x.T.copy()).to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    if got.data != want:
        return report(cid, "output bytes differ from torch's")
    mib = maxrss / 1024
    print("# %s: peak RSS %.1f MiB" % (cid, mib), flush=True)
    report(cid, None if mib <= 64 else "peak RSS %.1f MiB for a 96 MiB tensor (bar 64 MiB)" % mib)


def header(path):
    """(header length, {name: absolute offset of its data}, raw header bytes)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        raw = f.read(n)
    h = json.loads(raw)
    h.pop("__metadata__", None)
    return n, {k: 8 + n + v["data_offsets"][0] for k, v in h.items()}, raw


def alignment_case(cid, transpose_first):
    """A rename to longer names (the header grows): every copied tensor keeps its source offset
    mod 4096, the data section is the source's byte for byte, the header is the same JSON with
    only trailing spaces added, and both our reader and /work/shared/tools/st.py read it back.
    With transpose_first, the first tensor is transposed and cast (made, not copied): the copied
    ones still keep their alignment (one padding fits them all: the cast keeps the data offsets
    of the later tensors only when their sizes match, so the first stays F32 -> F32 here)."""
    d = os.path.join(TMP, cid.replace("/", "_"))
    os.makedirs(d, exist_ok=True)
    ts = [st.from_array("layer.%d.w" % i, rng.standard_normal((300 + i, 129)).astype(np.float32)) for i in range(6)]
    ts.append(st.from_array("h", rng.standard_normal((1001,)).astype(np.float16)))
    ts.append(st.from_array("tail", rng.standard_normal((5000,)).astype(np.float32)))
    st.write(os.path.join(d, "src.safetensors"), ts)
    rules = 'rename "layer.{i}.w" -> "blocks.{i}.weight_with_a_much_longer_name"'
    if transpose_first:
        rules = 'transpose "layer.0.w"\n' + rules
    rc, err = run_wbr(d, rules)
    if rc != 0:
        return report(cid, "wbr apply exited %d: %s" % (rc, err))
    sn, soff, _ = header(os.path.join(d, "src.safetensors"))
    on, ooff, raw = header(os.path.join(d, "out.safetensors"))
    got = st.read(os.path.join(d, "out.safetensors"))[0]
    rename = lambda k: k.replace("layer.", "blocks.").replace(".w", ".weight_with_a_much_longer_name") if k.startswith("layer.") else k
    for k, off in soff.items():
        if transpose_first and k == "layer.0.w":
            continue
        if ooff[rename(k)] % 4096 != off % 4096:
            return report(cid, "'%s' at offset %d (mod 4096: %d), source %d (mod 4096: %d)"
                          % (k, ooff[rename(k)], ooff[rename(k)] % 4096, off, off % 4096))
    want = {rename(t.name): (t.array().T.copy() if transpose_first and t.name == "layer.0.w" else t.array()) for t in ts}
    for g in got:
        if g.array().tobytes() != want[g.name].tobytes() or g.shape != want[g.name].shape:
            return report(cid, "tensor '%s' differs from the source's" % g.name)
    if raw != raw.rstrip(b" ") + b" " * (len(raw) - len(raw.rstrip(b" "))) or b"  " in raw.rstrip(b" "):
        return report(cid, "the header has spaces other than trailing ones")
    if (8 + on) % 8:
        return report(cid, "data starts at %d, not 8-byte aligned" % (8 + on))
    shared = "/work/shared/tools/st.py"
    if os.path.exists(shared):
        import importlib.util
        spec = importlib.util.spec_from_file_location("shared_st", shared)
        m = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(m)
        back = m.load_file(os.path.join(d, "out.safetensors"))
        for k, v in want.items():
            if not np.array_equal(back[k], v):
                return report(cid, "/work/shared/tools/st.py reads '%s' differently" % k)
    report(cid)


def copies_case(cid, rules, expect):
    """Renames of tensors of 1-2 MiB with small ones between (the writer gathers in-kernel copies
    of neighbours into one range): the output must hold expect(name) -> source name, in order,
    byte for byte."""
    d = os.path.join(TMP, cid.replace("/", "_"))
    os.makedirs(d, exist_ok=True)
    ts = []
    for i in range(4):
        ts.append(st.from_array("layer.%d.w" % i, rng.standard_normal((1024, 257 * (i + 1))).astype(np.float32)))
        ts.append(st.from_array("layer.%d.norm" % i, rng.standard_normal((999,)).astype(np.float16)))
    st.write(os.path.join(d, "src.safetensors"), ts)
    rc, err = run_wbr(d, rules)
    if rc != 0:
        return report(cid, "wbr apply exited %d: %s" % (rc, err))
    src = {t.name: t for t in ts}
    got = st.read(os.path.join(d, "out.safetensors"))[0]
    want = expect(ts)
    if [g.name for g in got] != [n for n, _ in want]:
        return report(cid, "names/order %s, want %s" % ([g.name for g in got], [n for n, _ in want]))
    for g, (n, sn) in zip(got, want):
        if g.data != src[sn].data or g.shape != src[sn].shape or g.dtype != src[sn].dtype:
            return report(cid, "'%s' is not the bytes of '%s'" % (n, sn))
    report(cid)


def threads_case():
    """--threads 1, 2 and 3 write the same bytes (a tiled transpose + cast, a 3-D permute, a cast
    alone); bad values are one usage error each (exit 2), with no output."""
    d = os.path.join(TMP, "threads")
    os.makedirs(d, exist_ok=True)
    x = rng.standard_normal((3001, 1503)).astype(np.float32)
    y = rng.standard_normal((40, 301, 257)).astype(np.float16)
    st.write(os.path.join(d, "src.safetensors"), [st.from_array("x", x), st.from_array("y", y), st.from_array("z", x[:1000])])
    with open(os.path.join(d, "rules.wbr"), "w") as f:
        f.write('weightbridge 1\ntranspose "x"\ncast "x" bf16\npermute "y" (2, 0, 1)\ncast "z" f16\n')
    outs = []
    for n in ("1", "2", "3"):
        p = subprocess.run([WBR, "apply", "rules.wbr", "src.safetensors", "-o", "out%s.safetensors" % n, "--threads", n],
                           cwd=d, capture_output=True)
        if p.returncode != 0:
            return report("stripe/threads-same-bytes", "--threads %s exited %d: %s" % (n, p.returncode, p.stderr[:300]))
        outs.append(open(os.path.join(d, "out%s.safetensors" % n), "rb").read())
    got = {t.name: t for t in st.read(os.path.join(d, "out2.safetensors"))[0]}
    want_x = torch.from_numpy(x.T.copy()).to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    if outs[0] != outs[1] or outs[1] != outs[2]:
        report("stripe/threads-same-bytes", "outputs differ between --threads 1, 2 and 3")
    elif got["x"].data != want_x or got["y"].data != np.transpose(y, (2, 0, 1)).tobytes() or \
            got["z"].data != x[:1000].astype(np.float16).tobytes():
        report("stripe/threads-same-bytes", "the output is not numpy's / torch's")
    else:
        report("stripe/threads-same-bytes")
    for bad in ("0", "-1", "two", "2x", "1025", ""):
        p = subprocess.run([WBR, "apply", "rules.wbr", "src.safetensors", "-o", "bad.safetensors", "--threads", bad],
                           cwd=d, capture_output=True)
        err = p.stderr.decode("utf-8", "replace")
        cid = "stripe/threads-refused-%s" % (bad or "empty")
        if p.returncode != 2 or "--threads takes a number of threads from 1 to 1024" not in err:
            report(cid, "exit %d: %s" % (p.returncode, err[:300]))
        elif os.path.exists(os.path.join(d, "bad.safetensors")):
            report(cid, "an output was written")
        else:
            report(cid)
    p = subprocess.run([WBR, "apply", "rules.wbr", "src.safetensors", "-o", "bad.safetensors", "--threads"],
                       cwd=d, capture_output=True)
    report("stripe/threads-needs-value", None if p.returncode == 2 and b"--threads needs a value" in p.stderr
           else "exit %d: %s" % (p.returncode, p.stderr[:300]))


def main():
    if len(sys.argv) > 3:
        return rss_case(sys.argv[3]) or failed
    # 2-D transposes: tiled (3000 source rows: a stripe would touch > 8 MiB of source pages),
    # direct (300 rows), odd sizes, each element size, 1-row and 1-column.
    case("stripe/transpose-f32-tiled", "F32", (3000, 1501), (1, 0))
    case("stripe/transpose-f32-direct", "F32", (300, 5001), (1, 0))
    case("stripe/transpose-f64", "F64", (1100, 1301), (1, 0))
    case("stripe/transpose-f16", "F16", (2501, 2203), (1, 0))
    case("stripe/transpose-bf16", "BF16", (2049, 2500), (1, 0))
    case("stripe/transpose-i8", "I8", (4100, 2101), (1, 0))
    case("stripe/transpose-1-row", "F32", (1, 3000001), (1, 0))
    case("stripe/transpose-1-column", "F32", (3000001, 1), (1, 0))
    case("stripe/transpose-2-rows", "F32", (2, 2500001), (1, 0))
    case("stripe/transpose-2-columns", "F32", (2500001, 2), (1, 0))
    # permute + cast, both orders, narrowing and widening
    case("stripe/transpose-cast-f32-bf16", "F32", (3001, 1999), (1, 0), "BF16")
    case("stripe/transpose-cast-f32-f16", "F32", (1999, 3001), (1, 0), "F16")
    case("stripe/cast-then-transpose-f16-f32", "F16", (2600, 1703), (1, 0), "F32", cast_first=True)
    case("stripe/transpose-cast-f64-f32", "F64", (1201, 1150), (1, 0), "F32")
    case("stripe/transpose-cast-bf16-f16", "BF16", (2200, 2401), (1, 0), "F16")
    # 3-D and 4-D perms
    case("stripe/permute-3d-201", "F32", (64, 301, 129), (2, 0, 1))
    case("stripe/permute-3d-120", "F16", (300, 129, 130), (1, 2, 0), "F32")
    case("stripe/permute-3d-102", "F32", (3000, 701, 3), (1, 0, 2))
    case("stripe/permute-4d-hwio-oihw", "F32", (3, 3, 512, 641), (3, 2, 0, 1))
    case("stripe/permute-4d-0213", "F16", (8, 601, 701, 3), (0, 2, 1, 3), "BF16")
    case("stripe/permute-4d-size1-axes", "F32", (1, 2500, 1, 1201), (3, 2, 1, 0))
    # casts alone, larger than a stripe
    case("stripe/cast-f32-f16", "F32", (4000003,), None, "F16")
    case("stripe/cast-bf16-f32", "BF16", (1700, 2001), None, "F32")
    copies_case("stripe/copies-gathered", 'rename "layer.{i}.{p}" -> "blocks.{i}.{p}"',
                lambda ts: [(t.name.replace("layer.", "blocks."), t.name) for t in ts])
    copies_case("stripe/copies-with-gaps", 'drop "layer.1.norm"\ndrop "layer.2.w"',
                lambda ts: [(t.name, t.name) for t in ts if t.name not in ("layer.1.norm", "layer.2.w")])
    threads_case()
    alignment_case("stripe/rename-keeps-alignment", False)
    alignment_case("stripe/mixed-keeps-alignment", True)
    if os.environ.get("WBR_SANITIZED"):
        print("SKIP: stripe/rss-bounded: peak RSS means nothing under the sanitizers", flush=True)
    else:
        rss_case("stripe/rss-bounded")
    return 1 if failed else 0


sys.exit(main())
