"""test_native.py -- the weightbridge._native extension, method by method, against NumPy/torch as
the oracle: results, exceptions with the CLI's diagnostics, reference counting (a memoryview that
outlives its set, a plan that outlives its sources), hostile inputs (exceptions, never a crash)
and the GIL released while apply_memory works. Prints PASS/FAIL/SKIP lines (tests/lib.sh's)."""
import gc
import os
import sys
import threading
import time
import traceback

import numpy as np

import weightbridge._native as n

TMP = sys.argv[1]
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def path(name):
    return os.path.join(TMP, name)


def raises(cls, fn, *args, contains=None, **kw):
    try:
        fn(*args, **kw)
    except cls as e:
        if contains is not None and contains not in str(e):
            raise AssertionError("%s raised %s without %r: %s" % (fn, cls.__name__, contains, e))
        return e
    except Exception as e:  # noqa: BLE001 - report what it was
        raise AssertionError("%s raised %s (%s), wanted %s" % (getattr(fn, "__name__", fn), type(e).__name__, e,
                                                              cls.__name__))
    raise AssertionError("%s did not raise %s" % (getattr(fn, "__name__", fn), cls.__name__))


def small_set():
    ts = n.TensorSet()
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.arange(4, dtype=np.float32) - 10
    ts.add("a", "F32", (3, 4), a)
    ts.add("b", "F32", (4,), b)
    return ts, a, b


def file_bytes(name):
    """A small set written to TMP/name, and the file's bytes."""
    small_set()[0].write(path(name))
    with open(path(name), "rb") as f:
        return f.read()


def run_plan(pl):
    """apply_memory into fresh arrays, one per output."""
    outs = [np.empty(nb, dtype=np.uint8) for (_, _, _, nb) in pl.outputs()]
    pl.apply_memory(outs)
    return outs


RULES = 'weightbridge 1\ntranspose "a"\nrename "b" -> "bias"\n'


@test
def version():
    assert n.version() == n.__version__ and n.version().count(".") == 2, n.version()


@test
def tensorset_methods():
    ts, a, b = small_set()
    assert len(ts) == 2 and ts.names() == ["a", "b"]
    assert ts.info(0) == ("a", "F32", (3, 4), 48, None), ts.info(0)
    assert ts.info("b") == ("b", "F32", (4,), 16, None)
    assert ts.find("b") == 1 and ts.find("zz") == -1
    assert ts.has_data is True and ts.format == "memory"
    mv = ts.data("a")
    assert mv.readonly and mv.nbytes == 48
    assert np.array_equal(np.frombuffer(mv, np.float32).reshape(3, 4), a)
    # zero-copy: the memoryview is over the borrowed array itself
    assert np.frombuffer(mv, np.uint8).__array_interface__["data"][0] == a.__array_interface__["data"][0]
    ts.set_metadata("k", "v")
    assert ts.metadata() == {"k": "v"}
    assert '"a": {"shape": [3, 4], "dtype": "F32"}' in ts.manifest().replace("\n", " "), ts.manifest()
    assert "a" in ts.render("x.safetensors") and "F32" in ts.render()
    raises(IndexError, ts.info, 2)
    raises(KeyError, ts.data, "nope")


@test
def write_and_open_every_format():
    ts, a, b = small_set()
    for ext in ("safetensors", "pt", "npz", "gguf"):
        p = path("w." + ext)
        ts.write(p)
        back = n.open(p)
        assert back.names() == ["a", "b"], (ext, back.names())
        assert np.array_equal(np.frombuffer(back.data("a"), np.float32).reshape(3, 4), a), ext
    ts.write(path("m.json"))
    man = n.open(path("m.json"))
    assert man.has_data is False and man.data("a") is None and man.format == "manifest"


@test
def write_protect():
    ts, _, _ = small_set()
    ts.write(path("p.safetensors"))
    e = raises(n.UsageError, ts.write, path("p.safetensors"), protect=[path("p.safetensors")])
    assert e.code == -4 and e.kind == "usage"


@test
def open_memory_and_key():
    a = small_set()[1]
    data = file_bytes("om.safetensors")
    m = n.open_memory("x.safetensors", data)
    assert np.array_equal(np.frombuffer(m.data("a"), np.float32).reshape(3, 4), a)
    m2 = n.open_memory("y.safetensors", bytearray(data))
    assert m2.names() == ["a", "b"]


@test
def lazy_torch_view():
    try:
        import torch
    except ImportError:
        return "SKIP torch missing"
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
    torch.save({"model": {"v": base.t(), "w": base[1:5, ::2]}, "epoch": 3}, path("v.pt"))
    ts = n.open(path("v.pt") + "#model")
    v = np.frombuffer(ts.data("v"), np.float32).reshape(8, 6)
    assert np.array_equal(v, base.t().numpy())
    w = np.frombuffer(ts.data("w"), np.float32).reshape(4, 4)
    assert np.array_equal(w, base[1:5, ::2].numpy())
    assert ts.data("v").tobytes() == v.tobytes()  # made once, same bytes again


@test
def program_methods():
    p = n.compile("r.wbr", RULES)
    assert p.source_name == "r.wbr"
    assert "transpose" in p.disasm()
    blob = p.serialize()
    assert isinstance(blob, bytes) and len(blob) > 16
    p.save(path("r.wbc"))
    with open(path("r.wbc"), "rb") as f:
        assert f.read() == blob
    q = n.load_program(path("r.wbc"))
    assert q.disasm() == p.disasm()
    assert n.load_program_bytes("r.wbc", blob).disasm() == p.disasm()
    with open(path("r.wbr"), "w") as f:
        f.write(RULES)
    assert "transpose" in n.load_program(path("r.wbr")).disasm()


@test
def config_and_format():
    with open(path("config.json"), "w") as f:
        f.write('{"num_attention_heads": 12, "hidden_size": 768, "name": "x"}')
    got = n.config_params(path("config.json"))
    assert ("n_heads", 12, "num_attention_heads") in got, got
    assert ("hidden_size", 768, "hidden_size") in got, got
    assert n.config_params_bytes("c.json", '{"n_layers": 4}') == [("n_layers", 4, "n_layers")]
    raises(n.UsageError, n.config_params_bytes, "c.json", "[1, 2]")
    assert n.format_rules("r.wbr", 'weightbridge 1\ntranspose   "a"\n') == 'weightbridge 1\ntranspose "a"\n'
    raises(n.RulesError, n.format_rules, "r.wbr", "weightbridge 1\nrename\n")


@test
def plan_and_apply_memory():
    ts, a, b = small_set()
    pl = n.plan(n.compile("r.wbr", RULES), ts)
    assert pl.problems == 0 and len(pl) == 2 and pl.diagnostics == []
    assert pl.outputs() == [("a", "F32", (4, 3), 48), ("bias", "F32", (4,), 16)]
    out = [np.empty((4, 3), np.float32), np.empty(4, np.float32)]
    pl.apply_memory(out)
    assert np.array_equal(out[0], a.T) and np.array_equal(out[1], b)
    assert "transpose" in pl.render() and pl.render("json").startswith("{") and "|" in pl.render(fmt="md")
    raises(ValueError, pl.render, "xml")


@test
def apply_file_same_as_memory():
    ts, a, _ = small_set()
    pl = n.plan(n.compile("r.wbr", 'weightbridge 1\ntranspose "a"\ncast "*" bf16\n'), ts)
    mem = run_plan(pl)
    pl.apply_file(path("af.safetensors"), durable=True)
    back = n.open(path("af.safetensors"))
    for i, m in enumerate(mem):
        assert bytes(back.data(i)) == m.tobytes(), i
    import torch  # the bf16 oracle
    want = torch.from_numpy(a.T.copy()).to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    assert mem[0].tobytes() == want


@test
def plan_params_and_problems():
    ts, _, _ = small_set()
    prog = n.compile("p.wbr", 'weightbridge 1\nparam k = 2\nreshape "b" [k, -1]\n')
    assert n.plan(prog, ts).outputs()[1][2] == (2, 2)
    assert n.plan(prog, ts, params={"k": 4}).outputs()[1][2] == (4, 1)
    assert n.plan(prog, ts, params=[("k", 1, "flag", None)]).outputs()[1][2] == (1, 4)
    assert n.plan(prog, ts, params=[("k", 4, "config", "num_k")]).outputs()[1][2] == (4, 1)
    e = raises(n.RulesError, n.plan, prog, ts, params={"nope": 1})
    assert e.diagnostics and "nope" in str(e)
    raises(TypeError, n.plan, prog, ts, params={"k": "4"})
    raises(ValueError, n.plan, prog, ts, params=[("k", 1, "shell", None)])
    bad = n.plan(n.compile("q.wbr", 'weightbridge 1\nrename "zz" -> "y"\n'), ts)
    assert bad.problems == 1 and any("zz" in d for d in bad.diagnostics), bad.diagnostics
    e = raises(n.MappingError, run_plan, bad)
    assert e.code == -8 and e.kind == "mapping" and isinstance(e, ValueError)


@test
def plan_with_target():
    ts, _, _ = small_set()
    tg = n.TensorSet()
    tg.add("bias", "F32", (4,))
    tg.add("a", "F32", (4, 3))
    pl = n.plan(n.compile("r.wbr", RULES), ts, tg)
    assert pl.problems == 0 and [o[0] for o in pl.outputs()] == ["bias", "a"]  # target order


@test
def match_dict():
    ts, _, _ = small_set()
    tg = n.TensorSet()
    tg.add("head", "F32", (4, 3))
    tg.add("bias", "F32", (4,))
    m = n.match(ts, tg, src_label="src.safetensors", target_label="t.json", explain=True)
    keys = {"draft", "explain", "complete", "targets", "paired", "ambiguous", "unmatched", "statements", "dtype",
            "depth", "review_count", "review", "json"}
    assert keys <= set(m), set(m)
    assert m["complete"] is True and m["targets"] == 2 and m["paired"] == 2 and m["explain"]
    assert 'rename "a" -> "head"' in m["draft"]
    # Two same-shape candidates and nothing to tell them apart: undecided, with a hint that settles it.
    s2 = n.TensorSet()
    s2.add("x", "F32", (4,), np.zeros(4, np.float32))
    s2.add("y", "F32", (4,), np.ones(4, np.float32))
    t2 = n.TensorSet()
    t2.add("p", "F32", (4,))
    t2.add("q", "F32", (4,))
    u = n.match(s2, t2)
    assert u["complete"] is False and u["ambiguous"] == 2, u
    h = n.match(s2, t2, hints=["x=q", "y=p"])
    assert h["complete"] is True and 'rename "x" -> "q"' in h["draft"], h["draft"]
    e = raises(n.Error, n.match, s2, t2, hints=["x"], contains="hint 'x' has no '='")
    assert isinstance(e, ValueError)
    raises(TypeError, n.match, s2, t2, hints="x=q")
    raises(n.UsageError, n.match, s2, t2, src_layout="jax")
    assert n.match(s2, t2, src_layout="haiku", target_layout="pytorch", hints=["x=q", "y=p"])["complete"]


@test
def errors_carry_diagnostics():
    e = raises(n.RulesError, n.compile, "bad.wbr", 'weightbridge 1\nrenam "a"\n')
    assert e.code == -6 and e.kind == "rules" and isinstance(e, n.Error) and isinstance(e, ValueError)
    assert e.diagnostics[0].startswith("bad.wbr:2:1: error: unknown statement"), e.diagnostics
    assert str(e) == "\n".join(e.diagnostics) and "help:" in str(e)
    e = raises(n.Error, n.load_program, path("missing.wbc"))
    assert e.kind in ("io", "bytecode"), e.kind
    e = raises(n.WbrIOError, n.open, path("missing.safetensors"))
    assert e.kind == "io" and isinstance(e, OSError) and "missing.safetensors" in str(e)


@test
def refcount_view_outlives_set():
    ts, a, _ = small_set()
    mv = ts.data("a")
    del ts
    gc.collect()
    assert np.array_equal(np.frombuffer(mv, np.float32).reshape(3, 4), a)
    ts2 = n.open(path("w.safetensors"))  # mapped bytes
    mv2 = ts2.data(1)
    del ts2
    gc.collect()
    assert np.frombuffer(mv2, np.float32)[0] == -10


@test
def refcount_plan_outlives_sources():
    def make():
        ts = n.TensorSet()
        ts.add("a", "F32", (3, 4), np.arange(12, dtype=np.float32).reshape(3, 4))
        ts.add("b", "F32", (4,), np.zeros(4, np.float32))
        return n.plan(n.compile("r.wbr", RULES), ts)
    pl = make()
    gc.collect()
    out = run_plan(pl)
    assert np.array_equal(out[0].view(np.float32).reshape(4, 3), np.arange(12, dtype=np.float32).reshape(3, 4).T)


@test
def set_in_use_by_plan_is_frozen():
    ts, _, _ = small_set()
    pl = n.plan(n.compile("r.wbr", RULES), ts)
    raises(n.UsageError, ts.add, "c", "F32", (1,), np.zeros(1, np.float32))
    del pl
    ts.add("c", "F32", (1,), np.zeros(1, np.float32))
    assert len(ts) == 3


@test
def hostile_add():
    ts = n.TensorSet()
    z = np.zeros(4, np.float32)
    raises(TypeError, ts.add, 1, "F32", (4,), z)
    raises(TypeError, ts.add, "a", "F32", "abc", z)
    raises(TypeError, ts.add, "a", "F32", (4.0,), z)
    raises(TypeError, ts.add, "a", "F32", 4, z)
    raises(ValueError, ts.add, "a", "F33", (4,), z, contains="unknown dtype")
    raises(ValueError, ts.add, "a", "F32", (5,), z, contains="wrong size")
    raises(ValueError, ts.add, "a", "F32", (2,), np.zeros((4, 4), np.float32)[:, 0][:2].copy()[::2].repeat(1),
           contains="wrong size")
    raises(ValueError, ts.add, "a", "F32", (2, 2), np.zeros((4, 4), np.float32)[::2, ::2], contains="C-contiguous")
    raises(ValueError, ts.add, "a", "F32", (2 ** 40, 2 ** 40), z, contains="64 bits")
    raises(ValueError, ts.add, "a", "F32", (2 ** 70,), z)
    raises(ValueError, ts.add, "a", "F32", (-1,), z)
    raises(ValueError, ts.add, "a", "F32", (1,) * 9, z, contains="at most")
    raises(ValueError, ts.add, "a\0b", "F32", (4,), z, contains="NUL")
    raises(TypeError, ts.add, "a", "F32", (4,), 12345)
    ts.add("a", "F32", (4,), z)
    raises(n.FormatError, ts.add, "a", "F32", (4,), z)  # the name again
    raises(TypeError, n.TensorSet, 1)
    raises(TypeError, n.plan, "prog", ts)
    raises(TypeError, n.plan, n.compile("r.wbr", RULES), "ts")
    raises(TypeError, n.match, ts, None)
    assert len(ts) == 1


@test
def hostile_files():
    data = file_bytes("t.safetensors")
    with open(path("trunc.safetensors"), "wb") as f:
        f.write(data[:len(data) // 2])
    raises(n.FormatError, n.open, path("trunc.safetensors"))
    raises(n.FormatError, n.open_memory, "x.safetensors", data[:20])
    raises(n.FormatError, n.open_memory, "x.unknown", data)
    raises(n.FormatError, n.open, TMP)  # a directory
    blob = bytearray(n.compile("r.wbr", RULES).serialize())
    raises(n.BytecodeError, n.load_program_bytes, "t.wbc", bytes(blob[:len(blob) // 2]))
    blob[len(blob) // 2] ^= 0x5A
    e = raises(n.BytecodeError, n.load_program_bytes, "f.wbc", bytes(blob))
    assert e.kind == "bytecode" and e.code == -7
    raises(n.BytecodeError, n.load_program_bytes, "r.wbc", os.urandom(300))
    raises(TypeError, n.load_program_bytes, "r.wbc", "text")


@test
def hostile_apply_buffers():
    ts, _, _ = small_set()
    pl = n.plan(n.compile("r.wbr", RULES), ts)
    raises(ValueError, pl.apply_memory, [np.empty(12, np.float32)], contains="2 buffers")
    raises(ValueError, pl.apply_memory, [np.empty(11, np.float32), np.empty(4, np.float32)], contains="48 bytes")
    raises(ValueError, pl.apply_memory, [bytes(48), bytearray(16)], contains="writable")
    raises(ValueError, pl.apply_memory, [np.empty((4, 6), np.float32)[:, ::2], np.empty(4, np.float32)],
           contains="contiguous")
    raises(TypeError, pl.apply_memory, 5)
    raises(TypeError, pl.apply_memory, [object(), bytearray(16)])
    out = [bytearray(48), memoryview(bytearray(16))]
    pl.apply_memory(out)  # any writable buffer
    assert np.frombuffer(out[0], np.float32)[1] == 4.0


@test
def hostile_manifest_source():
    ts, _, _ = small_set()
    ts.write(path("src.json"))
    pl = n.plan(n.compile("r.wbr", RULES), n.open(path("src.json")))
    e = raises(n.FormatError, run_plan, pl)
    assert "no tensor data" in str(e)
    e = raises(n.FormatError, pl.apply_file, path("never.safetensors"))
    assert not os.path.exists(path("never.safetensors"))


@test
def gil_released_during_apply():
    side = 3072  # 36 MiB of F32 each way: long enough to count on
    a = np.arange(side * side, dtype=np.float32).reshape(side, side)
    ts = n.TensorSet()
    ts.add("a", "F32", (side, side), a)
    pl = n.plan(n.compile("t.wbr", 'weightbridge 1\ntranspose "a"\n'), ts)
    out = np.empty((side, side), np.float32)
    done = threading.Event()
    ticks = [0, 0]

    def work():
        pl.apply_memory([out])
        done.set()
    t = threading.Thread(target=work)
    t0 = time.perf_counter()
    t.start()
    while not done.is_set():
        ticks[0] += 1  # Python code running in this thread while the other applies
        if ticks[0] % 1000 == 0:
            time.sleep(0)
    t.join()
    elapsed = time.perf_counter() - t0
    assert np.array_equal(out, a.T)
    # With the GIL held for the whole call, this loop would not run at all until it ended.
    assert ticks[0] > 1000, "only %d iterations in %.3f s" % (ticks[0], elapsed)


def main():
    only = set(sys.argv[2:])
    for fn in TESTS:
        if only and fn.__name__ not in only:
            continue
        name = "pyext/" + fn.__name__.replace("_", "-")
        try:
            r = fn()
        except Exception:  # noqa: BLE001 - every failure is reported as one line
            why = traceback.format_exc().strip().splitlines()
            print("FAIL: %s: %s" % (name, " | ".join(why[-3:])))
        else:
            if isinstance(r, str) and r.startswith("SKIP"):
                print("SKIP: %s: %s" % (name, r[5:]))
            else:
                print("PASS: " + name)
        sys.stdout.flush()


main()
