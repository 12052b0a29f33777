#!/usr/bin/python3
"""run.py — runs `wbr match` on every corpus case (cases.py) with the source as .safetensors
(byte order) and as .pt (definition order), applies exit-0 drafts to real data and compares every
target's values with the truth; for exit-3 drafts checks every pair the draft decided (its plan,
replayed on the same data). Classes: right, refused, SILENT WRONG, wrong-but-flagged, crash.

usage: run.py [--only REGEX] [--update-known] [--jobs N] [--work DIR] [--keep]
env:   WBR (the binary), BUILD (where corpus-report.txt goes), WBR_SANITIZED (every 5th case)
Prints `PASS: corpus/<case>/<fmt>` for a correct behaviour, `KNOWN: ...` for a failure listed in
known_failures.txt, `FAIL: ...` otherwise (a new failure, or a listed one that now passes)."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402  (imported once: it is slow to import)

import cases  # noqa: E402
from check_pair import NP, read_safetensors, replay, write_safetensors  # noqa: E402

KNOWN = os.path.join(HERE, "known_failures.txt")
TAG = {np.dtype(v): k for k, v in NP.items()}
CLASSES = ["right", "refused", "silent-wrong", "wrong-flagged", "crash"]
LOOP_CLASSES = ["converged", "still-refused", "wrong", "hint-rejected", "not-hintable", "crash"]


def write_inputs(c, d):
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, "src.safetensors"), OrderedDict(sorted(c.src.items())))
    torch.save(OrderedDict((n, torch.from_numpy(np.array(v))) for n, v in c.src.items()), os.path.join(d, "src.pt"))
    man = {"tensors": OrderedDict((n, {"shape": list(v.shape), "dtype": TAG[v.dtype]}) for n, v in c.tgt.items())}
    with open(os.path.join(d, "target.json"), "w") as f:
        json.dump(man, f)
    with open(os.path.join(d, "truth.json"), "w") as f:
        json.dump(c.truth(), f, indent=1)


def run(cmd):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return "timeout", "", ""


def tail(text, n=200):
    return " ".join(text.strip().split())[-n:]


def evaluate(node, src):
    """A plan row's `expr` tree: {"source": NAME} leaves, {"op": ..., "inputs": [...]} nodes."""
    if "source" in node:
        return src[node["source"]]
    op = {k: v for k, v in node.items() if k != "inputs"}
    return replay([evaluate(x, src) for x in node["inputs"]], [op])


def row_value(row, src):
    if "expr" in row:
        return evaluate(row["expr"], src)
    return replay([src[s] for s in row["from"]], row.get("ops", []))


def same(got, want):
    return got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()


def check_exit0(c, wbr, draft, srcp, tgtp, out, must):
    rc, _, err = run([wbr, "apply", draft, srcp, "-t", tgtp, "-o", out])
    if rc != 0:
        return ("crash" if not isinstance(rc, int) or rc < 0 or rc >= 128 else "silent-wrong"), f"apply exit {rc}: {tail(err)}"
    got = read_safetensors(out)
    bad = [t for t, want in c.tgt.items() if t not in got or not same(got[t], want)]
    extra = [t for t in got if t not in c.tgt]
    if must == "refuse":
        return "silent-wrong", f"exit 0 but must refuse ({c.why})" + (f"; wrong values: {', '.join(bad[:3])}" if bad else "")
    if bad or extra:
        return "silent-wrong", f"exit 0, {len(bad)} wrong target(s): {', '.join(bad[:3])}" + (f"; extra {extra[:2]}" if extra else "")
    return "right", ""


def check_exit3(c, wbr, draft, srcp, tgtp):
    if not os.path.exists(draft):
        return "crash", "exit 3 without a draft"
    rc, out, err = run([wbr, "plan", draft, srcp, "-t", tgtp, "--format", "json"])
    try:
        rows = json.loads(out)["tensors"]
    except (ValueError, KeyError):
        return "crash", f"plan of the exit-3 draft gave no JSON (exit {rc}): {tail(err)}"
    bad = []
    for row in rows:
        t = row.get("name")
        if t not in c.tgt:
            continue
        try:
            got = np.asarray(row_value(row, c.src)).astype(NP[row["dtype"]])
        except Exception as e:  # an op this checker cannot replay counts against the draft
            bad.append(f"{t} (unreplayable: {type(e).__name__})")
            continue
        if not same(got, c.tgt[t]):
            bad.append(f"{t} <- {row.get('from')}")
    if bad:
        return "wrong-flagged", f"exit 3, {len(bad)} decided pair(s) wrong: {'; '.join(bad[:3])}"
    return "refused", ""


UNRESOLVED = re.compile(r'^# target "(.*?)" \[', re.M)


def check_loop(c, fmt, wbr, d, draft, into_draft=True):
    """The documented loop: a hint with the true source for every UNRESOLVED target of an exit-3
    draft, added to the draft (issue 10: "adding the suggested hints ... to the draft"), or else
    written alone in a separate file, then `wbr match --update`, must give exit 0 and right
    values. Only where every unresolved target is one source tensor, whole (a hint pairs one
    source with one target)."""
    targets = UNRESOLVED.findall(open(draft).read())
    if c.convention:
        return "not-hintable", "a layout convention (rotary, per-head rows) that a hint does not carry"
    if not targets:
        return "not-hintable", "no UNRESOLVED target listed"
    users = Counter(s for d in c.deps.values() for s in d)
    if any(len(c.deps.get(t, [])) != 1 or users[c.deps[t][0]] != 1 for t in targets):
        return "not-hintable", "an UNRESOLVED target is not one whole source tensor"
    if any(c.deps[t][0] == t for t in targets):
        return "not-hintable", "an UNRESOLVED target has its source's name (a hint cannot say more)"
    tag = "" if into_draft else "file-"
    hints = os.path.join(d, f"hints-{tag}{fmt}.wbr")
    with open(hints, "w") as f:
        f.write(open(draft).read() if into_draft else "weightbridge 1\n")
        f.write("".join(f'hint "{c.deps[t][0]}" = "{t}"\n' for t in targets))
    srcp, tgtp, nxt = os.path.join(d, "src." + fmt), os.path.join(d, "target.json"), os.path.join(d, f"next-{tag}{fmt}.wbr")
    rc, _, err = run([wbr, "match", srcp, tgtp, "--update", hints, "-o", nxt])
    if rc == 3:
        return "still-refused", tail(err.strip().splitlines()[-1] if err.strip() else "")
    if rc == 1:
        return "hint-rejected", tail(err)
    if rc != 0:
        return "crash", f"match --update exit {rc}: {tail(err)}"
    cls, why = check_exit0(c, wbr, nxt, srcp, tgtp, os.path.join(d, f"next-{tag}{fmt}.safetensors"), must="map")
    return ("converged", "") if cls == "right" else ("wrong", why)


def run_case(c, fmt, wbr, work, loop=False):
    d = os.path.join(work, c.id)
    srcp, tgtp = os.path.join(d, "src." + fmt), os.path.join(d, "target.json")
    draft = os.path.join(d, f"draft-{fmt}.wbr")
    rc, _, err = run([wbr, "match", srcp, tgtp, "-o", draft])
    if rc == 0:
        return check_exit0(c, wbr, draft, srcp, tgtp, os.path.join(d, f"out-{fmt}.safetensors"), c.must_for(fmt))
    if rc == 3:
        cls, why = check_exit3(c, wbr, draft, srcp, tgtp)
        lp = check_loop(c, fmt, wbr, d, draft) if loop and cls != "crash" else None
        lf = check_loop(c, fmt, wbr, d, draft, into_draft=False) if loop and cls != "crash" else None
        return cls, why or "exit 3: " + tail(err.strip().splitlines()[-1] if err.strip() else ""), lp, lf
    return "crash", f"match exit {rc}: {tail(err)}"


def passes(c, fmt, cls):
    must = c.must_for(fmt)
    return cls in ("right", "refused") if must == "either" else cls == ("right" if must == "map" else "refused")


def load_known():
    known = OrderedDict()
    if os.path.exists(KNOWN):
        for line in open(KNOWN):
            line = line.split("#", 1)[0].strip()
            if line:
                cid, cls = line.split()
                known[cid] = cls
    return known


def save_known(known):
    with open(KNOWN, "w") as f:
        f.write("# Corpus runs that fail today: `corpus/<case>/<fmt> <class>`, one a line (tests/corpus/README.md).\n"
                "# Rewritten by `python3 tests/corpus/run.py --update-known`; the list should only shrink.\n")
        for cid in sorted(known):
            f.write(f"{cid} {known[cid]}\n")


def run_id(c, fmt):
    return f"corpus/{c.id}/{'st' if fmt == 'safetensors' else 'pt'}"


def run_all(runs, wbr, work, args):
    """Runs every (case, format), two at a time; returns their results in the same order. Each
    case's files are removed after its runs (unless --keep): fixture-sized cases are tens of MB."""
    by_case = OrderedDict()
    for c, fmt in runs:
        by_case.setdefault(id(c), (c, []))[1].append(fmt)

    def one(item):
        c, fmts = item
        d = os.path.join(work, c.id)
        res = {}
        try:
            write_inputs(c, d)
            for fmt in fmts:
                res[fmt] = run_case(c, fmt, wbr, work, loop=not args.no_loop)
        except Exception as e:  # the checker itself failed: say so, do not hide it
            for fmt in fmts:
                res.setdefault(fmt, ("crash", f"harness: {type(e).__name__}: {e}"))
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
        return res
    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        done = {id(c): r for (c, _), r in zip(by_case.values(), ex.map(one, by_case.values()))}
    return [done[id(c)][fmt] for c, fmt in runs]


def judge(c, fmt, cls, why, known):
    """The output line of one run against known_failures.txt."""
    i = run_id(c, fmt)
    ok = passes(c, fmt, cls)
    if ok and i not in known:
        return f"PASS: {i}"
    if ok:
        return f"FAIL: {i}: listed in known_failures.txt as {known[i]} but now behaves correctly: remove it from known_failures.txt"
    if known.get(i) == cls:
        return f"KNOWN: {i}: {cls}: {why}"
    if i in known:
        return f"FAIL: {i}: {cls} (known_failures.txt says {known[i]}): {why}"
    return f"FAIL: {i}: {cls} (must {c.must_for(fmt)}): {why}"


class Tally:
    """The counts of the summary: classes overall, per family and per perturbation; loop results."""

    def __init__(self):
        self.all, self.family, self.perturb, self.loops, self.loops_file = Counter(), {}, {}, Counter(), Counter()

    def add(self, c, fmt, cls):
        keys = [cls] + (["refused-mappable"] if cls == "refused" and c.must_for(fmt) == "map" else [])
        for cnt in (self.all, self.family.setdefault(c.family, Counter()), self.perturb.setdefault(c.perturb, Counter())):
            cnt.update(keys)

    def summary(self, nruns, ncases, secs):
        a = self.all
        out = [f"corpus: {ncases} cases, {nruns} runs: right {a['right']}, refused {a['refused']} "
               f"({a['refused-mappable']} of them mappable), SILENT WRONG {a['silent-wrong']}, "
               f"wrong-but-flagged {a['wrong-flagged']}, crashes {a['crash']} ({secs:.0f} s)"]
        if self.loops:
            out.append(f"corpus loop: {sum(self.loops.values())} exit-3 runs, hints for the UNRESOLVED targets + --update: "
                       + ", ".join(f"{k} {self.loops[k]}" for k in LOOP_CLASSES))
        if self.loops_file:
            out.append("corpus loop, the hints alone in a separate file: "
                       + ", ".join(f"{k} {self.loops_file[k]}" for k in LOOP_CLASSES))
        return out

    def tables(self):
        return (["per family:"] + [f"  {k:10s} " + fmt_counts(v) for k, v in sorted(self.family.items())] +
                ["per perturbation:"] + [f"  {k:18s} " + fmt_counts(v) for k, v in self.perturb.items()])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="a regular expression searched in corpus/<case>/<fmt>")
    ap.add_argument("--update-known", action="store_true")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--work")
    ap.add_argument("--no-loop", action="store_true", help="skip the hint-and-update check of exit-3 drafts")
    ap.add_argument("--keep", action="store_true", help="keep every case's files in the work directory")
    args = ap.parse_args()
    t0 = time.time()
    wbr = os.path.abspath(os.environ.get("WBR") or os.path.join(os.environ.get("BUILD", "build"), "wbr"))
    all_cases = cases.all_cases()
    if os.environ.get("WBR_SANITIZED"):
        all_cases = all_cases[::5]  # a deterministic fifth under ASan/UBSan
    runs = [(c, fmt) for c in all_cases for fmt in ("safetensors", "pt")]
    if args.only:
        runs = [r for r in runs if re.search(args.only, run_id(*r))]
    work = args.work or tempfile.mkdtemp(prefix="wbr-corpus-")
    results = run_all(runs, wbr, work, args)
    known = load_known()
    new_known = OrderedDict(known)
    lines, loop_lines, tally = [], [], Tally()
    for (c, fmt), result in zip(runs, results):
        cls, why = result[:2]
        i = run_id(c, fmt)
        if len(result) > 2 and result[2]:
            tally.loops[result[2][0]] += 1
            loop_lines.append(f"LOOP: {i}: {result[2][0]}" + (f": {result[2][1]}" if result[2][1] else ""))
        if len(result) > 3 and result[3]:
            tally.loops_file[result[3][0]] += 1
            loop_lines.append(f"LOOP-FILE: {i}: {result[3][0]}" + (f": {result[3][1]}" if result[3][1] else ""))
        tally.add(c, fmt, cls)
        new_known.pop(i, None)
        if not passes(c, fmt, cls):
            new_known[i] = cls
        lines.append(judge(c, fmt, cls, why, known))
    summary = tally.summary(len(runs), len({id(c) for c, _ in runs}), time.time() - t0)
    print("\n".join(lines + summary))
    report = os.path.join(os.environ.get("BUILD", "build"), "corpus-report.txt")
    try:
        with open(report, "w") as f:
            f.write("\n".join(lines + loop_lines + summary + tally.tables()) + "\n")
        print(f"corpus: report in {report}")
    except OSError as e:
        print(f"corpus: cannot write {report}: {e}")
    if args.update_known:
        save_known(new_known)
        print(f"corpus: {KNOWN} rewritten ({len(new_known)} entries)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    fails = sum(x.startswith("FAIL: ") for x in lines)
    sys.exit(1 if fails and not args.update_known else 0)


def fmt_counts(cnt):
    return ", ".join(f"{k} {cnt[k]}" + (f" ({cnt['refused-mappable']} mappable)" if k == "refused" else "") for k in CLASSES)


if __name__ == "__main__":
    main()
