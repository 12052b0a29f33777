#!/usr/bin/env python3
"""funclen.py [--top N] [--max LINES DIR...] FILE-OR-DIR... — lengths of C functions.

A function is a definition that starts at column 0 and whose body ends at a "}" in column 0 (the
project's clang-format style). With --top N, prints the N longest as "lines file:line name".
With --max LINES, prints one PASS/FAIL line per folder given after it: no function there may be
longer than LINES lines (ARCHITECTURE.md: the VM is a driver plus small functions)."""
import os, re, sys

HEAD = re.compile(r'^[A-Za-z_][\w \*]*?\b(\w+)\s*\(')

def functions(path):
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    i = 0
    while i < len(lines):
        m = HEAD.match(lines[i])
        if m and not lines[i].rstrip().endswith(";") and not lines[i].startswith(("typedef", "static const", "const ")):
            j = i
            while j < len(lines) and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
                j += 1
            if j < len(lines) and "{" in lines[j] and not lines[j].rstrip().endswith(";"):
                if lines[j].rstrip().endswith("}"):  # a one-line body
                    yield m.group(1), i + 1, j - i + 1
                    i = j + 1
                    continue
                k = j
                while k < len(lines) and not lines[k].startswith("}"):
                    k += 1
                yield m.group(1), i + 1, k - i + 1
                i = k + 1
                continue
        i += 1

def c_files(args):
    for a in args:
        if os.path.isdir(a):
            for dp, _, ns in sorted(os.walk(a)):
                for n in sorted(ns):
                    if n.endswith(".c"): yield os.path.join(dp, n)
        elif a.endswith(".c"):
            yield a

def main(argv):
    if argv[:1] == ["--max"]:
        limit, dirs, bad = int(argv[1]), argv[2:], 0
        for d in dirs:
            long = [f"{f}:{ln} {name} ({n} lines)" for f in c_files([d])
                    for name, ln, n in functions(f) if n > limit]
            if long: print(f"FAIL: layout/short-functions-{d}: over {limit} lines: " + "; ".join(long)); bad += 1
            else: print(f"PASS: layout/short-functions-{d}")
        return 1 if bad else 0
    top = 10
    if argv[:1] == ["--top"]:
        top, argv = int(argv[1]), argv[2:]
    rows = sorted(((n, f"{f}:{ln}", name) for f in c_files(argv) for name, ln, n in functions(f)), reverse=True)
    for n, where, name in rows[:top]:
        print(f"{n:5d} {where} {name}")
    return 0

sys.exit(main(sys.argv[1:]))
