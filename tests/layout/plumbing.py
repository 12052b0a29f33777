#!/usr/bin/env python3
"""plumbing.py BUILD — "plumbing once", checked on the object files: the system calls that open,
read, write, rename, sync or remove files are made by base/io.c alone (its regular-file reads
that cannot block on a FIFO, its one atomic output), nowhere else in the library or the tool.
Reads every object under BUILD/obj (tests, fuzzers and benchmarks excepted) with `nm`.
Prints PASS: layout/file-io-in-base-io, or FAIL with the files and the calls they make."""
import os, subprocess, sys

HOME = "base/io.c"
FILE_CALLS = {"open", "open64", "openat", "openat64", "creat", "fopen", "fopen64", "read",
              "pread", "pread64", "write", "pwrite", "pwrite64", "rename", "renameat",
              "renameat2", "linkat", "link", "unlink", "unlinkat", "fsync", "fdatasync",
              "mkstemp", "mkstemp64", "mkostemp", "tmpfile", "ftruncate", "fchmod", "fchown"}
SKIP = ("tests", "fuzz", "bench")
# --skip-stale: ignore objects whose source is no longer in the tree (a build dir older than a move).
STALE_OK = "--skip-stale" in sys.argv
if STALE_OK: sys.argv.remove("--skip-stale")

def main():
    root = os.path.join(sys.argv[1], "obj")
    bad = []
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.relpath(os.path.join(dirpath, d), root).split(os.sep)[0] not in SKIP]
        for n in sorted(names):
            if not n.endswith(".o"): continue
            rel = os.path.relpath(os.path.join(dirpath, n), root)[:-2] + ".c"
            if rel == HOME or (STALE_OK and not os.path.exists(rel)): continue
            out = subprocess.run(["nm", "-u", "-P", os.path.join(dirpath, n)], capture_output=True,
                                 text=True, check=True).stdout
            used = sorted({l.split()[0].split("@")[0] for l in out.splitlines() if l.split()} & FILE_CALLS)
            if used: bad.append(f"{rel} ({', '.join(used)})")
    if bad: print("FAIL: layout/file-io-in-base-io: file system calls outside " + HOME + ": " + "; ".join(sorted(bad)))
    else: print("PASS: layout/file-io-in-base-io")
    return 1 if bad else 0

sys.exit(main())
