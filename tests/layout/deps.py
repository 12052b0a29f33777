#!/usr/bin/env python3
"""deps.py BUILD — the library's dependency rules, checked on the object files themselves.

Reads every object under BUILD/obj/{base,formats,bytecode,vm,compiler,apply,matcher,cli} (and
the generated grammar, part of compiler/) with `nm`, links each undefined symbol to the file that
defines it, and checks ARCHITECTURE.md's rules:
  layers:   a file uses files of its own folder or of a lower layer only
            (base -> {formats, bytecode} -> {vm, compiler} -> {apply, matcher} -> cli);
  no cycle: in the folders of NO_CYCLE no two files call each other, directly or round a longer
            loop. Only calls count: a registry naming its formats' vtables (data) is no cycle.
            compiler/ includes the generated lexer and parser: their callbacks (parse.c,
            build.c) sit below them and the driver (driver.c) above, so there is no exception.
            vm/ is a driver and its opcode bodies (Lua's lvm.c keeps both in one file), matcher/
            and cli/ are a pipeline of stages and a dispatcher with its commands: not checked.
Prints one PASS/FAIL line per rule, each FAIL with the files and the symbols that tie them."""
import os, subprocess, sys

LAYER = {"base": 0, "formats": 1, "bytecode": 1, "vm": 2, "compiler": 2, "gen": 2,
         "apply": 3, "matcher": 3, "cli": 4}
# --skip-stale: ignore objects whose source is no longer in the tree (a build dir older than a move).
STALE_OK = "--skip-stale" in sys.argv
if STALE_OK: sys.argv.remove("--skip-stale")
NO_CYCLE = {"base", "formats", "bytecode", "apply", "compiler"}

def objects(build):
    root = os.path.join(build, "obj")
    for folder in LAYER:
        d = os.path.join(root, folder)
        for dirpath, _, names in os.walk(d):
            for n in sorted(names):
                rel = os.path.relpath(os.path.join(dirpath, n), root)[:-2] + ".c"
                if n.endswith(".o") and (not STALE_OK or os.path.exists(rel)):
                    yield folder, rel
    gen = os.path.join(build, "gen")
    for n in sorted(os.listdir(gen)) if os.path.isdir(gen) else []:
        if n.endswith(".o"):
            yield "compiler", "gen/" + n[:-2] + ".c"

def symbols(build, rel):
    path = os.path.join(build, "obj", rel[:-2] + ".o") if not rel.startswith("gen/") \
        else os.path.join(build, rel[:-2] + ".o")
    out = subprocess.run(["nm", "-P", path], capture_output=True, text=True, check=True).stdout
    defined, used = {}, set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2: continue
        if f[1] == "U": used.add(f[0])
        elif f[1] in "TDBRVW": defined[f[0]] = f[1]
    return defined, used

def main():
    build = sys.argv[1]
    folder_of, defs, uses = {}, {}, {}
    for folder, rel in objects(build):
        folder_of[rel] = folder
        defs[rel], uses[rel] = symbols(build, rel)
    owner, kind = {}, {}
    for rel, ds in defs.items():
        for s, k in ds.items():
            owner.setdefault(s, rel)
            kind.setdefault(s, k)
    edges, calls = {}, {}
    for rel, us in uses.items():
        for s in us:
            o = owner.get(s)
            if not o or o == rel: continue
            edges.setdefault(rel, {}).setdefault(o, set()).add(s)
            if kind[s] == "T" and folder_of[rel] == folder_of[o] and folder_of[rel] in NO_CYCLE:
                calls.setdefault(rel, {}).setdefault(o, set()).add(s)
    bad = 0
    # 1. Layering: every use points to the same folder or a lower layer.
    up = []
    for a, outs in sorted(edges.items()):
        for b, syms in sorted(outs.items()):
            fa, fb = folder_of[a], folder_of[b]
            if fa != fb and not LAYER[fb] < LAYER[fa]:
                up.append(f"{a} -> {b} ({', '.join(sorted(syms)[:3])})")
    if up: print("FAIL: layout/layers: uses that run sideways or upward: " + "; ".join(up)); bad += 1
    else: print("PASS: layout/layers")
    # 2. No cycles between files (Tarjan's strongly connected components).
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in calls.get(v, {}):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: sccs.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in sorted(folder_of):
        if v not in index: visit(v)
    edges = calls
    if sccs:
        desc = []
        for comp in sccs:
            ties = [f"{a} -> {b} ({', '.join(sorted(s)[:2])})" for a in comp
                    for b, s in sorted(edges.get(a, {}).items()) if b in comp]
            desc.append("{" + ", ".join(comp) + "}: " + "; ".join(ties))
        print("FAIL: layout/no-file-cycles: " + " | ".join(desc)); bad += 1
    else: print("PASS: layout/no-file-cycles")
    return 1 if bad else 0

sys.exit(main())
