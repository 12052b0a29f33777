#!/usr/bin/python3
"""bad_cases.py OUTDIR — the bad-input table for PyTorch checkpoints: hostile pickles (code
execution attempts, resource exhaustion) and malformed archives, each with the diagnostic
`wbr inspect` must print. Same row format as tests/bad/cases.py:

    row(ID, FILE, BYTES, MESSAGE)
    row(ID, FILE, BYTES, MESSAGE, cmd="apply")
    row(ID, FILE, BYTES, HEX, cmd="apply-ok")

ID is stable, FILE's extension picks the reader, BYTES are built with the helpers below (never a
committed binary), MESSAGE is a substring the single error line must contain. An "apply" row is
a file `inspect` must read (instantly: it never gathers tensor data) and `apply` must refuse; an
"apply-ok" row must apply to a .safetensors whose data section is HEX (hostile but valid views).
Prints one line per case for run.sh:  ID <TAB> PATH <TAB> MESSAGE <TAB> CMD
"""
import io
import os
import struct
import sys
import zipfile

ROWS = []


def row(id, file, data, message, cmd="inspect"):
    ROWS.append((id, file, data, message, cmd))


# ---- pickle helpers -----------------------------------------------------------------------------

def ustr(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def bint(v):
    return b"J" + struct.pack("<i", v) if -2**31 <= v < 2**31 else b"\x8a\x08" + struct.pack("<q", v)


def tup(vals):
    return b"(" + b"".join(bint(v) for v in vals) + b"t"


def tensor(key, storage="FloatStorage", numel=4, offset=0, size=(2, 2), stride=(2, 1)):
    """A _rebuild_tensor_v2 call on a persistent-id storage, as torch.save writes it."""
    pid = b"(" + ustr("storage") + b"ctorch\n" + storage.encode() + b"\n" + ustr(key) + \
        ustr("cpu") + bint(numel) + b"tQ"
    return b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + bint(offset) + tup(size) + \
        tup(stride) + b"\x89}tR"


def state(*items):
    """A pickled dict {name: value_pickle}."""
    body = b"".join(ustr(k) + v for k, v in items)
    return b"\x80\x02}(" + body + b"u."


def ckpt(pkl, data=None, compress=False, extra=()):
    """A torch.save-style zip: a/data.pkl, a/data/<key> for each storage, a/version."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a/data.pkl", pkl,
                   compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
        for k, v in (data or {"0": bytes(16)}).items():
            z.writestr("a/data/" + k, v)
        for name, v in extra:
            z.writestr(name, v)
        z.writestr("a/version", b"3\n")
    return buf.getvalue()


PT = "model.pt"
GOOD = state(("w", tensor("0")))
RESAVE = "is not allowed (only tensors, storages, dicts and plain values are read"

# ---- hostile pickles: code execution -------------------------------------------------------

row("os-system", PT, ckpt(b"\x80\x02cposix\nsystem\n(X\x04\x00\x00\x00echotR."),
    "data.pkl, byte 2: global 'posix.system' " + RESAVE)
row("os-system-stack-global", PT,
    ckpt(b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93."),
    "data.pkl, byte 16: global 'os.system' " + RESAVE)
row("builtins-eval", PT, ckpt(b"\x80\x02cbuiltins\neval\n(X\x01\x00\x00\x001tR."),
    "global 'builtins.eval' " + RESAVE)
row("eval-in-state-dict", PT,
    ckpt(state(("w", tensor("0")), ("x", b"cbuiltins\nexec\n)R"))),
    "global 'builtins.exec' " + RESAVE)
row("subprocess", PT, ckpt(b"\x80\x02csubprocess\nPopen\n."),
    "global 'subprocess.Popen' " + RESAVE)
row("call-storage-class", PT, ckpt(b"\x80\x02ctorch\nFloatStorage\n)R."),
    "'torch.FloatStorage' cannot be called (REDUCE)")
row("inst", PT, ckpt(b"\x80\x02(iposix\nsystem\n."), "opcode INST (0x69) is not supported")
row("obj", PT, ckpt(b"\x80\x02(o."), "opcode OBJ (0x6f) is not supported")
row("newobj", PT, ckpt(b"\x80\x02\x81."), "opcode NEWOBJ (0x81) is not supported")
row("ext1", PT, ckpt(b"\x80\x02\x82\x01."), "opcode EXT1 (0x82) is not supported")
row("build-on-list", PT, ckpt(b"\x80\x02]}b."), "BUILD (setting object state) on a list")
row("rebuild-from-type-other", PT,
    ckpt(b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(ctorch._utils\n_rebuild_tensor_v2\n"
         b"ccollections\nOrderedDict\n)}tR."),
    "tensor type is 'collections.OrderedDict', only torch.Tensor and torch.nn.Parameter")
row("unknown-opcode", PT, ckpt(b"\x80\x02\xff."), "unknown opcode 0xff")

# ---- hostile pickles: resources ------------------------------------------------------------

row("deep-marks", PT, ckpt(b"\x80\x02" + b"(" * 100000 + b"."),
    "data.pkl, byte 1002: nested deeper than 1000 levels (MARK)")
row("huge-binunicode", PT, ckpt(b"\x80\x02X\xff\xff\xff\x7f"),
    "data.pkl, byte 2: BINUNICODE needs 2147483647 bytes, only 0 remain (truncated?)")
row("huge-binunicode8", PT, ckpt(b"\x80\x04\x8d" + struct.pack("<Q", 2**63) + b"abc"),
    "BINUNICODE8 needs 9223372036854775808 bytes, only 3 remain")
row("huge-binbytes", PT, ckpt(b"\x80\x03B\xff\xff\xff\xff."), "BINBYTES needs 4294967295 bytes")
row("huge-frame", PT, ckpt(b"\x80\x04\x95" + struct.pack("<Q", 2**40) + b"N."),
    "FRAME needs 1099511627776 bytes")
row("memo-get-unset", PT, ckpt(b"\x80\x02j\xff\xff\xff\xff."),
    "memo index 4294967295 was never set")
row("memo-put-huge", PT, ckpt(b"\x80\x02Nr\xff\xff\xff\xff."),
    "memo index 4294967295 exceeds the limit of 16777216")
row("memo-put-empty", PT, ckpt(b"\x80\x02q\x00."), "memo put on an empty stack")
row("long1-wide", PT, ckpt(b"\x80\x02\x8a\x09" + bytes(9) + b"."),
    "integer of 9 bytes does not fit in 64 bits")
row("bad-utf8", PT, ckpt(b"\x80\x02X\x02\x00\x00\x00\xc3\x28."), "BINUNICODE: invalid UTF-8")
row("no-stop", PT, ckpt(b"\x80\x02}"), "ends without STOP (truncated?)")
row("empty-pickle", PT, ckpt(b""), "data.pkl, byte 0: ends without STOP")
row("stop-empty", PT, ckpt(b"\x80\x02."), "STOP with an empty stack")
row("pop-empty", PT, ckpt(b"\x80\x020."), "POP on an empty stack")
row("setitems-no-mark", PT, ckpt(b"\x80\x02}u."), "SETITEMS without a MARK")
row("setitem-list", PT, ckpt(b"\x80\x02]NNs."), "SETITEM on something that is not a dict")
row("append-dict", PT, ckpt(b"\x80\x02}Na."), "APPEND to something that is not a list")
row("dict-odd", PT, ckpt(b"\x80\x02(Nd."), "DICT with an odd number of items (1)")
row("proto-6", PT, ckpt(b"\x80\x06N."), "pickle protocol 6 is not supported")
row("global-no-newline", PT, ckpt(b"\x80\x02cos"), "GLOBAL is not two short newline-terminated lines")
# A dict nested 40 deep, a tensor at the bottom: the flattening walk stops at 32.
deep = tensor("0")
for _ in range(40):
    deep = b"}(" + ustr("a") + deep + b"u"
row("deep-dicts", PT, ckpt(b"\x80\x02}(" + ustr("w") + tensor("0") + ustr("m") + deep + b"u."), "nested deeper than 32 levels")
# A list that contains itself (and a tensor): must not loop.
row("self-list", PT, ckpt(b"\x80\x02}(X\x01\x00\x00\x00m]q\x00h\x00a" + tensor("0") + b"au."),
    "nested deeper than 32 levels")
# Shared sub-dicts doubling at each of 30 levels: 2^30 paths, from a few hundred bytes.
fan = b"}q\x00" + ustr("t") + tensor("0") + b"s0"
for i in range(30):
    fan += b"}(" + ustr("a") + b"h" + bytes([i]) + ustr("b") + b"h" + bytes([i]) + b"uq" + \
        bytes([i + 1]) + b"0"
fan += b"h" + bytes([30])
row("fan-out", PT, ckpt(b"\x80\x02}(" + ustr("w") + tensor("0") + ustr("m") + fan + b"u."),
    "more than 20000000 steps")
# Many self-references without a tensor: the search for tensors must not explode either.
row("self-list-wide", PT, ckpt(b"\x80\x02}(X\x01\x00\x00\x00m]q\x00(" + b"h\x00" * 8 + b"eu."),
    "'m.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0': nested deeper than 32 levels")

# issue 9 item 6: a 9-byte pickle naming memo slot 16,777,215 made a 128 MiB memo.
row("memo-index-forged", PT, ckpt(b"\x80\x02}r\xff\xff\xff\x00."),
    "memo index 16777215 is larger than a 9-byte pickle can number")

# ---- tensors and storages ------------------------------------------------------------------

row("storage-missing", PT, ckpt(GOOD, data={"1": bytes(16)}),
    "tensor 'w': its storage data/0 is missing from the archive")
row("storage-size", PT, ckpt(GOOD, data={"0": bytes(15)}),
    "tensor 'w': storage data/0 holds 15 bytes, but the pickle says 4 elements of F32")
row("view-past-end", PT, ckpt(state(("w", tensor("0", size=(3, 2))))),
    "tensor 'w': its view (offset 0 and strides) reaches past the end of its storage data/0 (4 elements)")
row("offset-past-end", PT, ckpt(state(("w", tensor("0", offset=1)))),
    "tensor 'w': its view (offset 1 and strides) reaches past the end")
row("stride-overflow", PT, ckpt(state(("w", tensor("0", size=(2, 2), stride=(2**62, 1))))),
    "reaches past the end of its storage")
row("negative-size", PT, ckpt(state(("w", tensor("0", size=(-1, 2))))), "size[0] is -1, expected >= 0")
row("nine-dims", PT, ckpt(state(("w", tensor("0", size=(1,) * 9, stride=(1,) * 9)))),
    "9 dimensions, at most 8 are supported")
row("size-stride-mismatch", PT, ckpt(state(("w", tensor("0", size=(4,), stride=(1, 1))))),
    "size has 1 dimensions, stride 2")
row("complex", PT, ckpt(state(("w", tensor("0", storage="ComplexFloatStorage")))),
    "tensors of dtype torch.complex64 (torch.ComplexFloatStorage) are not supported")
row("duplicate-name", PT, ckpt(state(("w", tensor("0")), ("w", tensor("0")))),
    "tensor name 'w' appears twice")
row("pid-not-storage", PT, ckpt(b"\x80\x02(X\x03\x00\x00\x00abcNNNNtQ."),
    "persistent id is not a storage")
row("pid-key-slash", PT,
    ckpt(b"\x80\x02(" + ustr("storage") + b"ctorch\nFloatStorage\n" + ustr("../x") + ustr("cpu") +
         bint(1) + b"tQ."), "storage key must be a short non-empty string without '/'")
row("top-list", PT, ckpt(b"\x80\x02]."), "the checkpoint holds a list, not a dict of tensors")
row("int-key", PT, ckpt(b"\x80\x02}(N" + tensor("0") + b"u."), "a dict key holding tensors is None")

# ---- resource bounds: views are gathered at apply only, and within a budget ------------------

EXPANDED = "(overlapping strides, as expand() makes); the checkpoint's views add "
# issue 9 item 8: a 16-byte storage seen as 8 GiB through stride 0 (inspect used to fill 8 GiB).
row("expand-bomb", PT, ckpt(state(("w", tensor("0", size=(1 << 16, 1 << 13, 4), stride=(0, 0, 1))))),
    "tensor 'w': a view of 8589934592 bytes over a storage of 16 B " + EXPANDED + "8.0 GiB", cmd="apply")
# Many small expanded views add up: the budget is for the whole checkpoint, not per view.
row("expand-many", PT, ckpt(state(*[("w%d" % i, tensor("0", numel=64, size=(1 << 16, 64), stride=(0, 1)))
                                    for i in range(17)]), data={"0": bytes(256)}),
    "beyond their storages, more than the 256.0 MiB weightbridge gathers", cmd="apply")
# issue 9 item 6: a size-1 dimension's stride is never checked against the storage (it is never
# stepped along), so it may be anything: 2^62 must not reach the gather's pointer arithmetic.
F4 = b"".join(struct.pack("<f", v) for v in (0, 1, 2, 3))
row("stride-huge-size-1", PT, ckpt(state(("w", tensor("0", size=(1, 2, 2), stride=(2**62, 1, 2)))), data={"0": F4}),
    (F4[0:4] + F4[8:12] + F4[4:8] + F4[12:16]).hex(), cmd="apply-ok")

# ---- archives ------------------------------------------------------------------------------

good = ckpt(GOOD)
eocd = good.rindex(b"PK\x05\x06")
cd = struct.unpack("<I", good[eocd + 16:eocd + 20])[0]
row("not-zip", PT, b"hello, world", "not a PyTorch checkpoint: it does not start with a zip header")
row("empty-file", PT, b"", "not a PyTorch checkpoint: it does not start with a zip header")
row("safetensors-named-pt", PT, struct.pack("<Q", 2) + b"{}",
    "not a PyTorch checkpoint: it looks like a safetensors file")
# A header of 128-255 bytes starts 0x80 0x00, like a pickle's PROTO: still called safetensors.
row("safetensors-128-named-pt", PT, struct.pack("<Q", 128) + b"{" + b" " * 126 + b"}",
    "not a PyTorch checkpoint: it looks like a safetensors file")
row("plain-pickle", PT, b"\x80\x04N.", "a plain Python pickle, not a torch.save checkpoint")
row("truncated", PT, good[:len(good) - 30], "has no zip end-of-central-directory record")
nopkl = io.BytesIO()
with zipfile.ZipFile(nopkl, "w") as z:
    z.writestr("a/version", b"3\n")
row("no-data-pkl", PT, nopkl.getvalue(), "zip archive without ARCHIVE/data.pkl")
row("deflated-pkl", PT, ckpt(GOOD, compress=True),
    "zip entry 'a/data.pkl' is compressed (deflated); it must be stored")
row("big-endian", PT, ckpt(GOOD, extra=[("a/byteorder", b"big")]),
    "the checkpoint was saved big-endian")
# Local header offset of the first central entry moved past the end of the entries.
b = bytearray(good)
b[cd + 42:cd + 46] = struct.pack("<I", 0x7FFFFFF0)
row("offset-past-end-zip", PT, bytes(b), "zip entry 'a/data.pkl': local header offset 2147483632 is outside")
# The second entry claims to start at the first one's header: names disagree.
b = bytearray(good)
second = good.index(b"PK\x01\x02", cd + 4)
b[second + 42:second + 46] = b[cd + 42:cd + 46]
row("overlap-zip", PT, bytes(b), "the local header names another file")
# data.pkl's size grows into data/0's header.
b = bytearray(good)
size = struct.unpack("<I", good[cd + 24:cd + 28])[0]
b[cd + 20:cd + 28] = struct.pack("<II", size + 40, size + 40)
row("overlap-size-zip", PT, bytes(b), "zip entries 'a/data.pkl' and 'a/data/0' overlap")
b = bytearray(good)
b[eocd + 16:eocd + 20] = struct.pack("<I", len(good))
row("cd-outside", PT, bytes(b), "zip central directory (offset")
row("torchscript", PT, ckpt(GOOD, extra=[("a/constants.pkl", b"\x80\x02).")]),
    "a TorchScript archive (torch.jit.save)")

# ---- write ---------------------------------------------------------------------------------

out = sys.argv[1]
seen = set()
for id, file, data, message, cmd in ROWS:
    assert id not in seen, id
    seen.add(id)
    d = os.path.join(out, id)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, file)
    with open(path, "wb") as f:
        f.write(data)
    print(f"{id}\t{path}\t{message}\t{cmd}")
