#!/usr/bin/python3
# plan_test.py WBR SCRATCH — tests of `wbr plan`, `wbr check` and `wbr apply` as a user sees them:
#  1. golden outputs: for every tests/plan/NAME.wbr (+ NAME.src.json, optional NAME.tgt.json),
#     `wbr plan` in text, md and json must equal NAME.plan, NAME.md, NAME.json, and its stderr
#     plus exit code NAME.err. Run from tests/plan so paths in the outputs are stable.
#     UPDATE=1 rewrites the golden files instead (review the diff).
#  2. the JSON is the truth: it parses, and its ops replayed with torch (replay.py) on random
#     data give exactly the bytes `wbr apply` writes, in the same order.
#  3. bad.txt, the table of bad inputs (its header documents the rows).
# One PASS/FAIL line per check.
import json
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "apply"))
import replay  # noqa: E402
import st  # noqa: E402

WBR, TMP = sys.argv[1], sys.argv[2]
UPDATE = os.environ.get("UPDATE") == "1"
rng = np.random.default_rng(7)
counts = {"pass": 0, "fail": 0}


def report(cid, why=None):
    if why is None:
        counts["pass"] += 1
        print("PASS: %s" % cid, flush=True)
    else:
        counts["fail"] += 1
        print("FAIL: %s: %s" % (cid, " ".join(str(why).split())[:800]), flush=True)


class Crash(Exception):
    pass


def run(args, cwd):
    p = subprocess.run([WBR] + args, cwd=cwd, capture_output=True, timeout=120)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    if p.returncode < 0 or p.returncode >= 128:
        raise Crash("crashed (exit %d) running wbr %s: %s" % (p.returncode, " ".join(args), err[:300]))
    if "Sanitizer" in err or "runtime error:" in err:
        raise Crash("sanitizer report running wbr %s: %s" % (" ".join(args), err[:600]))
    return p.returncode, out, err


def random_tensor(name, shape, dtype):
    """Seeded random data of any dtype, as an st.Tensor."""
    shape = tuple(shape)
    if dtype in ("F32", "F64", "F16"):
        a = rng.standard_normal(shape).astype({"F32": np.float32, "F64": np.float64, "F16": np.float16}[dtype])
        return st.Tensor(name, dtype, shape, a.tobytes())
    if dtype == "BF16":
        t = torch.from_numpy(rng.standard_normal(shape).astype(np.float32)).to(torch.bfloat16)
        return st.Tensor(name, dtype, shape, t.view(torch.int16).numpy().tobytes())
    n = int(np.prod(shape)) * st.DTYPE_SIZE[dtype]
    return st.Tensor(name, dtype, shape, rng.integers(0, 256, size=n, dtype=np.uint8).tobytes())


def diff_text(want, got):
    import difflib
    d = difflib.unified_diff(want.splitlines(), got.splitlines(), "expected", "got", lineterm="", n=0)
    return " | ".join(list(d)[2:12])


# ---- 1 and 2: golden files and replay ----

def golden(name):
    src = name + ".src.json"
    tgt = name + ".tgt.json"
    base = ["plan", name + ".wbr", src] + (["-t", tgt] if os.path.exists(os.path.join(HERE, tgt)) else [])
    outs = {}
    for fmt, ext in (("text", "plan"), ("md", "md"), ("json", "json")):
        cid = "plan/golden-%s.%s" % (name, ext)
        try:
            rc, out, err = run(base + ["--format", fmt], HERE)
        except Crash as e:
            report(cid, e)
            continue
        outs[fmt] = (rc, out, err)
        files = [(ext, out)]
        if fmt == "text":
            files.append(("err", err + "exit: %d\n" % rc))
        for e, text in files:
            path = os.path.join(HERE, "%s.%s" % (name, e))
            gid = "plan/golden-%s.%s" % (name, e)
            if UPDATE:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
                report(gid + " (updated)")
            elif not os.path.exists(path):
                report(gid, "no golden file %s: run UPDATE=1 sh tests/plan/run.sh" % path)
            else:
                want = open(path, encoding="utf-8").read()
                report(gid, None if want == text else "differs from %s.%s: %s" % (name, e, diff_text(want, text)))
    if len(outs) != 3:
        return
    # Every format reports the same problems and exits the same way.
    t = outs["text"]
    same = all(o[0] == t[0] and o[2] == t[2] for o in outs.values())
    report("plan/formats-agree-%s" % name, None if same else "exit codes or diagnostics differ between formats")
    json_checks(name, base, outs["json"][1], outs["text"][1])
    names_intact(name, outs)


def names_intact(name, outs):
    """The tables show every name as it is (md may only escape '|'), and never pass control
    characters from a (possibly untrusted) checkpoint's names through to a terminal."""
    try:
        names = [t["name"] for t in json.loads(outs["json"][1])["tensors"]]
    except ValueError:
        return
    for fmt in ("text", "md"):
        out = outs[fmt][1]
        ctl = sorted({c for c in out if ord(c) < 32 and c != "\n"})
        report("plan/no-control-chars-%s-%s" % (name, fmt),
               "raw control characters %s in the output" % [hex(ord(c)) for c in ctl] if ctl else None)
        # Names with control characters are left out here: they should be shown escaped.
        plain = [n for n in names if all(ord(c) >= 32 for c in n)]
        shown = [n for n in plain if (n.replace("|", "\\|") if fmt == "md" else n) not in out]
        report("plan/names-intact-%s-%s" % (name, fmt), "names not shown as they are: %s" % shown if shown else None)


def json_checks(name, base, jtext, text):
    cid = "plan/json-%s" % name
    try:
        plan = json.loads(jtext)
    except ValueError as e:
        return report(cid, "the JSON does not parse: %s" % e)
    keys = {"plan_version", "rules", "rules_hash", "problems", "tensors", "dropped"}
    if set(plan) != keys:
        return report(cid, "top-level keys %s, want %s" % (sorted(plan), sorted(keys)))
    for t in plan["tensors"]:
        k = set(t)
        if not ({"name", "shape", "dtype", "from", "rules"} <= k and len(k & {"ops", "expr"}) == 1):
            return report(cid, "tensor entry with keys %s" % sorted(k))
    # The JSON's count agrees with the text table's summary line.
    summary = text.strip().splitlines()[-1]
    want = "%d tensors, %d dropped, %d problem%s" % (len(plan["tensors"]), len(plan["dropped"]), plan["problems"],
                                                    "" if plan["problems"] == 1 else "s")
    if summary != want:
        return report(cid, "text summary %r, JSON says %r" % (summary, want))
    report(cid)
    if plan["problems"]:
        return
    replay_check(name, base, plan)


def replay_check(name, base, plan):
    """Random data for the source manifest; `wbr apply`; every tensor replayed from the JSON."""
    cid = "plan/replay-%s" % name
    try:
        d = os.path.join(TMP, "replay-" + name)
        os.makedirs(d, exist_ok=True)
        man = json.load(open(os.path.join(HERE, name + ".src.json"), encoding="utf-8"))["tensors"]
        src = [random_tensor(n, v["shape"], v["dtype"]) for n, v in man.items()]
        st.write(os.path.join(d, "src.safetensors"), src)
        args = ["apply", os.path.join(HERE, name + ".wbr"), "src.safetensors", "-o", "out.safetensors"]
        if "-t" in base:
            args += ["-t", os.path.join(HERE, name + ".tgt.json")]
        rc, _, err = run(args, d)
        if rc:
            return report(cid, "wbr apply exited %d: %s" % (rc, err))
        got, _, _ = st.read(os.path.join(d, "out.safetensors"))
        if [t.name for t in got] != [t["name"] for t in plan["tensors"]]:
            return report(cid, "apply wrote %s, the plan lists %s" % ([t.name for t in got],
                                                                     [t["name"] for t in plan["tensors"]]))
        sources = {t.name: replay.from_bytes(t.data, t.dtype, t.shape) for t in src}
        for entry, out in zip(plan["tensors"], got):
            want = replay.tensor(entry, sources)
            if list(want.shape) != entry["shape"] or list(out.shape) != entry["shape"]:
                return report(cid, "'%s': plan shape %s, replay %s, apply %s" % (entry["name"], entry["shape"],
                                                                             list(want.shape), list(out.shape)))
            if out.dtype != entry["dtype"] or replay.TORCH[out.dtype] != want.dtype:
                return report(cid, "'%s': plan dtype %s, replay %s, apply %s" % (entry["name"], entry["dtype"],
                                                                             want.dtype, out.dtype))
            if replay.to_bytes(want) != out.data:
                return report(cid, "'%s': the bytes apply wrote differ from the plan's ops replayed" % entry["name"])
        report(cid)
    except Crash as e:
        report(cid, e)
    except (ValueError, KeyError, RuntimeError, IndexError) as e:
        report(cid, "cannot replay the plan: %r" % e)


def data_vs_manifest():
    """plan reads names/shapes only: a weight file and its manifest give the same plan."""
    cid = "plan/data-file-same-as-manifest"
    try:
        d = os.path.join(TMP, "dvm")
        os.makedirs(d, exist_ok=True)
        man = json.load(open(os.path.join(HERE, "basic.src.json")))["tensors"]
        st.write(os.path.join(d, "basic.safetensors"), [random_tensor(n, v["shape"], v["dtype"]) for n, v in man.items()])
        a = run(["plan", os.path.join(HERE, "basic.wbr"), os.path.join(d, "basic.safetensors"), "--format", "json"], d)
        b = run(["plan", os.path.join(HERE, "basic.wbr"), os.path.join(HERE, "basic.src.json"), "--format", "json"], d)
        report(cid, None if a == b else "the plans differ: %s" % diff_text(b[1], a[1]))
    except Crash as e:
        report(cid, e)


def concat_provenance():
    """A joined tensor's rule list names the statements that touched ANY of its inputs, in line
    order: a reviewer must see the transpose applied to the second input."""
    d = os.path.join(TMP, "prov")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "prov.wbr"), "w") as f:
        f.write('weightbridge 1\nrename "a" -> "a1"\ntranspose "b"\nreshape "c" [6]\nconcat "a1", "b" axis 0 -> "ab"\n')
    with open(os.path.join(d, "prov.json"), "w") as f:
        json.dump({"tensors": {"a": {"shape": [2, 3], "dtype": "F32"}, "b": {"shape": [3, 2], "dtype": "F32"},
                               "c": {"shape": [2, 3], "dtype": "F32"}}}, f)
    for fmt in ("json", "text"):
        cid = "plan/concat-provenance-%s" % fmt
        try:
            rc, out, err = run(["plan", "prov.wbr", "prov.json", "--format", fmt], d)
        except Crash as e:
            report(cid, e)
            continue
        if fmt == "json":
            ab = [t for t in json.loads(out)["tensors"] if t["name"] == "ab"]
            lines = [r["line"] for r in ab[0]["rules"]] if ab else None
            report(cid, None if lines == [2, 3, 5] else "rules of 'ab' are lines %s, want [2, 3, 5]" % lines)
        else:
            row = [ln for ln in out.splitlines() if ln.startswith("ab ")]
            report(cid, None if row and row[0].endswith("prov.wbr:2,3,5")
                   else "rule column of 'ab': %r, want prov.wbr:2,3,5" % (row[0] if row else None))


def write_fails():
    """A write that fails half-way (file size limit) leaves neither the output nor a temporary."""
    import resource
    import signal
    cid = "plan/apply-write-fails-nothing-left"
    d = os.path.join(TMP, "wfail")
    os.makedirs(d, exist_ok=True)
    st.write(os.path.join(d, "src.safetensors"), [st.from_array("w", rng.standard_normal((64, 64)).astype(np.float32))])
    with open(os.path.join(d, "rules.wbr"), "w") as f:
        f.write('weightbridge 1\ntranspose "w"\n')
    before = snapshot(d)

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    p = subprocess.run([WBR, "apply", "rules.wbr", "src.safetensors", "-o", "out.safetensors"], cwd=d,
                       capture_output=True, timeout=60, preexec_fn=limit)
    err = p.stderr.decode("utf-8", "replace")
    after = snapshot(d)
    if p.returncode != 1 or "out.safetensors: error: cannot write" not in err:
        report(cid, "exit %d (wanted 1 and 'out.safetensors: error: cannot write'): %s" % (p.returncode, err[:300]))
    elif after != before:
        report(cid, "left behind: %s" % sorted(set(after) - set(before)))
    else:
        report(cid)


def deep_chain():
    """A long chain of concats (one statement per step) must not exhaust the stack anywhere."""
    n = 400
    d = os.path.join(TMP, "deep")
    os.makedirs(d, exist_ok=True)
    src = [st.from_array("t%d" % i, rng.standard_normal(2).astype(np.float32)) for i in range(n)]
    st.write(os.path.join(d, "src.safetensors"), src)
    lines = ["weightbridge 1", 'concat "t0", "t1" axis 0 -> "c1"']
    lines += ['concat "c%d", "t%d" axis 0 -> "c%d"' % (i - 1, i, i) for i in range(2, n)]
    with open(os.path.join(d, "chain.wbr"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for fmt in ("text", "md", "json"):
        cid = "plan/deep-concat-chain-%s" % fmt
        try:
            rc, out, err = run(["plan", "chain.wbr", "src.safetensors", "--format", fmt], d)
            report(cid, None if rc == 0 else "exit %d: %s" % (rc, err))
        except Crash as e:
            report(cid, e)
    cid = "plan/deep-concat-chain-apply"
    try:
        rc, out, err = run(["apply", "chain.wbr", "src.safetensors", "-o", "out.safetensors"], d)
        if rc:
            report(cid, "exit %d: %s" % (rc, err))
        else:
            got, _, _ = st.read(os.path.join(d, "out.safetensors"))
            want = b"".join(t.data for t in src)
            report(cid, None if [t.name for t in got] == ["c%d" % (n - 1)] and got[0].data == want
                   else "wrong output %s" % got)
    except Crash as e:
        report(cid, e)


def extreme_sizes():
    """Property (issue 9, item 6): for generated statements with extreme sizes, indices and
    ranges on a small real file, `wbr plan` saying no problems implies `wbr apply` writes every
    planned tensor; no run may crash, trip a sanitizer or report an internal error."""
    import random
    r = random.Random(9)
    ext = [0, 1, 2, 3, 4, 5, 6, 11, 12, 13, -1, -2, -5, -12, -13, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 62,
           2 ** 63 - 2, 2 ** 63 - 1, -(2 ** 63 - 1), -(2 ** 62)]
    names = [n for n, _, _ in SRC]
    d = os.path.join(TMP, "extreme")
    os.makedirs(d, exist_ok=True)
    st.write(os.path.join(d, "src.safetensors"), [random_tensor(n, sh, dt) for n, sh, dt in SRC])

    def stmt():
        n, ax, e = '"%s"' % r.choice(names), r.choice([-3, -2, -1, 0, 1, 2]), lambda: r.choice(ext)
        k = r.choice([2, 3])
        outs = ", ".join('"p%d"' % i for i in range(k))
        return r.choice([
            lambda: "split %s axis %d sizes [%s] -> %s" % (n, ax, ", ".join(str(e()) for _ in range(k)), outs),
            lambda: "split %s axis %d sizes [%s, -1] -> %s" % (n, ax, ", ".join(str(e()) for _ in range(k - 1)), outs),
            lambda: "split %s axis %d -> %s" % (n, ax, outs),
            lambda: 'select %s axis %d index %d -> "s"' % (n, ax, e()),
            lambda: 'slice %s axis %d range %d:%d -> "s"' % (n, ax, e(), e()),
            lambda: "reshape %s [%s]" % (n, ", ".join(str(e()) for _ in range(r.choice([1, 2, 3])))),
            lambda: 'unstack %s axis %d -> "u.{#}"' % (n, ax),
            lambda: 'concat %s, "%s" axis %d -> "c"' % (n, r.choice(names), ax),
            lambda: 'stack %s, "%s" axis %d -> "c"' % (n, r.choice(names), ax),
        ])()

    bad = []
    cases = 150
    for i in range(cases):
        rules = "weightbridge 1\n" + "".join(stmt() + "\n" for _ in range(r.choice([1, 2])))
        with open(os.path.join(d, "rules.wbr"), "w") as f:
            f.write(rules)
        out = os.path.join(d, "out.safetensors")
        if os.path.exists(out):
            os.remove(out)
        try:
            rc, jtext, err = run(["plan", "rules.wbr", "src.safetensors", "--format", "json"], d)
            if "internal error" in err or "this is a bug" in err:
                bad.append("plan: %r: %s" % (rules, err[:200]))
                continue
            if rc != 0:
                continue
            arc, _, aerr = run(["apply", "rules.wbr", "src.safetensors", "-o", "out.safetensors"], d)
            planned = [t["name"] for t in json.loads(jtext)["tensors"]]
            if arc != 0:
                bad.append("plan ok, apply exit %d: %r: %s" % (arc, rules, aerr[:200]))
            elif [t.name for t in st.read(out)[0]] != planned:
                bad.append("apply wrote other tensors than planned: %r" % rules)
        except Crash as e:
            bad.append("%r: %s" % (rules, e))
    report("plan/extreme-sizes-plan-ok-implies-apply-ok", "; ".join(bad[:3]) if bad else None)


# ---- 3: the bad-input table ----

SRC = [("enc.0.w", (4, 6), "F32"), ("enc.1.w", (4, 6), "F32"), ("enc.0.b", (6,), "F32"), ("qkv", (12, 4), "F32"),
       ("vec", (5,), "F32"), ("ids", (3,), "I64"), ("bn.num_batches_tracked", (), "I64")]


# Extreme but legal manifest shapes (every dim <= 2^53, every size in bytes < 2^64).
HUGE = {"big": {"shape": [2 ** 30, 2 ** 31], "dtype": "F32"},  # 2^63 bytes: more than int64 holds
        "h1": {"shape": [2 ** 31, 2 ** 31], "dtype": "U8"}, "h2": {"shape": [2 ** 31, 2 ** 31], "dtype": "U8"},
        "z": {"shape": [10 ** 9, 0], "dtype": "F32"}, "w63": {"shape": [2 ** 31, 2 ** 32], "dtype": "U8"}}
HUGE.update({"u%02d" % i: {"shape": [60000, 0], "dtype": "F32"} for i in range(17)})


def target_from(spec):
    """The exact target (source minus bn.*) edited as the table's target column says."""
    tg = [[n, list(s), dt] for n, s, dt in SRC if not n.startswith("bn.")]
    if spec == "exact":
        return tg
    for e in (x.strip() for x in spec.split(",")):
        if e.startswith("-"):
            tg = [t for t in tg if t[0] != e[1:]]
        elif ">" in e:
            old, new = e.split(">")
            for t in tg:
                if t[0] == old:
                    t[0] = new
        else:
            n, shape, dt = e.split()
            shape = [] if shape == "()" else [int(x) for x in shape.split("x")]
            for t in tg:
                if t[0] == n:
                    t[1], t[2] = shape, dt
                    break
            else:
                tg.append([n, shape, dt])
    return tg


def snapshot(d):
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, d)] = open(p, "rb").read()
    return out


def bad_table():
    path = os.path.join(HERE, "bad.txt")
    rows = []
    for ln, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        f = [x.strip() for x in line.split(" | ")]
        if len(f) != 6:
            report("plan/bad-table", "bad.txt:%d: %d fields, want 6" % (ln, len(f)))
            continue
        rows.append(f)
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        report("plan/bad-table", "duplicate ids in bad.txt")
    data = [random_tensor(n, s, dt) for n, s, dt in SRC]
    for cid, code, cmd, rules, target, expected in rows:
        cid = "plan/bad-" + cid
        d = os.path.join(TMP, cid.replace("/", "_"))
        os.makedirs(d)
        st.write(os.path.join(d, "src.safetensors"), data, {"format": "pt"})
        with open(os.path.join(d, "src.json"), "w") as f:
            json.dump({"tensors": {n: {"shape": list(s), "dtype": dt} for n, s, dt in SRC}}, f)
        with open(os.path.join(d, "patho.json"), "w") as f:
            json.dump({"tensors": {"a" * 60 + "b": {"shape": [1], "dtype": "F32"}}}, f)
        with open(os.path.join(d, "huge.json"), "w") as f:
            json.dump({"tensors": HUGE}, f)
        with open(os.path.join(d, "ra.json"), "w") as f:
            json.dump({"tensors": {"a" * 18 + "c.%d" % i: {"shape": [1], "dtype": "F32"} for i in range(400)}}, f)
        with open(os.path.join(d, "rules.wbr"), "w") as f:
            f.write("weightbridge 1\n")
            if rules != "-":
                f.write("\n".join(s.strip() for s in rules.split(" ; ")) + "\n")
        if target != "-":
            with open(os.path.join(d, "target.json"), "w") as f:
                json.dump({"tensors": {n: {"shape": s, "dtype": dt} for n, s, dt in target_from(target)}}, f)
        os.makedirs(os.path.join(d, "dir.safetensors"))
        before = snapshot(d)
        try:
            rc, out, err = run(cmd.split(), d)
        except Crash as e:
            report(cid, e)
            continue
        after = snapshot(d)
        if rc != int(code):
            report(cid, "exit %d, wanted %s — %s" % (rc, code, err[:400]))
        elif expected == "<empty>" and err:
            report(cid, "stderr not empty: %s" % err[:400])
        elif expected != "<empty>" and not all(s in err for s in expected.split(" && ")):
            missing = [s for s in expected.split(" && ") if s not in err]
            report(cid, "stderr lacks %r: %s" % (missing[0], err[:500]))
        elif set(after) != set(before):
            report(cid, "files appeared or vanished: %s" % sorted(set(after) ^ set(before)))
        elif any(after[k] != before[k] for k in before):
            report(cid, "files changed: %s" % [k for k in before if after[k] != before[k]])
        else:
            report(cid)
    if len(rows) < 20:
        report("plan/bad-table", "only %d rows" % len(rows))


def main():
    names = sorted(f[:-4] for f in os.listdir(HERE) if f.endswith(".wbr"))
    for n in names:
        golden(n)
    for fn in (data_vs_manifest, concat_provenance, write_fails, deep_chain, extreme_sizes, bad_table):
        try:
            fn()
        except Exception as e:  # a bug in this script must show as a failure
            report("plan/" + fn.__name__, "test script error: %r" % e)
    print("# plan: %d passed, %d failed" % (counts["pass"], counts["fail"]))


if __name__ == "__main__":
    main()
