#!/usr/bin/python3
"""check.py WORK — the .npy/.npz suite: files written by numpy (np.save, np.savez,
np.savez_compressed; every dtype, '/' names, 0-d, empty, Fortran-order and big-endian arrays)
must read exactly; files we write must load with np.load exactly; a JAX-layout .npz of the
vit_jax fixture converts to timm values equal to the truth; and the bad-input table."""
import json
import subprocess
import time
import zlib
import os
import struct
import sys
import zipfile

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbrtest import TOP, WBR, bad_rows, check_ok, check_rejects, result, wbr  # noqa: E402

WORK = sys.argv[1]
DT = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
      "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}


def wbr_dtype(a):
    le = a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype
    return [k for k, v in DT.items() if np.dtype(v) == le][0]


def le_bytes(a):
    """The bytes weightbridge must hold for a: little-endian, row-major."""
    a = np.asarray(a)
    if a.dtype.itemsize > 1:
        a = a.astype(a.dtype.newbyteorder("<"))
    return np.ascontiguousarray(a).tobytes()


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    h.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in h.items()}


def p(name):
    return os.path.join(WORK, name)


rng = np.random.default_rng(7)
arrays = {}
for code in ["<f8", "<f4", "<f2", "<i8", "<i4", "<i2", "i1", "u1", "<u2", "<u4", "<u8"]:
    x = rng.standard_normal((3, 5)) * 100
    arrays["dt/" + code.strip("<")] = x.astype(code)
arrays["dt/b1"] = rng.standard_normal((4,)) > 0
arrays["Transformer/encoderblock_0/MlpBlock_3/Dense_0/kernel"] = rng.standard_normal((6, 4)).astype("<f4")
arrays["scalar"] = np.array(2.5, dtype="<f4")
arrays["empty"] = np.zeros((0, 7), dtype="<f2")
arrays["fortran2"] = np.asfortranarray(rng.standard_normal((5, 3)).astype("<f4"))
arrays["fortran3"] = np.asfortranarray(rng.standard_normal((2, 3, 4)).astype("<f8"))
arrays["big/f4"] = rng.standard_normal((3, 2)).astype(">f4")
arrays["big/i8"] = np.arange(-3, 4, dtype=">i8")
arrays["big/f2"] = rng.standard_normal((5,)).astype(">f2")
arrays["big_fortran"] = np.asfortranarray(rng.standard_normal((3, 4)).astype(">f8"))
names = list(arrays)
rules = p("rename.wbr")
with open(rules, "w") as f:
    f.write('weightbridge 1\nrename "scalar" -> "scalar2"\n')


def renamed(n):
    return "scalar2" if n == "scalar" else n


for kind, save in (("savez", np.savez), ("savez_compressed", np.savez_compressed)):
    src = p(kind + ".npz")
    save(src, **arrays)
    r = wbr("inspect", src, "--json")
    if check_ok(f"npz/{kind}/inspect", r):
        got = json.loads(r.stdout)["tensors"]
        want = {n: {"shape": list(a.shape), "dtype": wbr_dtype(a)} for n, a in arrays.items()}
        result(f"npz/{kind}/inspect-shapes-dtypes-order", list(got.items()) == list(want.items()),
               f"{list(got.items())[:3]} vs {list(want.items())[:3]}")
    out = p(kind + ".safetensors")
    r = wbr("apply", rules, src, "-o", out)
    if check_ok(f"npz/{kind}/apply-to-safetensors", r):
        st = read_st(out)
        bad = [n for n in names if st[renamed(n)][2] != le_bytes(arrays[n]) or
               st[renamed(n)][1] != list(arrays[n].shape)]
        result(f"npz/{kind}/bytes-exact", not bad and list(st) == [renamed(n) for n in names],
               f"differ: {bad[:4]}")
    # Our writer: np.load must give every array back exactly, CRCs must check.
    outz = p(kind + ".out.npz")
    r = wbr("apply", rules, src, "-o", outz)
    if check_ok(f"npz/{kind}/apply-to-npz", r):
        z = np.load(outz)
        bad = []
        for n in names:
            a, b = arrays[n], z[renamed(n)]
            if b.shape != a.shape or b.dtype != np.dtype(DT[wbr_dtype(a)]) or le_bytes(a) != b.tobytes():
                bad.append(n)
        result(f"npz/{kind}/np-load-exact", not bad and z.files == [renamed(n) for n in names],
               f"differ: {bad[:4]} files {z.files[:3]}")
        with zipfile.ZipFile(outz) as zf:
            result(f"npz/{kind}/zip-crc", zf.testzip() is None, "a CRC does not match")
        # and our own reader reads our output back
        r = wbr("inspect", outz, "--json")
        result(f"npz/{kind}/reread", r.returncode == 0 and len(json.loads(r.stdout)["tensors"]) == len(names),
               r.stderr[-300:])

# .npy: one array, named after the file.
for n, a in [("plain", arrays["dt/f4"]), ("fortran", arrays["fortran3"]), ("bigend", arrays["big/f4"]),
             ("zero_d", arrays["scalar"]), ("bools", arrays["dt/b1"])]:
    src = p(n + ".npy")
    np.save(src, a)
    out = p(n + ".npy.safetensors")
    with open(p("npy.wbr"), "w") as f:
        f.write(f'weightbridge 1\nrename "{n}" -> "x"\n')
    r = wbr("apply", p("npy.wbr"), src, "-o", out)
    if check_ok(f"npy/{n}/apply", r):
        st = read_st(out)
        result(f"npy/{n}/bytes-exact", list(st) == ["x"] and st["x"][2] == le_bytes(a) and
               st["x"][1] == list(a.shape) and st["x"][0] == wbr_dtype(a), str(st)[:200])
    outn = p(n + ".out.npy")
    r = wbr("apply", p("npy.wbr"), src, "-o", outn)
    if check_ok(f"npy/{n}/write-npy", r):
        b = np.load(outn)
        result(f"npy/{n}/np-load-exact", b.shape == a.shape and b.tobytes() == le_bytes(a), f"{b.shape}")

# An .npy output takes one tensor.
r = wbr("apply", rules, p("savez.npz"), "-o", p("many.npy"))
check_rejects("npy/write-several", r, "an .npy file holds one array, the output has %d tensors" % len(names))

# BF16 has no numpy dtype: refused with a way out.
with open(p("bf16.safetensors"), "wb") as f:
    h = json.dumps({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    h += b" " * (-len(h) % 8)
    f.write(struct.pack("<Q", len(h)) + h + b"\x80\x3f\x00\x40")
with open(p("w.wbr"), "w") as f:
    f.write('weightbridge 1\nrename "w" -> "v"\n')
r = wbr("apply", p("w.wbr"), p("bf16.safetensors"), "-o", p("bf16.npz"))
check_rejects("npz/write-bf16-refused", r, "cannot write tensor 'v' to .npz: it is BF16")
result("npz/write-bf16-nothing-written", not os.path.exists(p("bf16.npz")), "output exists")
with open(p("wc.wbr"), "w") as f:
    f.write('weightbridge 1\nrename "w" -> "v"\ncast "v" f32\n')
r = wbr("apply", p("wc.wbr"), p("bf16.safetensors"), "-o", p("bf16c.npz"))
if check_ok("npz/write-bf16-cast", r):
    result("npz/write-bf16-cast-values", list(np.load(p("bf16c.npz"))["v"]) == [1.0, 2.0], "values")

# JAX/Flax layout end to end: the vit_jax fixture as an .npz, through its committed rules.
# check_pair.py runs its main() on import, so take its definitions (replay) without it.
check_pair = {}
_src = open(os.path.join(TOP, "tests", "fixtures", "check_pair.py")).read()
exec(compile(_src.split("\ndef main(")[0], "check_pair.py", "exec"), check_pair)
pair = os.path.join(TOP, "tests", "fixtures", "vit_jax_to_timm")
a = json.load(open(os.path.join(pair, "a.json")))["tensors"]
b = json.load(open(os.path.join(pair, "b.json")))["tensors"]
truth = json.load(open(os.path.join(pair, "truth.json")))["targets"]
rng = np.random.default_rng(1234)
src = {n: rng.standard_normal(d["shape"]).astype(DT[d["dtype"]]) for n, d in a.items()}
np.savez_compressed(p("vit_jax.npz"), **src)
out = p("vit_timm.safetensors")
r = wbr("apply", os.path.join(TOP, "rules", "vit_jax_to_timm.wbr"), p("vit_jax.npz"), "-t",
        os.path.join(pair, "b.json"), "-o", out)
if check_ok("npz/vit_jax/apply", r):
    st = read_st(out)
    bad = [n for n, tr in truth.items()
           if check_pair["replay"]([src[s] for s in tr["from"]], tr["ops"]).tobytes() != st[n][2]]
    result("npz/vit_jax/values-equal-truth", not bad and list(st) == list(b), f"differ: {bad[:4]}")


# ---- bad inputs --------------------------------------------------------------------------------

def npy(header, data=b"", major=1, minor=0, hlen=None):
    h = header.encode() if isinstance(header, str) else header
    n = len(h) if hlen is None else hlen
    pre = b"\x93NUMPY" + bytes([major, minor])
    pre += struct.pack("<H", n) if major == 1 else struct.pack("<I", n)
    return pre + h + data


def hdr(descr="'<f4'", fortran="False", shape="(2,)", extra=""):
    return "{'descr': %s, 'fortran_order': %s, 'shape': %s, %s}" % (descr, fortran, shape, extra)


def zipbytes(entries, method=zipfile.ZIP_STORED):
    path = p("tmp.zip")
    with zipfile.ZipFile(path, "w", method) as z:
        for n, d in entries:
            z.writestr(n, d)
    return open(path, "rb").read()


def forge_usize(zb, name, usize):
    """Patch an entry's uncompressed size in its local header and the central directory."""
    zb = bytearray(zb)
    i = zb.index(b"PK\x03\x04")
    struct.pack_into("<I", zb, i + 22, usize)
    j = zb.index(b"PK\x01\x02")
    struct.pack_into("<I", zb, j + 24, usize)
    return bytes(zb)


def rawzip(entries):
    """A zip from raw parts, for what zipfile will not write (names that are not UTF-8, forged
    streams). entries: (name bytes, method, crc, usize, stored bytes)."""
    out = cd = b""
    for name, method, crc, usize, data in entries:
        lh = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, method, 0, 0, crc, len(data), usize, len(name), 0)
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, method, 0, 0, crc, len(data), usize,
                          len(name), 0, 0, 0, 0, 0, len(out)) + name
        out += lh + name + data
    return out + cd + struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(entries), len(entries), len(cd), len(out), 0)


def npy_head(descr, shape):
    h = ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)).encode()
    h += b" " * (-(10 + len(h) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h


def deflated_zeros_npy(n, chunk=1 << 24):
    """The deflate stream of a .npy of n zero bytes (u1), made in a moment: after a full flush
    the compressor starts afresh, so one compressed chunk of zeros repeats (n: a multiple of
    chunk). Its CRC is not computed (0): the point is what is refused before inflating."""
    head = npy_head("|u1", "(%d,)" % (n - 128))
    assert len(head) == 128 and n % chunk == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head + bytes(chunk - 128)) + c.flush(zlib.Z_FULL_FLUSH)
    rest = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    return first + rest * (n // chunk - 1) + b"\x03\x00"


def run_rusage(*args):
    """Run wbr; its exit code, stderr, peak RSS in KiB and seconds."""
    t0 = time.time()
    pr = subprocess.Popen([WBR, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = pr.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(pr.pid, 0)
    pr.returncode = os.waitstatus_to_exitcode(status)
    return pr.returncode, err, ru.ru_maxrss, time.time() - t0


# ---- resource bounds (issue 9 item 11): a deflated .npz is inflated only at apply, within a
# budget of 1 GiB + 64 x its compressed bytes; inspect and plan read the .npy headers only. ----
GiB = 1 << 30
stream = deflated_zeros_npy(GiB)
bomb = p("bomb.npz")
with open(bomb, "wb") as f:
    f.write(rawzip([(b"a%d.npy" % k, 8, 0, GiB, stream) for k in range(2)]))
rc, err, rss, secs = run_rusage("inspect", bomb)
result("npz/bomb/inspect-reads-headers-only", rc == 0 and rss < 64 << 10 and secs < 5,
       f"exit {rc}, {rss} KiB, {secs:.1f} s: {err[-300:]}")
with open(p("bomb.wbr"), "w") as f:
    f.write('weightbridge 1\noptional rename "a{i}" -> "b{i}"\n')
rc, err, rss, secs = run_rusage("plan", p("bomb.wbr"), bomb)
result("npz/bomb/plan-reads-headers-only", rc == 0 and rss < 64 << 10, f"exit {rc}, {rss} KiB: {err[-300:]}")
r = wbr("apply", p("bomb.wbr"), bomb, "-o", p("bomb.safetensors"))
check_rejects("npz/bomb/apply-refused", r, "array 'a0': the compressed arrays would inflate to 2.0 GiB from")
result("npz/bomb/apply-help", "help: re-save it uncompressed with np.savez" in r.stderr, r.stderr[-300:])
result("npz/bomb/nothing-written", not os.path.exists(p("bomb.safetensors")), "output exists")
os.unlink(bomb)
# Under the budget a deflated array is inflated (and its CRC checked) when apply needs it.
small = deflated_zeros_npy(1 << 20, chunk=1 << 20)
crc = zlib.crc32(npy_head("|u1", "(%d,)" % ((1 << 20) - 128)) + bytes((1 << 20) - 128))
with open(p("zeros.npz"), "wb") as f:
    f.write(rawzip([(b"z.npy", 8, crc, 1 << 20, small)]))
r = wbr("apply", p("bomb.wbr"), p("zeros.npz"), "-o", p("zeros.safetensors"))
if check_ok("npz/inflate-at-apply", r):
    result("npz/inflate-at-apply-bytes", read_st(p("zeros.safetensors"))["z"][2] == bytes((1 << 20) - 128), "bytes")
with open(p("zeros-badcrc.npz"), "wb") as f:
    f.write(rawzip([(b"z.npy", 8, crc ^ 1, 1 << 20, small)]))
ok_inspect = wbr("inspect", p("zeros-badcrc.npz")).returncode == 0
r = wbr("apply", p("bomb.wbr"), p("zeros-badcrc.npz"), "-o", p("zeros-badcrc.safetensors"))
result("npz/crc-checked-at-apply", ok_inspect and r.returncode == 1 and
       "zip entry 'z': CRC-32 mismatch (the data is corrupt)" in r.stderr and
       not os.path.exists(p("zeros-badcrc.safetensors")), r.stderr[-300:])

X = "x.npy"
HELP = "array 'x': "
good = npy(hdr(), b"\0" * 8)
rows = [
    ("npy-empty", X, b"", HELP + 'not a .npy array: it does not start with "\\x93NUMPY"'),
    ("npy-magic", X, b"\x93NUMPZ\x01\x00\x00\x00", HELP + 'not a .npy array: it does not start with "\\x93NUMPY"'),
    ("npy-version", X, npy(hdr(), major=4), HELP + ".npy format version 4.0 is not supported"),
    ("npy-v2-short", X, b"\x93NUMPY\x02\x00\x10\x00", HELP + ".npy header is truncated"),
    ("npy-header-past-end", X, npy(hdr(), hlen=1000), HELP + ".npy header of 1000 bytes runs past the end of the data"),
    ("npy-header-huge", X, npy(hdr(), major=2, hlen=1 << 20), HELP + ".npy header of 1048576 bytes is longer than the 65535 bytes arrays need"),
    ("npy-not-dict", X, npy("[1, 2]"), HELP + ".npy header is not a dict of 'descr', 'fortran_order' and 'shape' (at header byte 0)"),
    ("npy-unterminated", X, npy("{'descr': '<f4'"), HELP + ".npy header is not a dict of 'descr', 'fortran_order' and 'shape' (at header byte 15)"),
    ("npy-extra-key", X, npy(hdr(extra="'foo': 1, ")), HELP + ".npy header has an unexpected or repeated key 'foo'"),
    ("npy-repeated-key", X, npy(hdr(extra="'shape': (2,), ")), HELP + ".npy header has an unexpected or repeated key 'shape'"),
    ("npy-missing-shape", X, npy("{'descr': '<f4', 'fortran_order': False}"), HELP + ".npy header lacks 'shape'"),
    ("npy-fortran-yes", X, npy(hdr(fortran="Yes")), HELP + ".npy header is not a dict"),
    ("npy-structured", X, npy(hdr(descr="[('a', '<f4')]")), HELP + "structured dtypes (a list of fields) are not supported"),
    ("npy-complex", X, npy(hdr(descr="'<c8'")), HELP + "unsupported dtype '<c8' (complex)"),
    ("npy-object", X, npy(hdr(descr="'|O'")), HELP + "unsupported dtype '|O' (Python objects)"),
    ("npy-unicode", X, npy(hdr(descr="'<U10'")), HELP + "unsupported dtype '<U10' (strings)"),
    ("npy-f3", X, npy(hdr(descr="'<f3'")), HELP + "unsupported dtype '<f3'"),
    ("npy-pipe-f4", X, npy(hdr(descr="'|f4'"), b"\0" * 8), HELP + "dtype '|f4' has no byte order but 4-byte elements"),
    ("npy-9-dims", X, npy(hdr(shape="(1,1,1,1,1,1,1,1,1)")), HELP + "shape has more than 8 dimensions"),
    ("npy-dim-2^63", X, npy(hdr(shape="(9223372036854775808,)")), HELP + "a dimension is larger than 2^53"),
    ("npy-dim-2^53+1", X, npy(hdr(shape="(0, 9007199254740993)")), HELP + "a dimension is larger than 2^53"),
    ("npy-overflow", X, npy(hdr(shape="(4294967296, 4294967296)")), HELP + "shape [4294967296, 4294967296] needs more bytes than fit in 64 bits"),
    ("npy-negative", X, npy(hdr(shape="(-2,)")), HELP + ".npy header is not a dict"),
    ("npy-short-data", X, npy(hdr(shape="(2, 3)"), b"\0" * 4), HELP + "holds 4 bytes of data, but shape [2, 3] of F32 needs 24"),
    ("npy-trailing-data", X, npy(hdr(), b"\0" * 9), HELP + "holds 9 bytes of data, but shape [2] of F32 needs 8"),
    ("npy-escape", X, npy("{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,), }"), HELP + ".npy header is not a dict"),
    ("npy-no-stem", ".npy", good, "cannot name the array: the file name has nothing before '.npy'"),
    ("npz-entry-not-npy", "a.npz", zipbytes([("w.npy", good), ("notes.txt", b"hi")]), "entry 'notes.txt' is not a .npy array"),
    ("npz-bad-array", "a.npz", zipbytes([("enc/w.npy", npy(hdr(descr="'<c16'")))]), "array 'enc/w': unsupported dtype '<c16' (complex)"),
    ("npz-bad-array-deflated", "a.npz", zipbytes([("w.npy", npy(hdr(shape="(3,)"), b"\0" * 8))], zipfile.ZIP_DEFLATED),
     "array 'w': holds 8 bytes of data, but shape [3] of F32 needs 12"),
    ("npz-forged-size", "a.npz", forge_usize(zipbytes([("w.npy", good)], zipfile.ZIP_DEFLATED), "w.npy", 0xFFFFFFF0),
     "entry 'w.npy' claims 4294967280 bytes from"),
]
# issue 9 item 14: entry names become tensor names, which go into JSON and every output format:
# one that is not UTF-8 is refused when the file is read (inspect, plan and apply alike).
rows.append(("npz-name-not-utf8", "a.npz", rawzip([(b"\xff\xfe.npy", 0, zlib.crc32(good), len(good), good)]),
             "entry '\\xff\\xfe.npy': its name is not UTF-8 (byte 0)"))
rows.append(("npz-name-cut-utf8", "a.npz", rawzip([(b"w\xc3.npy", 0, zlib.crc32(good), len(good), good)]),
             "entry 'w\\xc3.npy': its name is not UTF-8 (byte 1)"))
bad_rows("npz", rows, WORK)
# The same refusal from plan, in every plan format (it used to print JSON that was not UTF-8).
weird = os.path.join(WORK, "bad", "npz-name-not-utf8", "a.npz")
with open(p("none.wbr"), "w") as f:
    f.write('weightbridge 1\noptional drop "nothing"\n')
for fmt in ("text", "json"):
    r = wbr("plan", p("none.wbr"), weird, "--format", fmt)
    check_rejects(f"npz/name-not-utf8-plan-{fmt}", r, "entry '\\xff\\xfe.npy': its name is not UTF-8")
# Control characters are valid UTF-8: such a name is kept, and inspect --json escapes it validly.
ctl = rawzip([(b"a\x01\x1b[2J.npy", 0, zlib.crc32(good), len(good), good)])
with open(p("ctl.npz"), "wb") as f:
    f.write(ctl)
r = wbr("inspect", p("ctl.npz"), "--json")
try:
    names = list(json.loads(r.stdout)["tensors"]) if r.returncode == 0 else []
except ValueError as e:
    names = ["invalid JSON: %s" % e]
result("npz/name-control-json", names == ["a\x01\x1b[2J"], f"{names} {r.stderr[-200:]}")
r = wbr("plan", p("none.wbr"), p("ctl.npz"), "--format", "json")
try:
    outs = [t["name"] for t in json.loads(r.stdout)["tensors"]] if r.returncode == 0 else []
except (ValueError, KeyError) as e:
    outs = ["invalid plan JSON: %s" % e]
result("npz/name-control-plan-json", outs == ["a\x01\x1b[2J"], f"{outs} {r.stderr[-200:]}")
sys.exit(0)
