#!/usr/bin/env python3
"""pattern_scan.py [DIR] -- one pattern engine: no C file of DIR/compiler (default: the tree)
scans globs or templates itself. Such a scanner compares characters with '{', '}', '*' or '$';
outside comments and strings, no compiler file may hold one of those character literals, except
the two that handle the text of a string literal itself (parse.c reads its escapes \\* \\{ \\},
fmt.c writes them back), which see no pattern syntax. Patterns go through bytecode/pattern.h."""
import os
import re
import sys

ALLOWED = {"parse.c", "fmt.c"}
LITERAL = re.compile(r"'(\{|\}|\*|\$)'")


def code_only(src):
    """src without comments and string literals (char literals kept)."""
    out, i, n = [], 0, len(src)
    while i < n:
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src[i] == '"':
            i += 1
            while i < n and src[i] != '"':
                i += 2 if src[i] == "\\" else 1
            i += 1
        elif src[i] == "'":
            j = i + 1
            while j < n and src[j] != "'":
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        else:
            out.append(src[i])
            i += 1
    return "".join(out)


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    d = os.path.join(top, "compiler")
    bad = []
    for name in sorted(os.listdir(d)):
        if not name.endswith((".c", ".h")) or name in ALLOWED:
            continue
        with open(os.path.join(d, name), encoding="utf-8", errors="replace") as f:
            for ln, line in enumerate(code_only(f.read()).split("\n"), 1):
                if LITERAL.search(line):
                    bad.append("compiler/%s: %s" % (name, line.strip()[:80]))
    if bad:
        print("FAIL: layout/one-pattern-engine: compiler/ scans patterns itself (use bytecode/pattern.h): "
              + "; ".join(bad[:5]))
    else:
        print("PASS: layout/one-pattern-engine")


main()
