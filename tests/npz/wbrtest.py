"""wbrtest.py — shared helpers for the format suites under tests/npz, tests/gguf and
tests/sharded (each imports it by path): PASS/FAIL lines, running wbr, and the bad-input table
runner, which holds every row to tests/bad's contract: `wbr inspect FILE` exits 1 with exactly
one error "PATH: error: MESSAGE", a help line, nothing on stdout, no crash or sanitizer report."""
import os
import subprocess

WBR = os.environ.get("WBR", "wbr")
TOP = os.environ.get("TOP", ".")
failures = 0


def result(tid, ok, why=""):
    global failures
    if ok:
        print(f"PASS: {tid}")
    else:
        failures += 1
        print(f"FAIL: {tid}: {why}")
    return ok


def wbr(*args):
    return subprocess.run([WBR, *args], capture_output=True, text=True, errors="replace")


def check_ok(tid, r):
    return result(tid, r.returncode == 0, f"exit {r.returncode}: {r.stderr[-500:]}")


def check_rejects(tid, r, want):
    """r must exit 1 with `want` in stderr, exactly one error, a help line and no crash."""
    err = r.stderr
    if r.returncode >= 128 or r.returncode < 0:
        return result(tid, False, f"crashed (exit {r.returncode}): {err[-400:]}")
    if "Sanitizer" in err or "runtime error:" in err:
        return result(tid, False, f"sanitizer report: {err[-600:]}")
    if r.returncode != 1:
        return result(tid, False, f"exit {r.returncode}, wanted 1: {err[-400:]}")
    if want not in err:
        return result(tid, False, f"stderr lacks {want!r}: {err[-400:]}")
    if err.count(": error: ") != 1:
        return result(tid, False, f"{err.count(': error: ')} errors reported, wanted one: {err[-400:]}")
    if "\n  help: " not in err:
        return result(tid, False, f"no help line: {err[-400:]}")
    return result(tid, True)


def bad_rows(prefix, rows, work):
    """rows: (id, file name, contents, message[, errfile]). contents is bytes/str, or a dict of
    file name -> bytes for files beside it (shards). Each row gets its own directory work/bad/ID;
    `wbr inspect` on the file must report the message about the file (or about errfile, a file
    of the row's directory, when the error is about another file, such as a shard)."""
    seen = set()
    for rid, fname, data, msg, *rest in rows:
        assert rid not in seen, "duplicate id " + rid
        seen.add(rid)
        d = os.path.join(work, "bad", rid)
        os.makedirs(d, exist_ok=True)
        files = data if isinstance(data, dict) else {fname: data}
        for n, b in files.items():
            with open(os.path.join(d, n), "wb") as f:
                f.write(b.encode() if isinstance(b, str) else b)
        path = os.path.join(d, fname)
        about = os.path.join(d, rest[0]) if rest else path
        r = wbr("inspect", path)
        if r.stdout and r.returncode == 1:
            result(f"{prefix}/bad/{rid}", False, f"printed to stdout: {r.stdout[:200]}")
            continue
        check_rejects(f"{prefix}/bad/{rid}", r, f"{about}: error: {msg}")
