#!/usr/bin/python3
"""check_case.py — runs `wbr match` on the hand-made cases of tests/match/cases/ as a user would
and checks what it claims: the exit code, that no pair the draft decides is wrong, that an
exit-3 draft does not drop a source an undecided target needs (but for one named like a target),
and that adding the correct hints for the undecided targets (`--update`; with the layout where the
truth is one permute) converges to exit 0 and the truth.

usage: check_case.py WBR CASEDIR WORKDIR — prints PASS/FAIL lines with ids match/case/NAME/...

CASEDIR holds a.json (source), b.json (target) and case.json:
  {"why": "what it pins", "exit": 0 or 3, "args": [extra wbr match arguments],
   "stderr": "text the summary must contain" (optional),
   "truth": {"TARGET": null | "SOURCE" | {"from": [SOURCES], "ops": [plan ops]}, ...},
   (or "expr": the plan's expression tree, for a target made of several joins: a stack of concats)
   "converge": true (default) | false,
   "candidates": true: every undecided target's UNRESOLVED comment lists its true source}
A truth of null means no source is right for that target: deciding it is wrong. "ops" (the
plan's JSON ops list) and "expr" are checked when given.
"""
import json
import os
import subprocess
import sys


def truth_of(v):
    if v is None or isinstance(v, dict):
        return v
    return {"from": [v] if isinstance(v, str) else list(v)}


def plan_rows(wbr, draft, src):
    """What the draft does to SRC: {name: row} and the dropped names (plan without a target)."""
    r = subprocess.run([wbr, "plan", draft, src, "--format", "json"], capture_output=True, text=True)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        return None, None, r.stderr.strip()[:300]
    j = json.loads(r.stdout)
    return {row["name"]: row for row in j["tensors"]}, set(j.get("dropped", [])), None


def hint_layout(t):
    """The layout a correct hint gives when the truth is one permute (a square weight's
    transpose cannot be told from shapes: the suggested hint carries it), else nothing."""
    ops = t.get("ops")
    if not ops or len(ops) != 1 or ops[0]["op"] != "permute":
        return ""
    axes = ops[0]["axes"]
    return " transpose" if axes == [1, 0] else " permute (%s)" % ", ".join(map(str, axes))


def wrong_pairs(rows, truth):
    """Targets the draft produces other than the truth says."""
    bad = []
    for name, t in truth.items():
        row = rows.get(name)
        if row is None:
            continue
        if t is None:
            bad.append("%s decided from %s; no source is right" % (name, row["from"]))
        elif row["from"] != t["from"]:
            bad.append("%s from %s, truth %s" % (name, row["from"], t["from"]))
        elif "ops" in t and row.get("ops") != t["ops"]:
            bad.append("%s ops %s, truth %s" % (name, row.get("ops"), t["ops"]))
        elif "expr" in t and row.get("expr") != t["expr"]:
            bad.append("%s expr %s, truth %s" % (name, row.get("expr"), t["expr"]))
    return bad


def listed_candidates(draft):
    """The UNRESOLVED comments of a draft: target -> the candidates it lists."""
    out, cur = {}, None
    for line in open(draft):
        if line.startswith('# target "'):
            cur = line.split('"')[1]
            out[cur] = []
        elif line.startswith('#   candidate "') and cur:
            out[cur].append(line.split('"')[1])
    return out


def main():
    wbr, case, work = sys.argv[1:4]
    name = os.path.basename(case.rstrip("/"))
    spec = json.load(open(os.path.join(case, "case.json")))
    truth = {k: truth_of(v) for k, v in spec["truth"].items()}
    a, b = os.path.join(case, "a.json"), os.path.join(case, "b.json")
    pid = "match/case/" + name
    draft = os.path.join(work, name + ".wbr")
    r = subprocess.run([wbr, "match", a, b, "-o", draft, "--explain"] + spec.get("args", []),
                       capture_output=True, text=True)
    want = spec["exit"]
    if r.returncode != want:
        print("FAIL: %s/exit: exit %d, wanted %d (%s) — %s" % (pid, r.returncode, want, spec["why"],
                                                              r.stderr.strip()[-400:].replace("\n", " | ")))
        if r.returncode not in (0, 3):
            return
    else:
        print("PASS: %s/exit" % pid)
    if "stderr" in spec:
        ok = spec["stderr"] in r.stderr or (os.path.exists(draft) and spec["stderr"] in open(draft).read())
        print(("PASS: %s/says" % pid) if ok else
              "FAIL: %s/says: neither stderr nor the draft says '%s'" % (pid, spec["stderr"]))
    rows, dropped, err = plan_rows(wbr, draft, a)
    if rows is None:
        print("FAIL: %s/plan: the draft does not plan: %s" % (pid, err))
        return
    bad = wrong_pairs(rows, truth)
    print(("PASS: %s/no-wrong-pair" % pid) if not bad else
          "FAIL: %s/no-wrong-pair: %s" % (pid, "; ".join(bad[:4])))
    if r.returncode != 3:
        return
    undecided = [t for t in truth if t not in rows]
    # a source named like an undecided target is dropped on purpose (kept, it would map onto
    # that target unasked), with a note in the draft
    needed = {s for t in undecided if truth[t] for s in truth[t]["from"] if s not in truth}
    lost = sorted(needed & dropped)
    print(("PASS: %s/keeps-needed-sources" % pid) if not lost else
          "FAIL: %s/keeps-needed-sources: the draft drops %s, which undecided targets need" % (pid, lost))
    if spec.get("candidates"):
        unlisted = [t for t, c in listed_candidates(draft).items()
                    if truth.get(t) and len(truth[t]["from"]) == 1 and truth[t]["from"][0] not in c]
        print(("PASS: %s/lists-true-source" % pid) if not unlisted else
              "FAIL: %s/lists-true-source: the true source is not a candidate of %s" % (pid, unlisted[:4]))
    if not spec.get("converge", True):
        return
    # the documented loop: the correct hints for every undecided target, then --update
    hints = [t for t in undecided if truth[t] and len(truth[t]["from"]) == 1]
    with open(draft) as f:
        text = f.read()
    mine = os.path.join(work, name + ".hinted.wbr")
    with open(mine, "w") as f:
        f.write(text)
        for t in hints:
            f.write('hint "%s" = "%s"%s\n' % (truth[t]["from"][0], t, hint_layout(truth[t])))
    out = os.path.join(work, name + ".final.wbr")
    r2 = subprocess.run([wbr, "match", a, b, "--update", mine, "-o", out], capture_output=True, text=True)
    if r2.returncode != 0:
        print("FAIL: %s/converges: with the %d correct hints, exit %d — %s" % (
            pid, len(hints), r2.returncode, r2.stderr.strip()[-300:].replace("\n", " | ")))
        return
    rows2, _, err = plan_rows(wbr, out, a)
    bad = wrong_pairs(rows2 or {}, truth) if rows2 is not None else [err]
    print(("PASS: %s/converges" % pid) if not bad else "FAIL: %s/converges: %s" % (pid, "; ".join(bad[:4])))


main()
