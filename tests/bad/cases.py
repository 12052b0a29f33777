#!/usr/bin/python3
"""cases.py OUTDIR — the bad-input table: malformed weight files and manifests, each with the
exact diagnostic `wbr inspect` must print for it. Writes every case to OUTDIR/ID/FILE and prints
one line per case for run.sh:  ID <TAB> PATH <TAB> EXPECTED-STDERR-TEXT

Row format — one call per row, grouped by format; ids are stable (never renumber, never reuse):

    row(ID, FILE, BYTES, MESSAGE, at=None, cmd=None, dir=False)

  ID       short stable id, "<format>-<what>" (e.g. "st-hole-middle"); unique
  FILE     file name to write; its extension picks the reader (.safetensors, .json, ...)
  BYTES    the file's contents: bytes, or str (encoded as UTF-8); build them with the helpers
           below (st(), entry(), raw strings) — never commit binary files
  MESSAGE  the exact error message; run.sh requires stderr to contain
           "PATH: error: MESSAGE" (or "PATH:AT: error: MESSAGE" when at="LINE:COL" is given),
           exactly one error, a help line, exit code 1, no crash, nothing on stdout
  cmd      the wbr command to run, a list of words with "{}" for the file (default
           ["inspect", "{}"]); other files it names are paths from the project root
  dir      the case is the directory OUTDIR/ID that holds FILE (a model directory): "{}" and
           the PATH of the message are the directory

To add a format: write its helpers next to st(), then its rows in a new section.
"""
import json
import os
import struct
import sys

ROWS = []


def row(id, file, data, message, at=None, cmd=None, dir=False):
    ROWS.append((id, file, data, message, at, cmd or ["inspect", "{}"], dir))


# ---- helpers --------------------------------------------------------------------------------


def st(header, data=b"", n=None):
    """A safetensors file: 8-byte little-endian header length, the header, the data.
    header: a dict (serialized compactly, key order kept) or a str/bytes used verbatim.
    n: the header length to store, if it must lie."""
    if isinstance(header, dict):
        header = json.dumps(header, separators=(",", ":"))
    if isinstance(header, str):
        header = header.encode("utf-8")
    return struct.pack("<Q", len(header) if n is None else n) + header + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def mf(tensors, **top):
    """A manifest's text from a dict of tensors (order kept)."""
    doc = dict(top)
    doc["tensors"] = tensors
    return json.dumps(doc)


ST = "model.safetensors"
MF = "target.json"
TOO_SHORT = "too short for safetensors (it starts with an 8-byte header length)"
OK1 = entry("F32", [2], 0, 8)  # a valid 8-byte tensor

# ---- safetensors ----------------------------------------------------------------------------

row("st-empty-file", ST, b"", "file is 0 bytes: " + TOO_SHORT)
row("st-short", ST, b"\x01\x02\x03", "file is 3 bytes: " + TOO_SHORT)
row("st-len-zero", ST, st("{}", n=0), "header length is 0")
row("st-len-2^63", ST, st("{}", n=1 << 63),
    "header length 9223372036854775808 exceeds the limit of 100000000 bytes")
row("st-len-over-limit", ST, st("{}", n=100000001),
    "header length 100000001 exceeds the limit of 100000000 bytes")
row("st-len-past-end", ST, st("{}", n=100),
    "header length 100 runs past the end of the file (2 bytes follow it)")
row("st-not-object", ST, st("[1] "), "header does not start with '{' (it must be a JSON object)")
row("st-leading-space", ST, st(' {}'), "header does not start with '{' (it must be a JSON object)")
row("st-bad-utf8", ST, st(b'{"\xff":1}'), "header is not valid JSON: invalid UTF-8 at header byte 2")
row("st-overlong-utf8", ST, st(b'{"\xc0\xaf":1}'),
    "header is not valid JSON: invalid UTF-8 at header byte 2")
row("st-truncated-json", ST, st('{"a":'),
    "header is not valid JSON: unexpected end of JSON at header byte 5")
row("st-trailing-garbage", ST, st("{} x"),
    "header is not valid JSON: unexpected data after the JSON value at header byte 3")
row("st-nul-padding", ST, st(b"{}\0\0\0\0\0\0"),
    "header is not valid JSON: unexpected data after the JSON value at header byte 2")
row("st-leading-zero", ST, st('{"a":{"dtype":"U8","shape":[01],"data_offsets":[0,1]}}', b"x"),
    "header is not valid JSON: malformed number '01' at header byte 28")
row("st-raw-tab-in-name", ST, st('{"a\tb":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x"),
    "header is not valid JSON: control character 0x09 inside a string at header byte 3")
row("st-nul-escape", ST, st('{"a\\u0000":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x"),
    "header is not valid JSON: string contains \\u0000, which names and metadata cannot hold "
    "at header byte 3")
row("st-lone-surrogate", ST, st('{"\\ud800":1}'),
    "header is not valid JSON: \\u escape is half a UTF-16 surrogate pair at header byte 2")
row("st-bad-escape", ST, st('{"\\x41":1}'),
    "header is not valid JSON: invalid escape '\\x' in a string at header byte 2")
row("st-deep-nesting", ST, st('{"a":' + "[" * 2000 + "]" * 2000 + "}"),
    "header is not valid JSON: nested deeper than 256 levels at header byte 260")
row("st-entry-number", ST, st({"a": 5}),
    "tensor 'a': entry is a number, expected an object with dtype, shape and data_offsets")
row("st-control-name", ST, st({"a\x01": 5}),
    "tensor 'a\\x01': entry is a number, expected an object with dtype, shape and data_offsets")
row("st-missing-dtype", ST, st({"a": {"shape": [2], "data_offsets": [0, 8]}}, b"x" * 8),
    "tensor 'a': missing \"dtype\"")
row("st-missing-shape", ST, st({"a": {"dtype": "F32", "data_offsets": [0, 8]}}, b"x" * 8),
    "tensor 'a': missing \"shape\"")
row("st-missing-offsets", ST, st({"a": {"dtype": "F32", "shape": [2]}}, b"x" * 8),
    "tensor 'a': missing \"data_offsets\"")
row("st-extra-key", ST, st({"a": dict(OK1, offsets=[0, 8])}, b"x" * 8),
    "tensor 'a': unknown key \"offsets\"")
row("st-dup-key", ST,
    st('{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', b"x" * 8),
    "tensor 'a': key \"dtype\" appears twice")
row("st-dtype-number", ST, st({"a": entry(4, [2], 0, 8)}, b"x" * 8),
    "tensor 'a': \"dtype\" is a number, expected a string such as \"F32\"")
row("st-dtype-unknown", ST, st({"a": entry("F128", [2], 0, 8)}, b"x" * 8),
    "tensor 'a': unknown dtype \"F128\"")
row("st-dtype-lowercase", ST, st({"a": entry("f32", [2], 0, 8)}, b"x" * 8),
    "tensor 'a': unknown dtype \"f32\"")
row("st-shape-string", ST, st({"a": entry("F32", "2", 0, 8)}, b"x" * 8),
    "tensor 'a': \"shape\" is a string, expected a list of non-negative integers")
row("st-shape-negative", ST, st({"a": entry("F32", [-2], 0, 8)}, b"x" * 8),
    "tensor 'a': shape[0] is -2, expected a non-negative integer")
row("st-shape-fraction", ST, st({"a": entry("F32", [1, 2.5], 0, 8)}, b"x" * 8),
    "tensor 'a': shape[1] is 2.5, expected a non-negative integer")
row("st-shape-float-integral", ST, st({"a": entry("F32", [2.0], 0, 8)}, b"x" * 8),
    "tensor 'a': shape[0] is 2.0, expected a non-negative integer")
row("st-shape-exponent", ST, st('{"a":{"dtype":"U8","shape":[1e0],"data_offsets":[0,1]}}', b"x"),
    "tensor 'a': shape[0] is 1e0, expected a non-negative integer")
row("st-shape-elem-string", ST, st({"a": entry("F32", ["2"], 0, 8)}, b"x" * 8),
    "tensor 'a': shape[0] is a string, expected a non-negative integer")
row("st-shape-2^53+1", ST, st({"a": entry("U8", [2**53 + 1], 0, 8)}, b"x" * 8),
    "tensor 'a': shape[0] is 9007199254740993, larger than 2^53")
row("st-shape-9-dims", ST, st({"a": entry("U8", [1] * 9, 0, 1)}, b"x"),
    "tensor 'a': shape has 9 dimensions, at most 8 are supported")
row("st-nelem-overflow", ST, st({"a": entry("U8", [2**32, 2**32, 2], 0, 0)}),
    "tensor 'a': shape [4294967296, 4294967296, 2] has more elements than fit in 64 bits")
row("st-nbytes-overflow", ST, st({"a": entry("F32", [2**31, 2**31, 2], 0, 0)}),
    "tensor 'a': shape [2147483648, 2147483648, 2] of F32 needs more bytes than fit in 64 bits")
row("st-offsets-number", ST, st({"a": {"dtype": "F32", "shape": [2], "data_offsets": 8}}, b"x" * 8),
    "tensor 'a': \"data_offsets\" is a number, expected a list of two integers [begin, end]")
row("st-offsets-three", ST, st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 8]}},
                                b"x" * 8),
    "tensor 'a': \"data_offsets\" is a list of another length, expected a list of two integers "
    "[begin, end]")
row("st-offsets-negative", ST, st({"a": entry("F32", [2], -8, 0)}, b"x" * 8),
    "tensor 'a': data_offsets[0] is -8, expected a non-negative integer")
row("st-offsets-reversed", ST, st({"a": entry("F32", [1], 8, 4)}, b"x" * 8),
    "tensor 'a': data_offsets [8, 4] end before they begin")
row("st-size-mismatch", ST, st({"a.weight": entry("F32", [2, 3], 0, 12)}, b"x" * 12),
    "tensor 'a.weight': data_offsets [0, 12] hold 12 bytes but shape [2, 3] of F32 needs 24")
row("st-past-end", ST, st({"a": entry("F32", [6], 0, 24)}, b"x" * 16),
    "tensor 'a': data_offsets [0, 24] reach past the end of the data section (16 bytes)")
row("st-overlap", ST, st({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}, b"x" * 12),
    "tensors 'a' and 'b' overlap: data_offsets [0, 8] and [4, 12]")
row("st-same-offsets", ST, st({"b": entry("F32", [2], 0, 8), "a": entry("I32", [2], 0, 8)},
                               b"x" * 8),
    "tensors 'b' and 'a' overlap: data_offsets [0, 8] and [0, 8]")
row("st-zero-size-inside", ST, st({"a": entry("F32", [2], 0, 8), "z": entry("F32", [0], 4, 4)},
                                   b"x" * 8),
    "tensors 'a' and 'z' overlap: data_offsets [0, 8] and [4, 4]")
row("st-hole-middle", ST, st({"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)},
                              b"x" * 12),
    "no tensor covers bytes [4, 8) of the data section (between 'a' and 'b')")
row("st-hole-start", ST, st({"a": entry("F32", [1], 4, 8)}, b"x" * 8),
    "no tensor covers bytes [0, 4) of the data section (before 'a')")
row("st-trailing-data", ST, st({"a": entry("F32", [1], 0, 4)}, b"x" * 8),
    "the data section has 4 bytes after the last tensor ('a' ends at 4, the section is 8 bytes)")
row("st-no-tensors-data", ST, st({}, b"x" * 4),
    "the header lists no tensors but 4 bytes of data follow it")
row("st-dup-name", ST,
    st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
       '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"x" * 8),
    "tensor 'a' appears twice in the header")
row("st-empty-name", ST, st({"": OK1}, b"x" * 8), "a tensor has an empty name")
row("st-meta-list", ST, st({"__metadata__": ["pt"], "a": OK1}, b"x" * 8),
    "\"__metadata__\" is a list, expected an object of strings")
row("st-meta-number", ST, st({"__metadata__": {"format": "pt", "epoch": 3}, "a": OK1}, b"x" * 8),
    "\"__metadata__\": value of 'epoch' is a number, expected a string")
row("st-meta-dup-key", ST,
    st('{"__metadata__":{"k":"1","k":"2"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
       b"x" * 8),
    "\"__metadata__\": key 'k' appears twice")
row("st-meta-twice", ST,
    st('{"__metadata__":{},"__metadata__":{},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
       b"x" * 8),
    "\"__metadata__\" appears twice")

# ---- manifests ------------------------------------------------------------------------------

row("mf-empty", MF, "", "manifest is empty")
row("mf-blank", MF, " \n\t\n", "manifest is empty")
row("mf-truncated", MF, '{"tensors": {', "manifest is not valid JSON: unexpected end of JSON",
    at="1:14")
row("mf-trailing", MF, '{"tensors": {}}\n}\n',
    "manifest is not valid JSON: unexpected data after the JSON value", at="2:1")
row("mf-bad-utf8", MF, b'{"tensors": {"\xe2\x82": {}}}', "manifest is not valid JSON: invalid UTF-8",
    at="1:15")
row("mf-trailing-comma", MF, '{"tensors": {\n  "a": {"shape": [2], "dtype": "F32"},\n}}',
    "manifest is not valid JSON: expected a string key after ','", at="3:1")
row("mf-single-quotes", MF, "{'tensors': {}}",
    "manifest is not valid JSON: expected a string key or '}'", at="1:2")
row("mf-missing-colon", MF, '{"tensors" {}}', "manifest is not valid JSON: expected ':' after an "
    "object key", at="1:12")
row("mf-missing-comma", MF, '{"tensors": {\n "a": {"shape": [2] "dtype": "F32"}}}',
    "manifest is not valid JSON: expected ',' or '}'", at="2:21")
row("mf-bad-literal", MF, '{"tensors": {"a": {"shape": tru, "dtype": "F32"}}}',
    "manifest is not valid JSON: expected a value", at="1:29")
row("mf-minus-only", MF, '{"tensors": {"a": {"shape": [-], "dtype": "F32"}}}',
    "manifest is not valid JSON: malformed number '-'", at="1:30")
row("mf-long-number", MF, '{"tensors": {"a": {"shape": [%s], "dtype": "F32"}}}' % ("9" * 41),
    "manifest is not valid JSON: number '99999999999999999999...' is longer than 40 characters",
    at="1:30")
row("mf-list", MF, "[1, 2]", "manifest is a list, expected an object with a \"tensors\" key")
row("mf-no-tensors", MF, "{}", "manifest has no \"tensors\" key")
row("mf-unknown-top", MF, '{"tensors": {}, "tensor": {}}', "unknown top-level key \"tensor\"")
row("mf-dup-top", MF, '{"tensors": {}, "tensors": {}}', "top-level key \"tensors\" appears twice")
row("mf-tensors-list", MF, '{"tensors": [{"shape": [2], "dtype": "F32"}]}',
    "\"tensors\" is a list, expected an object mapping names to {\"shape\", \"dtype\"}")
row("mf-entry-list", MF, mf({"a": [2, 3]}),
    "tensor 'a': entry is a list, expected an object with \"shape\" and \"dtype\"")
row("mf-missing-dtype", MF, mf({"a": {"shape": [2]}}), "tensor 'a': missing \"dtype\"")
row("mf-missing-shape", MF, mf({"a": {"dtype": "F32"}}), "tensor 'a': missing \"shape\"")
row("mf-unknown-dtype", MF, mf({"a": {"shape": [2], "dtype": "F12"}}),
    "tensor 'a': unknown dtype \"F12\"")
row("mf-dtype-number", MF, mf({"a": {"shape": [2], "dtype": 32}}),
    "tensor 'a': \"dtype\" is a number, expected a string such as \"F32\"")
row("mf-extra-key", MF, mf({"a": {"shape": [2], "dtype": "F32", "data_offsets": [0, 8]}}),
    "tensor 'a': unknown key \"data_offsets\"")
row("mf-dup-key", MF, '{"tensors": {"a": {"shape": [2], "shape": [3], "dtype": "F32"}}}',
    "tensor 'a': key \"shape\" appears twice")
row("mf-shape-null", MF, mf({"a": {"shape": None, "dtype": "F32"}}),
    "tensor 'a': \"shape\" is null, expected a list of non-negative integers")
row("mf-shape-negative", MF, mf({"blocks.0.w": {"shape": [3, -1], "dtype": "F32"}}),
    "tensor 'blocks.0.w': shape[1] is -1, expected a non-negative integer")
row("mf-shape-float", MF, mf({"a": {"shape": [0.5], "dtype": "F32"}}),
    "tensor 'a': shape[0] is 0.5, expected a non-negative integer")
row("mf-shape-9-dims", MF, mf({"a": {"shape": [1] * 9, "dtype": "F32"}}),
    "tensor 'a': shape has 9 dimensions, at most 8 are supported")
row("mf-overflow", MF, mf({"a": {"shape": [2**40, 2**40], "dtype": "F32"}}),
    "tensor 'a': shape [1099511627776, 1099511627776] of F32 has more elements or bytes than fit "
    "in 64 bits")
row("mf-dup-name", MF, '{"tensors": {"a": {"shape": [], "dtype": "F32"}, '
                       '"a": {"shape": [], "dtype": "F32"}}}',
    "tensor 'a' appears twice in \"tensors\"")
row("mf-empty-name", MF, mf({"": {"shape": [], "dtype": "F32"}}), "a tensor has an empty name")
row("mf-meta-number", MF, mf({}, metadata={"epoch": 3}),
    "\"metadata\": value of 'epoch' is a number, expected a string")

# ---- any format -----------------------------------------------------------------------------

row("ext-unknown", "weights.xyz", b"\0" * 16, "unknown file type (by extension)")

# ---- Hugging Face model directories (formats/hfdir.c) ---------------------------------------

NO_WEIGHTS = ("no model weights in this directory: looked for model.safetensors, "
              "model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json")
row("hfdir-config-only", "config.json", '{"hidden_size": 8}', NO_WEIGHTS, dir=True)
row("hfdir-other-weights", "consolidated.safetensors", st({}), NO_WEIGHTS, dir=True)
row("hfdir-peft-adapter", "adapter_model.safetensors", st({}),
    "this is a PEFT adapter directory (adapter_model.safetensors), not a model's weights", dir=True)
row("hfdir-as-target", "config.json", "{}", NO_WEIGHTS, dir=True,
    cmd=["match", "tests/fixtures/vit_tv_to_timm/a.json", "{}"])

# ---- rule files and bytecode where a rule file is read --------------------------------------

VIT = "tests/fixtures/vit_tv_to_timm/"
MATCH_UPDATE = ["match", VIT + "a.json", VIT + "b.json", "--update", "{}"]
row("wbc-as-update", "rules.wbc", b"\x89WBC\r\n\x1a\n" + bytes(56),
    "this is compiled bytecode (.wbc); --update reads and extends a rule file (.wbr)", cmd=MATCH_UPDATE)
FMT = ["fmt", "{}"]
row("wbr-hint-layout-word", "rules.wbr", 'weightbridge 1\nhint "a" = "b" transpse\n',
    "expected end of line, 'transpose' or 'permute' after the name of 'hint', found 'transpse'; "
    "did you mean 'transpose'?", at="2:16", cmd=FMT)
row("wbr-hint-layout-brackets", "rules.wbr", 'weightbridge 1\nhint "a" = "b" permute [1, 0]\n',
    "expected '(' after 'permute' of 'hint', found '['", at="2:24", cmd=FMT)
row("wbr-hint-layout-perm", "rules.wbr", 'weightbridge 1\nhint "a" = "b" permute (1, 1)\n',
    "axis 1 appears twice: the list is not a permutation", at="2:28", cmd=FMT)
row("wbr-hint-layout-empty", "rules.wbr", 'weightbridge 1\nhint "a" = "b" permute ()\n',
    "empty axis list in 'permute'", at="2:24", cmd=FMT)
row("wbr-hint-layout-after-transpose", "rules.wbr", 'weightbridge 1\nhint "a" = "b" transpose (1, 0)\n',
    "expected end of line after 'transpose' of 'hint', found '('", at="2:26", cmd=FMT)


def main():
    out = sys.argv[1]
    seen = set()
    for id, file, data, message, at, cmd, is_dir in ROWS:
        assert id not in seen, "duplicate id " + id
        assert "\t" not in message and "\n" not in message, id
        seen.add(id)
        d = os.path.join(out, id)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, file)
        with open(path, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        if is_dir:
            path = d
        where = path + (":" + at if at else "")
        words = [path if w == "{}" else w for w in cmd]
        assert all(" " not in w and "\t" not in w for w in words), id
        print("%s\t%s\t%s: error: %s\t%s" % (id, path, where, message, " ".join(words)))


if __name__ == "__main__":
    main()
