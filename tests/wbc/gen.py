#!/usr/bin/python3
"""gen.py DIR — write .wbc files for tests/wbc/run.sh, encoded here independently of the C code
from the layout in docs/bytecode.md: one valid program (good.wbc) and hostile variants, most
with a valid checksum so they reach the verifier. Nothing binary is committed; run.sh calls this."""
import struct
import sys
import zlib

OPS = ["rename", "drop", "reshape", "transpose", "permute", "split", "concat", "stack", "unstack",
       "select", "slice", "cast", "hint", "expect_shape", "expect_dtype", "expect_count", "hint_layout",
       "param", "expect_count_of"]
OP = {n: i for i, n in enumerate(OPS)}
NONE = 0xFFFFFFFF


XREF = -(1 << 63)  # format 2: an int-list value XREF + k refers to expression node k
LIT, PARAM, ADD, SUB, MUL, DIV = range(6)


def encode(p, version=None, nsect=None, order=0x04030201, sentinel=b"\r\n\x1a\n", crc=True):
    v2 = "params" in p  # format 2: the parameter table and the expression pool follow
    version = version if version is not None else (2 if v2 else 1)
    nsect = nsect if nsect is not None else (9 if v2 else 7)
    s1 = struct.pack("<IQI", p.get("lang", 1), p.get("hash", 0x1122334455667788),
                     len(p["source"])) + p["source"]
    s2 = struct.pack("<I", len(p["code"])) + b"".join(
        struct.pack("<BBhIII", OP[o] if isinstance(o, str) else o, f, x, a, b, c)
        for (o, f, x, a, b, c) in p["code"])
    lines = p.get("lines", [(i + 2, 1) for i in range(len(p["code"]))])
    s3 = struct.pack("<I", len(lines)) + b"".join(struct.pack("<II", l, c) for l, c in lines)
    s4 = struct.pack("<I", len(p["strings"])) + b"".join(
        struct.pack("<I", len(s)) + s for s in p["strings"])
    s5 = struct.pack("<I", len(p["patterns"])) + b"".join(
        struct.pack("<BBHI", k, f, 0, t) for k, f, t in p["patterns"])
    s6 = struct.pack("<I", len(p["ints"])) + b"".join(
        struct.pack("<I", len(l)) + b"".join(struct.pack("<q", v) for v in l) for l in p["ints"])
    s7 = struct.pack("<I", len(p["refs"])) + b"".join(
        struct.pack("<I", len(l)) + b"".join(struct.pack("<I", v) for v in l) for l in p["refs"])
    secs = [s1, s2, s3, s4, s5, s6, s7]
    if v2:
        secs.append(struct.pack("<I", len(p["params"])) + b"".join(
            struct.pack("<II", n, d) for n, d in p["params"]))
        secs.append(struct.pack("<I", len(p["exprs"])) + b"".join(
            struct.pack("<BBHII", e[0], 0, e[3] if len(e) > 3 else 0, e[1], e[2]) for e in p["exprs"]))
    off = 24 + 12 * len(secs)
    table = b""
    for i, s in enumerate(secs):
        table += struct.pack("<III", i + 1, off, len(s))
        off += len(s)
    body = b"".join(secs)
    size = 24 + len(table) + len(body) + 4
    head = b"\x89WBC" + sentinel + struct.pack("<IHHII", order, version, nsect, size, 0)
    data = head + table + body
    return data + struct.pack("<I", zlib.crc32(data) if crc else 0)


def good():
    return {
        "source": b"rules/good.wbr",
        "strings": [b"*.num_batches_tracked", b"downsample_layers.0.*", b"stem.*",
                    b"^stages\\.(\\d+)\\.", b"stages.$1.blocks.", b"blocks.{i}.qkv",
                    b"blocks.{i}.q", b"blocks.{i}.k", b"*"],
        "patterns": [(0, 0, 0), (0, 0, 1), (1, 1, 3), (0, 0, 5), (0, 0, 8)],
        "ints": [[-1], [16, -1]],
        "refs": [[6, 7]],
        "code": [("drop", 0, 0, 0, 0, 0),
                 ("rename", 0, 0, 1, 2, 0),
                 ("rename", 1, 0, 2, 4, 0),
                 ("split", 0, 0, 3, 0, 1),
                 ("cast", 0, 3, 4, 0, 0),
                 ("expect_count", 0, 0, 4, 7, 0)],
    }


def good_v2():
    """param n = 4; param h = n * 2; reshape "*" [h, -1, n / 2]; expect "*" count n (format 2)."""
    return {
        "source": b"rules/p.wbr",
        "strings": [b"n", b"h", b"*"],
        "patterns": [(0, 0, 2)],
        "params": [(0, 0), (1, 3)],
        "exprs": [(LIT, 4, 0), (PARAM, 0, 0), (LIT, 2, 0), (MUL, 1, 2), (PARAM, 1, 0), (DIV, 1, 2)],
        "ints": [[XREF + 4, -1, XREF + 5], [XREF + 1]],
        "refs": [],
        "code": [("param", 0, 0, 0, 0, 0), ("param", 0, 0, 1, 0, 0), ("reshape", 0, 0, 0, 0, 0),
                 ("expect_count_of", 0, 0, 0, 1, 0)],
    }


def v2(**changes):
    p = good_v2()
    for k, val in changes.items():
        p[k] = val
    return p


def v2_files(files):
    files["good_v2"] = encode(good_v2())
    ex = good_v2()["exprs"]
    files["v2_param_index"] = encode(v2(exprs=ex[:1] + [(PARAM, 5, 0)] + ex[2:]))
    files["v2_forward_operand"] = encode(v2(exprs=ex[:3] + [(MUL, 1, 4)] + ex[4:]))
    files["v2_too_deep"] = encode(v2(exprs=ex + [(ADD, 5 + i, 0) for i in range(40)]))
    files["v2_bad_ref"] = encode(v2(ints=[[XREF + 99, -1, 2], [XREF + 1]]))
    files["v2_default_uses_later"] = encode(v2(params=[(0, 4), (1, 0)]))
    files["v2_duplicate_name"] = encode(v2(params=[(0, 0), (0, 3)]))
    files["v2_bad_name"] = encode(v2(strings=[b"N", b"h", b"*"]))
    files["v2_param_order"] = encode(v2(code=[("param", 0, 0, 1, 0, 0), ("param", 0, 0, 0, 0, 0)]
                                          + good_v2()["code"][2:]))
    files["v2_undeclared_entry"] = encode(v2(code=good_v2()["code"][:1] + good_v2()["code"][2:]))
    files["v2_axes_ref"] = encode(v2(code=good_v2()["code"][:2] + [("permute", 0, 0, 0, 1, 0)]))
    files["v2_node_reserved"] = encode(v2(exprs=ex[:2] + [(LIT, 2, 0, 7)] + ex[3:]))
    files["v2_unknown_op"] = encode(v2(exprs=ex[:2] + [(9, 2, 0)] + ex[3:]))
    files["v2_seven_sections"] = encode(good(), version=2)
    files["version3"] = encode(good(), version=3)


MATCH_SOURCE = b'weightbridge 1\ndrop "nope"\n'


def fnv1a64(data):
    h = 1469598103934665603
    for c in data:
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def nope_program(source):
    """`drop "nope"` (matches nothing: an error at 2:1) recorded as compiled from `source`, with
    the hash of MATCH_SOURCE."""
    return {"source": source, "hash": fnv1a64(MATCH_SOURCE), "strings": [b"nope"], "patterns": [(0, 0, 0)],
            "ints": [], "refs": [], "code": [("drop", 0, 0, 0, 0, 0)]}


def variant(**changes):
    p = good()
    for k, v in changes.items():
        p[k] = v
    return p


def main(d):
    files = {"good": encode(good())}
    code = good()["code"]

    def with_insn(i, insn):
        c = list(code)
        c[i] = insn
        return c
    files["bad_opcode"] = encode(variant(code=with_insn(1, (77, 0, 0, 1, 2, 0))))
    files["pattern_index"] = encode(variant(code=with_insn(0, ("drop", 0, 0, 9, 0, 0))))
    files["bad_regex"] = encode(variant(strings=good()["strings"][:3] + [b"^stages\\.((\\d+)\\."]
                                        + good()["strings"][4:]))
    files["unbound_capture"] = encode(variant(code=with_insn(2, ("rename", 0, 0, 2, 6, 0))))
    files["bad_dtype"] = encode(variant(code=with_insn(4, ("cast", 0, 40, 4, 0, 0))))
    files["bad_flags"] = encode(variant(code=with_insn(0, ("drop", 0x80, 0, 0, 0, 0))))
    files["huge_count"] = encode(variant(ints=[[-1]] * 1 + [[16, -1]]))  # patched below
    b = bytearray(files["huge_count"])
    strings_off = struct.unpack_from("<I", b, 24 + 12 * 3 + 4)[0]
    struct.pack_into("<I", b, strings_off, 0x7FFFFFFF)
    struct.pack_into("<I", b, len(b) - 4, zlib.crc32(bytes(b[:-4])))
    files["huge_count"] = bytes(b)
    files["sizes_mismatch"] = encode(variant(ints=[[-1], [16, 16, -1]]))
    # concat: the VM reads the text of every input pattern after the first as a template of the
    # first's captures, so the verifier must compile it as one (capture 'j' is not bound).
    for name, later in (("concat_ok", b"blocks.{i}.k"), ("concat_unbound_input", b"blocks.{j}.k")):
        files[name] = encode(variant(strings=good()["strings"] + [later],
                                     patterns=good()["patterns"] + [(0, 0, 9)],
                                     refs=[[6, 7], [3, 5]],
                                     code=code + [("concat", 0, 0, 1, 6, 0)]))
    v2_files(files)
    files["checksum"] = encode(good(), crc=False)
    files["byte_swapped"] = encode(good(), order=0x01020304)
    # A text-mode transfer turns CR LF into LF everywhere, the sentinel included.
    files["crlf_to_lf"] = files["good"].replace(b"\r\n", b"\n")
    files["truncated"] = files["good"][:-9]
    files["trailing"] = files["good"] + b"\n"
    files["not_wbc"] = b"weightbridge 1\ndrop \"x\"\n"
    files["empty"] = b""
    # The source name inside a .wbc is untrusted: the VM may only read it if it is a regular
    # file, and only use it if its hash is the recorded one (issue 9, item 12).
    for name, src in (("src_stdin", b"/dev/stdin"), ("src_fifo", b"fifo.wbr"), ("src_stale", b"stale.wbr"),
                      ("src_match", b"match.wbr"), ("src_dir", b"."), ("src_missing", b"no/such.wbr"),
                      ("src_not_wbr", b"match.txt")):
        files[name] = encode(nope_program(src))
    for name, data in files.items():
        with open(f"{d}/{name}.wbc", "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
