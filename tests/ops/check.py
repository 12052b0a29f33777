"""check.py DRIVER TMPDIR — cross-checks the apply kernels (apply/kernels.c, through driver.c)
against numpy and torch, comparing output BYTES exactly; prints one PASS/FAIL line per case.

Expected values come from the libraries wherever their semantics are ours: numpy for
F32/F64 -> F16 (direct round-to-nearest-even), F16 -> F32, F64 -> F32, transpose, slicing and
concatenation; torch for F32 -> BF16 (RNE) and the BF16/F16 widenings. Two places where the
libraries differ from our documented rule get an independent reference instead:
  - NaN: numpy and torch keep a signalling NaN signalling (or canonicalise it, torch F32 ->
    BF16 gives 0x7fc0 for every NaN); we make every NaN quiet and keep sign and high payload
    bits. NaN lanes are checked against that rule, and quiet NaNs also against numpy.
  - F64 -> BF16: torch rounds through F32 (double rounding); the reference below rounds once,
    with exact rational arithmetic.
"""
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import torch

DRIVER, TMP = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(20240607)
results = []


# Run again with WBR_CPU=<level> (run.sh does): the case ids get that level as a suffix, and
# OPS_ONLY=casts leaves out the permutes and slices.
TAG = "-cpu-" + os.environ["WBR_CPU"] if os.environ.get("WBR_CPU") else ""


def report(case, ok, why=""):
    print(f"PASS: ops/{case}{TAG}" if ok else f"FAIL: ops/{case}{TAG}: {why}")
    results.append(ok)


def run(*args):
    p = subprocess.run([DRIVER, *map(str, args)], capture_output=True, text=True)
    return p.returncode, p.stderr.strip()


def fpath(name):
    return os.path.join(TMP, name)


# ---- formats: (ebits, mbits, numpy uint view) ----
FMT = {"F64": (11, 52, np.uint64), "F32": (8, 23, np.uint32), "F16": (5, 10, np.uint16),
       "BF16": (8, 7, np.uint16)}


def nan_rule(bits, frm, to):
    """Our documented NaN result: same sign, high payload bits, quiet bit set."""
    fe, fm, _ = FMT[frm]
    te, tm, ut = FMT[to]
    bits = bits.astype(np.uint64)
    sign = (bits >> np.uint64(fe + fm)) & np.uint64(1)
    mant = bits & np.uint64((1 << fm) - 1)
    pay = mant >> np.uint64(fm - tm) if fm >= tm else mant << np.uint64(tm - fm)
    out = (sign << np.uint64(te + tm)) | np.uint64(((1 << te) - 1) << tm) | pay | np.uint64(1 << (tm - 1))
    return out.astype(ut)


def is_nan(bits, fmt):
    e, m, _ = FMT[fmt]
    b = bits.astype(np.uint64)
    return (((b >> np.uint64(m)) & np.uint64((1 << e) - 1)) == np.uint64((1 << e) - 1)) & \
        ((b & np.uint64((1 << m) - 1)) != np.uint64(0))


def round_once(x, ebits, mbits):
    """Exact RNE of the Python float x into (ebits, mbits): an independent reference written
    with rational arithmetic (Python's round() on a Fraction rounds half to even)."""
    bias = (1 << (ebits - 1)) - 1
    sign = 1 if np.signbit(x) else 0
    s = sign << (ebits + mbits)
    inf = ((1 << ebits) - 1) << mbits
    if np.isnan(x):
        return 0  # NaN lanes are checked against nan_rule instead
    if np.isinf(x):
        return s | inf
    if x == 0:
        return s
    v = Fraction(abs(float(x)))
    e = v.numerator.bit_length() - v.denominator.bit_length()
    while Fraction(2) ** e > v:
        e -= 1
    while Fraction(2) ** (e + 1) <= v:
        e += 1
    q = max(e, 1 - bias) - mbits               # exponent of one unit in the last place
    k = round(v / Fraction(2) ** q)            # ties to even
    if k == 0:
        return s
    # re-normalise (rounding may carry to the next binade)
    if k >= 1 << (mbits + 1):
        k >>= 1
        q += 1
    if k < 1 << mbits:                         # subnormal
        return s | k
    biased = q + mbits + bias
    if biased >= (1 << ebits) - 1:
        return s | inf
    return s | (biased << mbits) | (k - (1 << mbits))


def cast_case(case, frm, to, src_bits, expect_bits):
    _, _, uf = FMT[frm]
    _, _, ut = FMT[to]
    src_bits = np.ascontiguousarray(src_bits, dtype=uf)
    inp, out = fpath(case + ".in"), fpath(case + ".out")
    src_bits.tofile(inp)
    rc, err = run("cast", frm, to, inp, out)
    if rc != 0:
        return report(case, False, f"driver exit {rc}: {err}")
    got = np.fromfile(out, dtype=ut)
    want = np.asarray(expect_bits, dtype=ut)
    if got.shape != want.shape:
        return report(case, False, f"{got.size} elements, want {want.size}")
    bad = np.nonzero(got != want)[0]
    if bad.size:
        i = bad[0]
        return report(case, False, f"{bad.size} differ; first: in 0x{int(src_bits[i]):x} got "
                      f"0x{int(got[i]):x} want 0x{int(want[i]):x}")
    report(case, True)


def with_nan_rule(src_bits, frm, to, lib_bits):
    """Library result, with NaN lanes replaced by our rule (after checking the library also
    produced a NaN of the same sign there)."""
    nan = is_nan(src_bits, frm)
    out = np.array(lib_bits, copy=True)
    out[nan] = nan_rule(src_bits[nan], frm, to)
    return out


def f32_specials():
    s = [0x00000000, 0x80000000, 0x3f800000, 0x7f800000, 0xff800000, 0x7f7fffff, 0xff7fffff,
         0x00000001, 0x807fffff, 0x7fc00000, 0xffc00000, 0x7fc02000, 0x7fa00000, 0x7f800001,
         0xffffffff, 0x7fffffff, 0x477fe000, 0x477ff000, 0x477fefff, 0x38800000, 0x387ff000,
         0x33000000, 0x33000001, 0x33800000, 0x33c00000, 0x34200000]
    return np.array(s, dtype=np.uint32)


def f32_sample(n):
    """Every exponent and sign, with random mantissas and the halfway / near-halfway patterns
    of both F16 (13 dropped bits) and BF16 (16 dropped bits)."""
    e = rng.integers(0, 256, n, dtype=np.uint32)
    sgn = rng.integers(0, 2, n, dtype=np.uint32)
    m = rng.integers(0, 1 << 23, n, dtype=np.uint32)
    kind = rng.integers(0, 8, n)
    m = np.where(kind == 1, (m & ~np.uint32(0x1fff)) | np.uint32(0x1000), m)
    m = np.where(kind == 2, (m & ~np.uint32(0x1fff)) | np.uint32(0x0fff), m)
    m = np.where(kind == 3, (m & ~np.uint32(0x1fff)) | np.uint32(0x1001), m)
    m = np.where(kind == 4, (m & ~np.uint32(0xffff)) | np.uint32(0x8000), m)
    m = np.where(kind == 5, (m & ~np.uint32(0xffff)) | np.uint32(0x7fff), m)
    m = np.where(kind == 6, (m & ~np.uint32(0xffff)) | np.uint32(0x8001), m)
    bits = (sgn << np.uint32(31)) | (e << np.uint32(23)) | m
    # also every exponent with mantissa 0 and all ones
    ex = np.arange(256, dtype=np.uint32) << np.uint32(23)
    extra = np.concatenate([ex, ex | np.uint32(0x7fffff), ex | np.uint32(0x80000000)])
    return np.concatenate([f32_specials(), extra, bits.astype(np.uint32)])


def np_f16(bits_f32):
    with np.errstate(all="ignore"):
        return bits_f32.view(np.float32).astype(np.float16).view(np.uint16)


def torch_bf16(bits_f32):
    t = torch.from_numpy(bits_f32.view(np.int32).copy()).view(torch.float32)
    return t.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)


def check_casts():
    # F32 -> F16 against numpy (2M samples over every exponent, plus the specials)
    x = f32_sample(2_000_000)
    cast_case("cast-f32-f16-2M", "F32", "F16", x, with_nan_rule(x, "F32", "F16", np_f16(x)))
    q = np.array([0x7fc00000, 0xffc00000, 0x7fc02000, 0x7fe00000], dtype=np.uint32)
    cast_case("cast-f32-f16-quiet-nan-numpy", "F32", "F16", q, np_f16(q))

    # F32 -> BF16 against torch (4M samples)
    x = f32_sample(4_000_000)
    cast_case("cast-f32-bf16-4M", "F32", "BF16", x, with_nan_rule(x, "F32", "BF16", torch_bf16(x)))

    # every F16 -> F32 against numpy; every BF16 -> F32 against torch
    allh = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    with np.errstate(all="ignore"):
        w = allh.view(np.float16).astype(np.float32).view(np.uint32)
    cast_case("cast-f16-f32-all", "F16", "F32", allh, with_nan_rule(allh, "F16", "F32", w))
    wb = (torch.from_numpy(allh.view(np.int16).copy()).view(torch.bfloat16).to(torch.float32)
          .view(torch.int32).numpy().view(np.uint32))
    cast_case("cast-bf16-f32-all", "BF16", "F32", allh, with_nan_rule(allh, "BF16", "F32", wb))

    # every F16 -> F32 -> F16 is the identity (NaNs stay NaN, made quiet)
    quiet = np.where(is_nan(allh, "F16"), allh | np.uint16(0x200), allh).astype(np.uint16)
    inp, mid, out = fpath("rt.in"), fpath("rt.mid"), fpath("rt.out")
    allh.tofile(inp)
    ok = run("cast", "F16", "F32", inp, mid)[0] == 0 and run("cast", "F32", "F16", mid, out)[0] == 0
    got = np.fromfile(out, dtype=np.uint16) if ok else None
    report("cast-f16-f32-f16-identity-all-65536", ok and np.array_equal(got, quiet),
           "round trip changed values")

    # F16 <-> BF16: all 65536 against torch (whose path through F32 is exact, then one rounding)
    th = torch.from_numpy(allh.view(np.int16).copy())
    hb = th.view(torch.float16).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    cast_case("cast-f16-bf16-all", "F16", "BF16", allh, with_nan_rule(allh, "F16", "BF16", hb))
    bh = th.view(torch.bfloat16).to(torch.float16).view(torch.int16).numpy().view(np.uint16)
    cast_case("cast-bf16-f16-all", "BF16", "F16", allh, with_nan_rule(allh, "BF16", "F16", bh))

    # F64 -> F32 and F64 -> F16 against numpy (both round once, directly)
    n = 300_000
    e = rng.integers(0, 2048, n, dtype=np.uint64)
    e = np.where(rng.integers(0, 2, n) == 0, rng.integers(1023 - 160, 1023 + 130, n, dtype=np.uint64), e)
    m = rng.integers(0, 1 << 52, n, dtype=np.uint64)
    kind = rng.integers(0, 6, n)
    # ties at F32 (29 dropped bits), at F16 (42) and the double-rounding traps: a tie at F16
    # plus one low bit, which F32 would round away
    m = np.where(kind == 1, (m & ~np.uint64((1 << 29) - 1)) | np.uint64(1 << 28), m)
    m = np.where(kind == 2, (m & ~np.uint64((1 << 42) - 1)) | np.uint64(1 << 41), m)
    m = np.where(kind == 3, (m & ~np.uint64((1 << 42) - 1)) | np.uint64((1 << 41) | 1), m)
    m = np.where(kind == 4, (m & ~np.uint64((1 << 45) - 1)) | np.uint64((1 << 44) | (1 << 12)), m)
    sg = rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(63)
    d = sg | (e << np.uint64(52)) | m
    d = np.concatenate([np.array([0x3ff0020000001000, 0x7ff0000000000001, 0xfff8000000000000,
                                  0x7fefffffffffffff, 0x0000000000000001, 0x8000000000000000],
                                 dtype=np.uint64), d])
    with np.errstate(all="ignore"):
        f32 = d.view(np.float64).astype(np.float32).view(np.uint32)
        f16 = d.view(np.float64).astype(np.float16).view(np.uint16)
    cast_case("cast-f64-f32", "F64", "F32", d, with_nan_rule(d, "F64", "F32", f32))
    cast_case("cast-f64-f16-direct-rounding", "F64", "F16", d, with_nan_rule(d, "F64", "F16", f16))
    # F64 -> BF16 against the rational reference (torch would round through F32)
    sub = d[:20000]
    ref = np.array([round_once(v, 8, 7) for v in sub.view(np.float64)], dtype=np.uint16)
    cast_case("cast-f64-bf16-direct-rounding", "F64", "BF16", sub, with_nan_rule(sub, "F64", "BF16", ref))
    # the rational reference agrees with numpy on F64 -> F16, which validates it
    ref16 = np.array([round_once(v, 5, 10) for v in sub.view(np.float64)], dtype=np.uint16)
    nn = ~is_nan(sub, "F64")
    report("reference-round-once-agrees-with-numpy", np.array_equal(ref16[nn], f16[:20000][nn]),
           "the Python reference itself disagrees with numpy")
    # widening to F64 is exact
    x = f32_sample(200_000)
    with np.errstate(all="ignore"):
        w64 = x.view(np.float32).astype(np.float64).view(np.uint64)
    cast_case("cast-f32-f64", "F32", "F64", x, with_nan_rule(x, "F32", "F64", w64))


DT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def permute_case(case, es, shape, perm):
    a = rng.integers(0, 1 << 63, size=int(np.prod(shape, dtype=np.int64)), dtype=np.uint64)
    a = a.astype(DT[es]).reshape(shape)
    inp, out = fpath(case + ".in"), fpath(case + ".out")
    a.tofile(inp)
    rc, err = run("permute", es, ",".join(map(str, shape)), ",".join(map(str, perm)), inp, out)
    if rc != 0:
        return report(case, False, f"driver exit {rc}: {err}")
    want = np.ascontiguousarray(np.transpose(a, perm)).tobytes()
    with open(out, "rb") as f:
        got = f.read()
    report(case, got == want, f"bytes differ from np.transpose(a, {perm})")


def check_permutes():
    permute_case("permute-f32-transpose-1000x777", 4, (1000, 777), (1, 0))
    permute_case("permute-f16-transpose-1536x1024", 2, (1536, 1024), (1, 0))
    permute_case("permute-f32-hwio-to-oihw-3x3x256x512", 4, (3, 3, 256, 512), (3, 2, 0, 1))
    permute_case("permute-f16-oihw-to-hwio-64x32x7x7", 2, (64, 32, 7, 7), (2, 3, 1, 0))
    permute_case("permute-f32-vit-768x12x64", 4, (768, 12, 64), (1, 2, 0))
    permute_case("permute-bf16-heads-0213", 2, (4, 77, 12, 64), (0, 2, 1, 3))
    permute_case("permute-u8-5d", 1, (3, 5, 2, 7, 4), (4, 0, 3, 1, 2))
    permute_case("permute-f64-5d", 8, (2, 9, 3, 1, 11), (1, 4, 0, 3, 2))
    permute_case("permute-identity", 4, (5, 6, 7), (0, 1, 2))
    permute_case("permute-empty-dim", 4, (5, 0, 7), (2, 0, 1))
    for k in range(12):
        nd = int(rng.integers(1, 6))
        shape = tuple(int(v) for v in rng.integers(1, 12, nd))
        perm = tuple(int(v) for v in rng.permutation(nd))
        es = int(rng.choice([1, 2, 4, 8]))
        permute_case(f"permute-random-{k}-es{es}", es, shape, perm)


def check_slices():
    for k, (shape, axis, start, ln) in enumerate([((6, 4), 0, 2, 3), ((3, 5, 4), 1, 1, 3),
                                                 ((3, 5, 4), 2, 3, 1), ((1, 1, 9), 2, 0, 9),
                                                 ((7, 3), 1, 0, 0), ((4, 8, 2), 2, 1, 1)]):
        a = rng.integers(0, 65535, size=shape, dtype=np.uint16)
        inp, out = fpath("s.in"), fpath("s.out")
        a.tofile(inp)
        rc, err = run("slice", 2, ",".join(map(str, shape)), axis, start, ln, inp, out)
        idx = [slice(None)] * len(shape)
        idx[axis] = slice(start, start + ln)
        want = np.ascontiguousarray(a[tuple(idx)]).tobytes()
        with open(out, "rb") as f:
            got = f.read()
        report(f"slice-{k}-axis{axis}", rc == 0 and got == want, f"exit {rc} {err} or bytes differ")
    rc, err = run("slice", 2, "3,4", 1, 3, 2, inp, out)
    report("slice-out-of-range-refused", rc == 1, f"exit {rc}")
    for k, (shape, axis, lens) in enumerate([((2, 3), 0, (1, 4, 0, 2)), ((3, 4, 5), 1, (1, 2, 1)),
                                             ((3, 4, 5), 2, (2, 3)), ((2, 3, 4), 1, (3,))]):
        parts = []
        files = []
        for i, ln in enumerate(lens):
            ps = list(shape)
            ps[axis] = ln
            p = rng.integers(0, 1 << 31, size=ps, dtype=np.uint32)
            parts.append(p)
            files.append(fpath(f"c{i}.in"))
            p.tofile(files[-1])
        want = np.concatenate(parts, axis=axis)
        out = fpath("c.out")
        rc, err = run("concat", 4, ",".join(map(str, want.shape)), axis, ",".join(map(str, lens)),
                      out, *files)
        with open(out, "rb") as f:
            got = f.read()
        report(f"concat-{k}-axis{axis}", rc == 0 and got == want.tobytes(), f"exit {rc} {err} or bytes differ")


check_casts()
if os.environ.get("OPS_ONLY") != "casts":
    check_permutes()
    check_slices()
sys.exit(0 if all(results) else 1)
